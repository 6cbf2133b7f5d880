// One attention head over query rows [i0, i1), O(T) memory:
//   s[i][j] = scale·Σ_{d<dq} Q[i][d]·Kt[d][j] + (relb ? g_i·relb[j − i + T − 1] : 0),  g_i = gate ? gate[i] : 1
//   p[i][·] = softmax(s[i][·]) (max-subtracted),  O[i][e] = Σ_j p[i][j]·V[j][e]  for e < dv (O overwritten)
//   Q  [T][dq] row stride ldq      Kt [dq][T] (keys transposed, dense)     V [T][dv] row stride ldv
//   O  [T][dv] row stride ldo      relb [2T−1] (WavLM position bias for this head, relative distance j − i)
//   gate [T] (WavLM gated position bias per query) or 0     S scratch: f32_attention_scratch_floats(T) floats
// dq = 0 gives all-zero scores (uniform average of V, plus the bias). Query rows go in blocks of BQ: the block's
// scores [BQ][T] = Q·Kt (gemm), scale + bias + row softmax (vector exp) in place, then O = P·V (gemm). Rows outside
// [i0, i1) of O are not touched.
// A strided V (a head's slice of a fused QKV buffer, rows 3C apart) is first copied to a dense [T][dv] block of the
// scratch when dv ≤ DV_DENSE: P·V walks V down its rows for every query block, and with rows kilobytes apart that
// walk misses the TLB on every row (measured: P·V at T = 1499 goes from 22 to 35 GFLOP/s; the copy costs ~1%).

import { f32_gemm } from './gemm';
import { f32_copy2d } from './copy';
import { exp4 } from './math';
import { hmax, hsum, madd, load_lanes, store_lanes } from './simd';

// @ts-ignore: decorator
@inline const BQ = 8; // query rows per block (8, 16 and 32 measured within noise of each other)
// @ts-ignore: decorator
@inline const DV_DENSE = 64; // widest value head copied to a dense block (the head size of every released model)

/** Scratch floats f32_attention needs for T keys: BQ rows of scores (rows padded to a multiple of 4), then T × 64 for a dense copy of V. */
export function f32_attention_scratch_floats(T: i32): i32 {
  return BQ * ((T + 3) & ~3) + DV_DENSE * T;
}

/** s[j] ← scale·s[j] + g·rb[j] (rb = 0: no bias), then softmax over j < T, in place. */
function softmax_row(s: usize, T: i32, scale: f32, rb: usize, g: f32): void {
  const t4 = T & ~3;
  const sv = f32x4.splat(scale), gv = f32x4.splat(g);
  let mx = f32x4.splat(-Infinity);
  let j = 0;
  for (; j < t4; j += 4) {
    const o = <usize>j << 2;
    let x = f32x4.mul(v128.load(s + o), sv);
    if (rb) x = madd(v128.load(rb + o), gv, x);
    v128.store(s + o, x);
    mx = f32x4.pmax(mx, x);
  }
  let m = hmax(mx);
  for (; j < T; j++) {
    const o = <usize>j << 2;
    let x = load<f32>(s + o) * scale;
    if (rb) x = load<f32>(rb + o) * g + x;
    store<f32>(s + o, x);
    m = max(m, x);
  }
  const mv = f32x4.splat(m), zero = f32x4.splat(0);
  let acc = zero;
  for (j = 0; j < t4; j += 4) {
    const o = <usize>j << 2;
    const e = exp4(f32x4.sub(v128.load(s + o), mv), zero);
    v128.store(s + o, e);
    acc = f32x4.add(acc, e);
  }
  if (j < T) {
    const n = T - j, o = <usize>j << 2;
    const valid = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
    const e = v128.and(exp4(f32x4.sub(load_lanes(s + o, n), mv), zero), valid);
    store_lanes(s + o, e, n);
    acc = f32x4.add(acc, e);
  }
  const inv = f32x4.splat(<f32>1.0 / hsum(acc));
  for (j = 0; j < t4; j += 4) {
    const o = <usize>j << 2;
    v128.store(s + o, f32x4.mul(v128.load(s + o), inv));
  }
  for (; j < T; j++) {
    const o = <usize>j << 2;
    store<f32>(s + o, load<f32>(s + o) * f32x4.extract_lane(inv, 0));
  }
}

export function f32_attention(i0: i32, i1: i32, T: i32, dq: i32, dv: i32, Q: usize, ldq: i32, Kt: usize,
                              V: usize, ldv: i32, O: usize, ldo: i32, scale: f32, relb: usize, gate: usize,
                              S: usize): void {
  assert(0 <= i0 && i0 <= i1 && i1 <= T, 'f32_attention: query rows outside [0, T)');
  assert(dq >= 0 && dv >= 0 && S != 0, 'f32_attention: bad head sizes or no scratch');
  if (T <= 0 || dv <= 0) return;
  if (i0 >= i1) return;
  const Tp = (T + 3) & ~3;
  if (ldv != dv && dv <= DV_DENSE) {
    const Vd = S + (<usize>(BQ * Tp) << 2);
    f32_copy2d(T, dv, V, ldv, Vd, dv);
    V = Vd;
    ldv = dv;
  }
  for (let ib = i0; ib < i1; ib += BQ) {
    const bq = min(BQ, i1 - ib);
    f32_gemm(bq, T, dq, Q + (<usize>ib * <usize>ldq << 2), ldq, Kt, T, S, Tp, 0, 0, 0);
    for (let r = 0; r < bq; r++) {
      const i = ib + r;
      const rb = relb ? relb + (<usize>(T - 1 - i) << 2) : 0;
      const g: f32 = gate ? load<f32>(gate + (<usize>i << 2)) : 1.0;
      softmax_row(S + (<usize>r * <usize>Tp << 2), T, scale, rb, g);
    }
    f32_gemm(bq, dv, T, S, Tp, V, ldv, O + (<usize>ib * <usize>ldo << 2), ldo, 0, 0, 0);
  }
}
