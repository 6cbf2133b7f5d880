// Reductions over row-major f32 matrices and vectors. Pointers are byte offsets, sizes and strides element counts.
// Column reductions are vectorised across columns (rows are contiguous over n) and run over blocks of RB rows in
// registers that are then added to the totals, which keeps the f32 rounding of long sums (T in the tens of
// thousands) small. column_sums is the one column-reduction loop: f32_colsum, f32_colsum_mul and the GroupNorm
// statistics (norm.ts, forward and backward) all go through it.

import { hsum, madd } from './simd';

// @ts-ignore: decorator
@inline const RB = 64; // rows per register-accumulated block

// column_sums modes
// @ts-ignore: decorator
@inline export const COL_SUM = 0; // a
// @ts-ignore: decorator
@inline export const COL_SQDEV = 1; // (a − mean[c])²
// @ts-ignore: decorator
@inline export const COL_MUL_DEV = 2; // a·(b − mean[c])
// @ts-ignore: decorator
@inline export const COL_MUL = 3; // a·b

/**
 * out[c] += Σ_{m0 ≤ m < m1} f(A[m][c], B[m][c]) for columns [c0, c0 + 4·NV), f by mode (see the COL_* constants);
 * NV vectors of 4 columns and mode are constants after inlining.
 */
// @ts-ignore: decorator
@inline function column_block(NV: i32, A: usize, lda4: usize, B: usize, ldb4: usize, mean: usize, out: usize,
                               m0: i32, m1: i32, c0: i32, mode: i32): void {
  const o = <usize>c0 << 2;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let u0 = f32x4.splat(0), u1 = f32x4.splat(0), u2 = f32x4.splat(0), u3 = f32x4.splat(0);
  if (mode == COL_SQDEV || mode == COL_MUL_DEV) {
    u0 = v128.load(mean + o);
    if (NV > 1) {
      u1 = v128.load(mean + o, 16);
      u2 = v128.load(mean + o, 32);
      u3 = v128.load(mean + o, 48);
    }
  }
  let pa = A + <usize>m0 * lda4 + o;
  let pb = B + <usize>m0 * ldb4 + o;
  for (let m = m0; m < m1; m++) {
    if (mode == COL_SUM) {
      a0 = f32x4.add(a0, v128.load(pa));
      if (NV > 1) {
        a1 = f32x4.add(a1, v128.load(pa, 16));
        a2 = f32x4.add(a2, v128.load(pa, 32));
        a3 = f32x4.add(a3, v128.load(pa, 48));
      }
    } else if (mode == COL_SQDEV) {
      const d0 = f32x4.sub(v128.load(pa), u0);
      a0 = madd(d0, d0, a0);
      if (NV > 1) {
        const d1 = f32x4.sub(v128.load(pa, 16), u1);
        const d2 = f32x4.sub(v128.load(pa, 32), u2);
        const d3 = f32x4.sub(v128.load(pa, 48), u3);
        a1 = madd(d1, d1, a1);
        a2 = madd(d2, d2, a2);
        a3 = madd(d3, d3, a3);
      }
    } else if (mode == COL_MUL_DEV) {
      a0 = madd(v128.load(pa), f32x4.sub(v128.load(pb), u0), a0);
      if (NV > 1) {
        a1 = madd(v128.load(pa, 16), f32x4.sub(v128.load(pb, 16), u1), a1);
        a2 = madd(v128.load(pa, 32), f32x4.sub(v128.load(pb, 32), u2), a2);
        a3 = madd(v128.load(pa, 48), f32x4.sub(v128.load(pb, 48), u3), a3);
      }
    } else {
      a0 = madd(v128.load(pa), v128.load(pb), a0);
      if (NV > 1) {
        a1 = madd(v128.load(pa, 16), v128.load(pb, 16), a1);
        a2 = madd(v128.load(pa, 32), v128.load(pb, 32), a2);
        a3 = madd(v128.load(pa, 48), v128.load(pb, 48), a3);
      }
    }
    pa += lda4;
    pb += ldb4;
  }
  v128.store(out + o, f32x4.add(v128.load(out + o), a0));
  if (NV > 1) {
    v128.store(out + o, f32x4.add(v128.load(out + o, 16), a1), 16);
    v128.store(out + o, f32x4.add(v128.load(out + o, 32), a2), 32);
    v128.store(out + o, f32x4.add(v128.load(out + o, 48), a3), 48);
  }
}

/**
 * out[c] += Σ_m f(A[m][c], B[m][c]) for every column c < N of A [M][N] (row stride lda; B likewise, ldb), f by mode:
 * COL_SUM a, COL_SQDEV (a − mean[c])², COL_MUL_DEV a·(b − mean[c]), COL_MUL a·b (B and mean unused where f has
 * none). Blocks of RB rows in registers, then added to out.
 */
export function column_sums(M: i32, N: i32, A: usize, lda: i32, B: usize, ldb: i32, mean: usize, out: usize, mode: i32): void {
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2;
  for (let m0 = 0; m0 < M; m0 += RB) {
    const m1 = min(M, m0 + RB);
    let c = 0;
    if (mode == COL_SUM) {
      for (; c + 16 <= N; c += 16) column_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_SUM);
      for (; c + 4 <= N; c += 4) column_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_SUM);
    } else if (mode == COL_SQDEV) {
      for (; c + 16 <= N; c += 16) column_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_SQDEV);
      for (; c + 4 <= N; c += 4) column_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_SQDEV);
    } else if (mode == COL_MUL_DEV) {
      for (; c + 16 <= N; c += 16) column_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_MUL_DEV);
      for (; c + 4 <= N; c += 4) column_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_MUL_DEV);
    } else {
      for (; c + 16 <= N; c += 16) column_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_MUL);
      for (; c + 4 <= N; c += 4) column_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, COL_MUL);
    }
    for (; c < N; c++) {
      const o = <usize>c << 2;
      const u: f32 = mode == COL_SQDEV || mode == COL_MUL_DEV ? load<f32>(mean + o) : 0;
      let s: f32 = 0;
      for (let m = m0; m < m1; m++) {
        const a = load<f32>(A + <usize>m * lda4 + o);
        if (mode == COL_SUM) s += a;
        else if (mode == COL_SQDEV) s += (a - u) * (a - u);
        else if (mode == COL_MUL_DEV) s += a * (load<f32>(B + <usize>m * ldb4 + o) - u);
        else s += a * load<f32>(B + <usize>m * ldb4 + o);
      }
      store<f32>(out + o, load<f32>(out + o) + s);
    }
  }
}

/**
 * out[n] (+)= Σ_m A[m][n] over M rows of A (row stride lda); accumulate = 0 overwrites out.
 */
export function f32_colsum(M: i32, N: i32, A: usize, lda: i32, out: usize, accumulate: i32): void {
  if (N <= 0) return;
  if (!accumulate) for (let c = 0; c < N; c++) store<f32>(out + (<usize>c << 2), 0);
  column_sums(M, N, A, lda, 0, 0, 0, out, COL_SUM);
}

/**
 * out[n] (+)= Σ_m A[m][n]·B[m][n]; accumulate = 0 overwrites out.
 */
export function f32_colsum_mul(M: i32, N: i32, A: usize, lda: i32, B: usize, ldb: i32, out: usize, accumulate: i32): void {
  if (N <= 0) return;
  if (!accumulate) for (let c = 0; c < N; c++) store<f32>(out + (<usize>c << 2), 0);
  column_sums(M, N, A, lda, B, ldb, 0, out, COL_MUL);
}

/**
 * Σ X·Y over n floats (returned): four lanes over blocks of 256 added to the total, so long sums round little.
 */
export function f32_dot(n: i32, X: usize, Y: usize): f32 {
  let total: f32 = 0;
  for (let b = 0; b < n; b += 256) {
    const e = min(n, b + 256);
    let acc = f32x4.splat(0);
    let i = b;
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      acc = madd(v128.load(X + o), v128.load(Y + o), acc);
    }
    let s = hsum(acc);
    for (; i < e; i++) s += load<f32>(X + (<usize>i << 2)) * load<f32>(Y + (<usize>i << 2));
    total += s;
  }
  return total;
}
