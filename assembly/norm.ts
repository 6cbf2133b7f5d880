// Normalisations (PyTorch semantics: two passes — mean, then the biased variance of the deviations — so large
// means do not cancel away the variance; y = (x − mean)/√(var + eps)·gamma + beta).
//   f32_layernorm:      X [M][N] row stride ldx → Y [M][N] row stride ldy (Y may equal X); each row over its N
//                       values; gamma, beta [N] (0 = ones / zeros).
//   f32_groupnorm_time: X [T][C] row stride C, in place; each channel c over its T frames — GroupNorm with
//                       num_groups = num_channels applied to the [C][T] layout of the conv front end;
//                       gamma, beta [C] (0 = ones / zeros); scratch [2][C] floats (per-channel mean, then 1/std).
//                       Vectorised across channels (rows are contiguous over c); the per-channel sums are
//                       reduce.ts column_sums (blocks of 64 frames in registers, then added to the totals).
// Their backwards (the pruner's, src/prune/ops.ts) follow each forward and recompute the statistics the same way.

import { madd, hsum } from './simd';
import { column_sums, COL_SUM, COL_SQDEV, COL_MUL_DEV } from './reduce';

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

/** Row-wise LayerNorm of X [M][N] into Y (see the header); Y may equal X, gamma/beta 0 = ones/zeros. */
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

/**
 * Backward of f32_layernorm over rows of X [M][N] (row stride ldx), mean and 1/std recomputed as the forward does:
 * dX (+)= … (row stride lddx; accumulate = 0 overwrites; dX 0 = skip), dgamma/dbeta += … (0 = skip); gamma 0 = ones.
 */
export function f32_layernorm_backward(M: i32, N: i32, X: usize, ldx: i32, dY: usize, ldy: i32, gamma: usize,
                                       dX: usize, lddx: i32, dgamma: usize, dbeta: usize, eps: f32,
                                       accumulate: i32): void {
  if (N <= 0) return;
  const n4 = N & ~3;
  const invN: f32 = 1.0 / <f32>N;
  const one = f32x4.splat(1.0);
  for (let m = 0; m < M; m++) {
    const x = X + (<usize>m * <usize>ldx << 2);
    const dy = dY + (<usize>m * <usize>ldy << 2);
    const st = row_stats(x, N, eps);
    const mean = f32x4.extract_lane(st, 0), rstd = f32x4.extract_lane(st, 1);
    const mv = f32x4.splat(mean), rv = f32x4.splat(rstd);
    // a = Σ dy·γ, b = Σ dy·γ·x̂; parameter gradients on the way
    let a4 = f32x4.splat(0), b4 = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      const d = v128.load(dy + o);
      const g = f32x4.mul(d, gamma ? v128.load(gamma + o) : one);
      a4 = f32x4.add(a4, g);
      b4 = madd(g, xh, b4);
      if (dgamma) v128.store(dgamma + o, madd(d, xh, v128.load(dgamma + o)));
      if (dbeta) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), d));
    }
    let a = hsum(a4), b = hsum(b4);
    for (; j < N; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(x + o) - mean) * rstd;
      const d = load<f32>(dy + o);
      const g = d * (gamma ? load<f32>(gamma + o) : <f32>1.0);
      a += g;
      b += g * xh;
      if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + d * xh);
      if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + d);
    }
    if (!dX) continue;
    a *= invN;
    b *= invN;
    const av = f32x4.splat(a), bv = f32x4.splat(b);
    const dx = dX + (<usize>m * <usize>lddx << 2);
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      const g = f32x4.mul(v128.load(dy + o), gamma ? v128.load(gamma + o) : one);
      let r = f32x4.mul(rv, f32x4.sub(f32x4.sub(g, av), f32x4.mul(xh, bv)));
      if (accumulate) r = f32x4.add(r, v128.load(dx + o));
      v128.store(dx + o, r);
    }
    for (; j < N; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(x + o) - mean) * rstd;
      const g = load<f32>(dy + o) * (gamma ? load<f32>(gamma + o) : <f32>1.0);
      let r = rstd * (g - a - xh * b);
      if (accumulate) r += load<f32>(dx + o);
      store<f32>(dx + o, r);
    }
  }
}

// --- group norm over time ---------------------------------------------------------------------------------------

/** X [T][C] in place, each channel normalised over its T frames (see the header); scratch holds 2·C floats. */
export function f32_groupnorm_time(T: i32, C: i32, X: usize, gamma: usize, beta: usize, eps: f32, scratch: usize): void {
  assert(scratch != 0, 'f32_groupnorm_time: no scratch');
  if (T <= 0 || C <= 0) return;
  const mean = scratch, rstd = scratch + (<usize>C << 2);
  const invT: f32 = 1.0 / <f32>T;
  for (let c = 0; c < C; c++) {
    store<f32>(mean + (<usize>c << 2), 0);
    store<f32>(rstd + (<usize>c << 2), 0);
  }
  column_sums(T, C, X, C, 0, 0, 0, mean, COL_SUM);
  for (let c = 0; c < C; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) * invT);
  column_sums(T, C, X, C, 0, 0, mean, rstd, COL_SQDEV);
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

/**
 * Backward of f32_groupnorm_time (X [T][C], each channel over T): dX written (may equal dY), dgamma/dbeta += …
 * (0 = skip), gamma 0 = ones; scratch holds 4·C floats.
 */
export function f32_groupnorm_time_backward(T: i32, C: i32, X: usize, dY: usize, gamma: usize, dX: usize,
                                            dgamma: usize, dbeta: usize, eps: f32, scratch: usize): void {
  assert(scratch != 0, 'f32_groupnorm_time_backward: no scratch');
  if (T <= 0 || C <= 0) return;
  const C4 = <usize>C << 2;
  const mean = scratch, rstd = scratch + C4, sdy = scratch + 2 * C4, sdx = scratch + 3 * C4;
  const invT: f32 = 1.0 / <f32>T;
  for (let c = 0; c < 4 * C; c++) store<f32>(scratch + (<usize>c << 2), 0);
  // mean, then variance of the deviations (the forward's order), over blocks of RB frames
  column_sums(T, C, X, C, 0, 0, 0, mean, COL_SUM);
  for (let c = 0; c < C; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) * invT);
  column_sums(T, C, X, C, 0, 0, mean, rstd, COL_SQDEV);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(rstd + o, <f32>1.0 / Mathf.sqrt(load<f32>(rstd + o) * invT + eps));
  }
  // Σ dy and Σ dy·x̂ per channel
  column_sums(T, C, dY, C, 0, 0, 0, sdy, COL_SUM);
  column_sums(T, C, dY, C, X, C, mean, sdx, COL_MUL_DEV);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    const s = load<f32>(sdx + o) * load<f32>(rstd + o); // Σ dy·(x − mean) → Σ dy·x̂
    store<f32>(sdx + o, s);
    if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + s);
    if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + load<f32>(sdy + o));
  }
  // dx = γ·rstd·(dy − Σdy/T − x̂·Σ(dy·x̂)/T)
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(sdy + o, load<f32>(sdy + o) * invT);
    store<f32>(sdx + o, load<f32>(sdx + o) * invT);
  }
  for (let t = 0; t < T; t++) {
    const x = X + <usize>t * C4, dy = dY + <usize>t * C4, dx = dX + <usize>t * C4;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const r = v128.load(rstd + o);
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), v128.load(mean + o)), r);
      const inner = f32x4.sub(f32x4.sub(v128.load(dy + o), v128.load(sdy + o)), f32x4.mul(xh, v128.load(sdx + o)));
      const sc = gamma ? f32x4.mul(r, v128.load(gamma + o)) : r;
      v128.store(dx + o, f32x4.mul(sc, inner));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const r = load<f32>(rstd + o);
      const xh = (load<f32>(x + o) - load<f32>(mean + o)) * r;
      const inner = load<f32>(dy + o) - load<f32>(sdy + o) - xh * load<f32>(sdx + o);
      store<f32>(dx + o, (gamma ? r * load<f32>(gamma + o) : r) * inner);
    }
  }
}
