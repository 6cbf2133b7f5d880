// Normalisations (PyTorch semantics: two passes — mean, then the biased variance of the deviations — so large
// means do not cancel away the variance; y = (x − mean)/√(var + eps)·gamma + beta).
//   f32_layernorm:      X [M][N] row stride ldx → Y [M][N] row stride ldy (Y may equal X); each row over its N
//                       values; gamma, beta [N] (0 = ones / zeros).
//   f32_groupnorm_time: X [T][C] row stride C, in place; each channel c over its T frames — GroupNorm with
//                       num_groups = num_channels applied to the [C][T] layout of the conv front end;
//                       gamma, beta [C] (0 = ones / zeros); scratch [2][C] floats (per-channel mean, then 1/std).
//                       Vectorised across channels (rows are contiguous over c). Column sums are taken over blocks
//                       of 64 frames in registers and then added to the scratch totals, which keeps the f32 rounding
//                       of long sums (T in the tens of thousands) small.

import { madd, hsum } from './simd';

/** Mean and 1/√(var + eps) of one row of N values (two passes, as f32_layernorm), as lanes 0 and 1. */
// @ts-ignore: decorator
@inline export function row_stats(x: usize, N: i32, eps: f32): v128 {
  const n8 = N & ~7, n4 = N & ~3;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let i = 0;
  for (; i < n8; i += 8) {
    s0 = f32x4.add(s0, v128.load(x + (<usize>i << 2)));
    s1 = f32x4.add(s1, v128.load(x + (<usize>i << 2), 16));
  }
  for (; i < n4; i += 4) s0 = f32x4.add(s0, v128.load(x + (<usize>i << 2)));
  let sum = hsum(f32x4.add(s0, s1));
  for (; i < N; i++) sum += load<f32>(x + (<usize>i << 2));
  const invN: f32 = 1.0 / <f32>N;
  const mean = sum * invN;
  const mv = f32x4.splat(mean);
  s0 = f32x4.splat(0);
  s1 = f32x4.splat(0);
  for (i = 0; i < n8; i += 8) {
    const d0 = f32x4.sub(v128.load(x + (<usize>i << 2)), mv);
    const d1 = f32x4.sub(v128.load(x + (<usize>i << 2), 16), mv);
    s0 = madd(d0, d0, s0);
    s1 = madd(d1, d1, s1);
  }
  for (; i < n4; i += 4) {
    const d0 = f32x4.sub(v128.load(x + (<usize>i << 2)), mv);
    s0 = madd(d0, d0, s0);
  }
  let ss = hsum(f32x4.add(s0, s1));
  for (; i < N; i++) {
    const d = load<f32>(x + (<usize>i << 2)) - mean;
    ss += d * d;
  }
  const rstd: f32 = 1.0 / Mathf.sqrt(ss * invN + eps);
  return f32x4(mean, rstd, 0, 0);
}

// --- layer norm -------------------------------------------------------------------------------------------------

export function f32_layernorm(M: i32, N: i32, X: usize, ldx: i32, Y: usize, ldy: i32, gamma: usize, beta: usize, eps: f32): void {
  assert(M <= 1 || (ldx >= N && ldy >= N), 'f32_layernorm: row stride < N');
  if (N <= 0) return;
  const n4 = N & ~3;
  for (let m = 0; m < M; m++) {
    const x = X + (<usize>m * <usize>ldx << 2);
    const y = Y + (<usize>m * <usize>ldy << 2);
    const st = row_stats(x, N, eps);
    let i = 0;
    const mean = f32x4.extract_lane(st, 0), rstd = f32x4.extract_lane(st, 1);
    const mv = f32x4.splat(mean);
    const rv = f32x4.splat(rstd);
    // y = (x − mean)·rstd·gamma + beta
    if (gamma && beta) {
      for (i = 0; i < n4; i += 4) {
        const o = <usize>i << 2;
        const d = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
        v128.store(y + o, madd(d, v128.load(gamma + o), v128.load(beta + o)));
      }
      for (; i < N; i++) {
        const o = <usize>i << 2;
        store<f32>(y + o, (load<f32>(x + o) - mean) * rstd * load<f32>(gamma + o) + load<f32>(beta + o));
      }
    } else {
      for (i = 0; i < N; i++) {
        const o = <usize>i << 2;
        let v = (load<f32>(x + o) - mean) * rstd;
        if (gamma) v *= load<f32>(gamma + o);
        if (beta) v += load<f32>(beta + o);
        store<f32>(y + o, v);
      }
    }
  }
}

// --- group norm over time ---------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline const TB = 64; // frames per register-accumulated block

/**
 * out[c] += Σ_{t0 ≤ t < t1} f(X[t][c]) for channels [c0, c0+4·NV), f = identity (mean == 0) or the squared
 * deviation from mean[c] (center). NV vectors of 4 channels (constant after inlining).
 */
// @ts-ignore: decorator
@inline function colsum(NV: i32, X: usize, C4: usize, t0: i32, t1: i32, c0: i32, mean: usize, out: usize, center: bool): void {
  const o = <usize>c0 << 2;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let m0 = f32x4.splat(0), m1 = f32x4.splat(0), m2 = f32x4.splat(0), m3 = f32x4.splat(0);
  if (center) {
    m0 = v128.load(mean + o);
    if (NV > 1) {
      m1 = v128.load(mean + o, 16);
      m2 = v128.load(mean + o, 32);
      m3 = v128.load(mean + o, 48);
    }
  }
  let p = X + <usize>t0 * C4 + o;
  for (let t = t0; t < t1; t++) {
    if (center) {
      const d0 = f32x4.sub(v128.load(p), m0);
      a0 = madd(d0, d0, a0);
      if (NV > 1) {
        const d1 = f32x4.sub(v128.load(p, 16), m1);
        const d2 = f32x4.sub(v128.load(p, 32), m2);
        const d3 = f32x4.sub(v128.load(p, 48), m3);
        a1 = madd(d1, d1, a1);
        a2 = madd(d2, d2, a2);
        a3 = madd(d3, d3, a3);
      }
    } else {
      a0 = f32x4.add(a0, v128.load(p));
      if (NV > 1) {
        a1 = f32x4.add(a1, v128.load(p, 16));
        a2 = f32x4.add(a2, v128.load(p, 32));
        a3 = f32x4.add(a3, v128.load(p, 48));
      }
    }
    p += C4;
  }
  v128.store(out + o, f32x4.add(v128.load(out + o), a0));
  if (NV > 1) {
    v128.store(out + o, f32x4.add(v128.load(out + o, 16), a1), 16);
    v128.store(out + o, f32x4.add(v128.load(out + o, 32), a2), 32);
    v128.store(out + o, f32x4.add(v128.load(out + o, 48), a3), 48);
  }
}

/** out[c] += Σ_t f(X[t][c]) over all T frames for every channel c < C (see colsum). */
function column_sums(T: i32, C: i32, X: usize, mean: usize, out: usize, center: bool): void {
  const C4 = <usize>C << 2;
  for (let t0 = 0; t0 < T; t0 += TB) {
    const t1 = min(T, t0 + TB);
    let c = 0;
    for (; c + 16 <= C; c += 16) colsum(4, X, C4, t0, t1, c, mean, out, center);
    for (; c + 4 <= C; c += 4) colsum(1, X, C4, t0, t1, c, mean, out, center);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const mc: f32 = center ? load<f32>(mean + o) : 0;
      let a: f32 = 0;
      for (let t = t0; t < t1; t++) {
        const v = load<f32>(X + <usize>t * C4 + o);
        if (center) {
          const d = v - mc;
          a += d * d;
        } else {
          a += v;
        }
      }
      store<f32>(out + o, load<f32>(out + o) + a);
    }
  }
}

export function f32_groupnorm_time(T: i32, C: i32, X: usize, gamma: usize, beta: usize, eps: f32, scratch: usize): void {
  assert(scratch != 0, 'f32_groupnorm_time: no scratch');
  if (T <= 0 || C <= 0) return;
  const mean = scratch, rstd = scratch + (<usize>C << 2);
  const invT: f32 = 1.0 / <f32>T;
  for (let c = 0; c < C; c++) {
    store<f32>(mean + (<usize>c << 2), 0);
    store<f32>(rstd + (<usize>c << 2), 0);
  }
  column_sums(T, C, X, 0, mean, false);
  for (let c = 0; c < C; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) * invT);
  column_sums(T, C, X, mean, rstd, true);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    let s: f32 = 1.0 / Mathf.sqrt(load<f32>(rstd + o) * invT + eps);
    if (gamma) s *= load<f32>(gamma + o);
    store<f32>(rstd + o, s); // from here on: gamma/std
  }
  const C4 = <usize>C << 2;
  for (let t = 0; t < T; t++) {
    const x = X + <usize>t * C4;
    let c = 0;
    if (beta) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const d = f32x4.sub(v128.load(x + o), v128.load(mean + o));
        v128.store(x + o, madd(d, v128.load(rstd + o), v128.load(beta + o)));
      }
    } else {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        v128.store(x + o, f32x4.mul(f32x4.sub(v128.load(x + o), v128.load(mean + o)), v128.load(rstd + o)));
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      let v = (load<f32>(x + o) - load<f32>(mean + o)) * load<f32>(rstd + o);
      if (beta) v += load<f32>(beta + o);
      store<f32>(x + o, v);
    }
  }
}
