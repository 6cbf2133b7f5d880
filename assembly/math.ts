// Vector transcendental functions on f32x4: exp, the Gaussian tail Q(x) = ½·erfc(x/√2), erf and exact GELU.
// No pointers here; the elementwise kernels that apply them over arrays live in act.ts.
//
// exp(a) for a = hi + lo (lo ≪ hi, used to pass a product in two parts without rounding):
//   n = round(a/ln2) with the 1.5·2^23 rounding constant, r = a − n·ln2 by a two-constant (Cody–Waite) split,
//   exp(r) = 1 + r + r²·P(r) on |r| ≤ ln2/2 with P a degree-4 fit of our own (weighted Lawson iteration, relative
//   error 3e-9), then ·2^n as two power-of-two factors 2^(n>>1)·2^(n−(n>>1)), so results that underflow into the
//   subnormal range round once and overflow gives +Inf. Inputs are clamped to [−104, 89] first (−inf → 0).
//   Measured (f32 simulation and tests): ≤ 0.96 ulp, relative error < 8e-8 over the normal range.
//
// Q(x) = ½·erfc(x/√2) for x ≥ 0, the upper tail of the standard normal, with small relative error:
//   x < 1:  Q = ½ − x·R(x²)                         R: degree 5 fit of erf(x/√2)/(2x), relative error 7e-10
//   x ≥ 1:  Q = e^(−x²/2) · t·S(t),  t = 1/(1+0.3x)  S: degree 9 fit of Q·e^(x²/2)/t on x ∈ [0, 14.2], rel. 3e-9
//   x²/2 is passed to exp as hi + lo with x split into a 12-bit head (whose square is exact) and a tail, so the
//   exponent argument is not rounded away at large x. x is clamped to 14.2, where Q has underflowed to 0.
// GELU(x) = x·Φ(x) with Φ(x) = Q(−x) = Q(|x|) for x < 0 and 1 − Q(|x|) for x ≥ 0: no 1 + erf cancellation for
//   negative x, so the result keeps its relative accuracy far into the left tail (max error ≈ 0.35·(2e-7 + 2e-7·|y|)).
//   GELU uses the second form of Q everywhere, cut to 0 beyond |x| = 13 (see gelu4).
// erf(z) = sign(z)·(1 − 2·Q(|z|·√2)): absolute error ≤ 1.4e-7.

import { madd } from './simd';

// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.4426950408889634;
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375; // 355/512: n·LN2_HI is exact for |n| < 2^15
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.1219444005469058e-4; // ln2 − LN2_HI
// @ts-ignore: decorator
@inline const ROUND_MAGIC: f32 = 12582912.0; // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits

/**
 * e^(hi+lo) lane-wise; |lo| must be tiny relative to ln2. FULL: clamp to [−104, 89] and scale in two factors
 * (subnormal results, +Inf, −inf → 0). !FULL: the caller guarantees hi + lo in [−87, 0] (normal results only).
 */
// @ts-ignore: decorator
@inline function exp_impl(hi: v128, lo: v128, FULL: bool): v128 {
  const a = FULL ? f32x4.pmin(f32x4.pmax(hi, f32x4.splat(-104.0)), f32x4.splat(89.0)) : hi;
  const magic = f32x4.splat(ROUND_MAGIC);
  const t = f32x4.add(f32x4.mul(a, f32x4.splat(LOG2E)), magic);
  const n = f32x4.sub(t, magic);
  const ni = i32x4.sub(t, magic); // integer n: bit patterns of t and magic differ by n
  let r = f32x4.sub(a, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  r = f32x4.add(r, lo);
  let p = f32x4.splat(0.0013814613);
  p = madd(p, r, f32x4.splat(0.00836871));
  p = madd(p, r, f32x4.splat(0.04166839));
  p = madd(p, r, f32x4.splat(0.16666521));
  p = madd(p, r, f32x4.splat(0.49999994));
  const y = f32x4.add(f32x4.splat(1.0), madd(f32x4.mul(r, r), p, r));
  const bias = i32x4.splat(127);
  if (!FULL) return f32x4.mul(y, i32x4.shl(i32x4.add(ni, bias), 23));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/** e^(hi+lo) lane-wise over the whole f32 range; |lo| ≪ ln2 (pass f32x4.splat(0) for plain exp). */
// @ts-ignore: decorator
@inline export function exp4(hi: v128, lo: v128): v128 {
  return exp_impl(hi, lo, true);
}

/**
 * e^x lane-wise for x ≤ 0 (−inf included), the softmax weight: x is clamped to −87 first, so weights below
 * e^−87 ≈ 1.6e-38 come out as that tiny value instead of smaller ones (negligible next to the row maximum's weight
 * of 1). Same reduction and polynomial as exp4, with the multiply-adds through madd (fused in the relaxed builds)
 * and a one-factor scale: about two thirds of exp4's operations.
 */
// @ts-ignore: decorator
@inline export function exp4_neg(x: v128): v128 {
  const a = f32x4.pmax(x, f32x4.splat(-87.0));
  const magic = f32x4.splat(ROUND_MAGIC);
  const t = madd(a, f32x4.splat(LOG2E), magic);
  const n = f32x4.sub(t, magic);
  const ni = i32x4.sub(t, magic);
  let r = madd(n, f32x4.splat(-LN2_HI), a);
  r = madd(n, f32x4.splat(-LN2_LO), r);
  let p = f32x4.splat(0.0013814613);
  p = madd(p, r, f32x4.splat(0.00836871));
  p = madd(p, r, f32x4.splat(0.04166839));
  p = madd(p, r, f32x4.splat(0.16666521));
  p = madd(p, r, f32x4.splat(0.49999994));
  const y = f32x4.add(f32x4.splat(1.0), madd(f32x4.mul(r, r), p, r));
  return f32x4.mul(y, i32x4.shl(i32x4.add(ni, i32x4.splat(127)), 23));
}

/**
 * e^(−x²/2)·t·S(t), t = 1/(1+0.3x), for x ≥ 0 clamped to XMAX: the x ≥ 1 form of Q(x). The exponent goes to exp as
 * hi + lo with x split into a 12-bit head (whose square is exact) and a tail. FULL: see exp_impl.
 */
// @ts-ignore: decorator
@inline function tail_big(x: v128, XMAX: f32, FULL: bool): v128 {
  const xc = f32x4.pmin(x, f32x4.splat(XMAX));
  const t = f32x4.div(f32x4.splat(1.0), madd(xc, f32x4.splat(0.3), f32x4.splat(1.0)));
  let s = f32x4.splat(-0.020617852);
  s = madd(s, t, f32x4.splat(0.11240403));
  s = madd(s, t, f32x4.splat(-0.22813652));
  s = madd(s, t, f32x4.splat(0.19167756));
  s = madd(s, t, f32x4.splat(-0.07933062));
  s = madd(s, t, f32x4.splat(0.09610466));
  s = madd(s, t, f32x4.splat(0.07840858));
  s = madd(s, t, f32x4.splat(0.11023116));
  s = madd(s, t, f32x4.splat(0.11957236));
  s = madd(s, t, f32x4.splat(0.11968666));
  const xh = v128.and(xc, i32x4.splat(-4096)); // 12 significant bits: xh² is exact
  const xl = f32x4.sub(xc, xh);
  const half = f32x4.splat(-0.5);
  const hi = f32x4.mul(f32x4.mul(xh, xh), half);
  const lo = f32x4.mul(f32x4.mul(xl, f32x4.add(xc, xh)), half);
  return f32x4.mul(f32x4.mul(exp_impl(hi, lo, FULL), t), s);
}

/** Q(x) = ½·erfc(x/√2) for x ≥ 0 lane-wise (see header). */
// @ts-ignore: decorator
@inline export function normal_tail4(x: v128): v128 {
  // x < 1: ½ − x·R(x²)
  const u = f32x4.mul(x, x);
  let r = f32x4.splat(-7.654209e-6);
  r = madd(r, u, f32x4.splat(0.00011348637));
  r = madd(r, u, f32x4.splat(-0.00118633));
  r = madd(r, u, f32x4.splat(0.009973323));
  r = madd(r, u, f32x4.splat(-0.06649036));
  r = madd(r, u, f32x4.splat(0.3989423));
  const small = f32x4.sub(f32x4.splat(0.5), f32x4.mul(x, r));
  // x ≥ 1: e^(−x²/2)·t·S(t)
  const big = tail_big(x, 14.2, true);
  return v128.bitselect(small, big, f32x4.lt(x, f32x4.splat(1.0)));
}

/**
 * Exact GELU x·Φ(x) lane-wise. Uses the t·S(t) form of Q at every |x| (its error near 0 is ~1e-7 absolute, which
 * x·Φ(x) scales down) and cuts Q to 0 beyond |x| = 13 (Q(13) = 6e-39), so exp stays in the normal range: about a
 * quarter fewer operations than Q(x) above, same accuracy for GELU.
 */
// @ts-ignore: decorator
@inline export function gelu4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const q = v128.and(tail_big(ax, 13.0, false), f32x4.le(ax, f32x4.splat(13.0)));
  const phi = v128.bitselect(q, f32x4.sub(f32x4.splat(1.0), q), f32x4.lt(x, f32x4.splat(0.0)));
  return f32x4.mul(x, phi);
}

/** erf lane-wise. */
// @ts-ignore: decorator
@inline export function erf4(z: v128): v128 {
  const q = normal_tail4(f32x4.mul(f32x4.abs(z), f32x4.splat(1.4142135623730951)));
  const e = f32x4.sub(f32x4.splat(1.0), f32x4.add(q, q));
  return v128.or(e, v128.and(z, i32x4.splat(<i32>0x80000000)));
}
