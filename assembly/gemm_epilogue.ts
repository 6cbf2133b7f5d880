// GEMM tile epilogues: a finished accumulator vector of C gets + bias, the activation, + old C (accumulate), and is
// stored, only over the valid columns of the row. Shared by every register tile (assembly/gen/f32_gemm_*.ts).
//   c:    &C[m][n0] (byte offset)        x, x0, x1: the row's accumulators for columns n0..n0+3 (x1: n0+4..n0+7)
//   bias: &bias[n0] or 0 (none)          flags: bit 1 = GELU, bit 2 = accumulate into C
// GELU per vector here is only for accumulating calls: without accumulate the GEMMs run it as a pass over each
// finished panel instead (gelu_cols in gemm.ts), which sets up the vector erf's constants once per panel.

import { load_lanes, store_lanes } from './simd';
import { gelu4 } from './math';

/** GELU of one vector, kept out of line so the epilogues of a tile share one copy. */
function gelu_v(x: v128): v128 {
  return gelu4(x);
}

/** Finish n (1..4) columns of one row: + bias, activation, + old C, store. Out of line: one copy for all tails. */
function finish_n(c: usize, x: v128, bias: usize, n: i32, flags: i32): void {
  if (n <= 0) return;
  if (bias) x = f32x4.add(x, load_lanes(bias, n));
  if (flags & 1) x = gelu_v(x);
  if (flags & 2) x = f32x4.add(load_lanes(c, n), x);
  store_lanes(c, x, n);
}

/** Finish n (0..4; 0 does nothing) columns of one row. */
// @ts-ignore: decorator
@inline export function finish(c: usize, x: v128, bias: usize, n: i32, flags: i32): void {
  finish_n(c, x, bias, n, flags);
}

/** Finish all 4 columns of one row. */
// @ts-ignore: decorator
@inline export function finish4(c: usize, x: v128, bias: usize, flags: i32): void {
  finish(c, x, bias, 4, flags);
}

/** Finish 8 columns (nv valid, 1..8) of one row; full rows stay inline. */
// @ts-ignore: decorator
@inline export function finish8(c: usize, x0: v128, x1: v128, bias: usize, nv: i32, flags: i32): void {
  if (nv == 8) {
    if (bias) {
      x0 = f32x4.add(x0, v128.load(bias));
      x1 = f32x4.add(x1, v128.load(bias, 16));
    }
    if (flags & 1) {
      x0 = gelu_v(x0);
      x1 = gelu_v(x1);
    }
    if (flags & 2) {
      x0 = f32x4.add(v128.load(c), x0);
      x1 = f32x4.add(v128.load(c, 16), x1);
    }
    v128.store(c, x0);
    v128.store(c, x1, 16);
  } else {
    finish(c, x0, bias, min(nv, 4), flags);
    finish(c + 16, x1, bias ? bias + 16 : 0, nv - 4, flags);
  }
}
