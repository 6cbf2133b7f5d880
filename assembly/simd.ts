// Lane helpers shared by every kernel: the multiply-add of all hot loops, horizontal reductions, and partial
// (1..3 lane) loads/stores for row tails that must not touch memory past the end of a row.
// All pointers are byte offsets into linear memory; v128 loads/stores are unaligned-safe in wasm.

/**
 * a·b + c, lane-wise: the one multiply-add every inner loop uses. Built with `--enable relaxed-simd` (the relaxed
 * builds) it is f32x4.relaxed_madd, which the engine lowers to a fused multiply-add where the CPU has one (one
 * rounding instead of two: results differ from the plain build in the last bits); otherwise mul then add.
 * ASC_FEATURE_RELAXED_SIMD is a compile-time constant, so each build contains only one of the two forms.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** c − a·b, lane-wise: the negated twin of madd (f32x4.relaxed_nmadd in the relaxed builds). */
// @ts-ignore: decorator
@inline export function nmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}

/** Sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Largest of the four lanes (inputs never NaN). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const s = f32x4.pmax(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max<f32>(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}

/** Lanes 0..n-1 from p (n in 0..4), the rest 0. Reads only n floats. */
// @ts-ignore: decorator
@inline export function load_lanes(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store lanes 0..n-1 of v to p (n in 0..4). Writes only n floats. */
// @ts-ignore: decorator
@inline export function store_lanes(p: usize, v: v128, n: i32): void {
  if (n >= 4) { v128.store(p, v); return; }
  if (n > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}
