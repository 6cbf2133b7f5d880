// int8 GEMM ("q8"): C[m, n] (+)= act(f32(Σ_k qa[m][k]·qw[n][k])·(sa[m]·sw[n]) + bias[n]), the integer form of
// f32_gemm_packed (same bias / act / accumulate semantics, so the engine can swap one call for the other).
//   Weights: int8, symmetric, one scale per output channel (src/arch/quant.ts); packed once at load by the host into
//            panels of 8 columns × k pairs: panel p, pair kp, column j → bytes Bq + p·16·KP + 16·kp + 2·j + {0, 1}
//            = W[8p + j][2kp], W[8p + j][2kp + 1] (zero past N and past K); sw: one f32 scale per column, padded to
//            a multiple of 8. KP = ceil(K/2) (K is padded to even with zeros).
//   Activations: quantized per row on the fly by q8_quantize_a, symmetric, no zero point, into i16 with L levels:
//              L = min(2047, floor((2³¹ − 1) / (127 · Kp))),   Kp = K rounded up to even
//            sa[m] = max_k |A[m][k]| / L (f32), qa[m][k] = nearest-even(A[m][k] · (L / max|A[m]|)) clamped to ±L;
//            a zero row gets sa = 1 and qa = 0. The rule makes overflow impossible: |Σ_k qa·qw| ≤ Kp·L·127 ≤ 2³¹ − 1
//            (each i32x4.dot_i16x8_s pair sum is at most 2·2047·127), so the i32 accumulators are exact integers. At
//            K ≤ 8260 this is 2047 levels (12 bits, finer than the 8-bit activations of onnxruntime's dynamic
//            quantization at the same speed, since the i16 dot is used anyway); above, L shrinks (K = 10000: 1690).
//            qa is written straight into the tiles' layout: row tiles of MR rows, tile t at Aq + 32·KP·t, row r's
//            pair (k, k+1) at + 32·kp + 4·r (lanes of missing rows in the last tile are never read). A's rows are
//            read with a stride lda (lda < K: the implicit im2col of a strided conv, as in f32_gemm_packed), so a
//            conv layer is one q8 GEMM (the q8 path has no Winograd form).
//   Epilogue: f32(acc) (round to nearest) × f32(sa[m]·sw[n]), then gemm_epilogue.ts finish8: + bias, GELU, + old C.
//            Every step is one correctly rounded f32 operation, so a plain-TS reference reproduces it bit for bit
//            (GELU aside: the vector erf of math.ts).
// Kernel choice, measured on this machine per core: i32x4.dot_i16x8_s (plain SIMD128) 68 G MAC/s against 42 for
// i32x4.relaxed_dot_i8x16_i7x16_add_s and 29 for f32x4 FMA, so both builds (plain and relaxed) run the i16 dot: the
// same instructions, hence identical results. Weights stay int8 in memory (¼ of f32); q8_gemm widens each 8-column
// panel to i16 once per block of row tiles into this instance's workspace (workspace.ts; 32·KP bytes, 48 KB at
// K = 3072) and every row tile of the block reads the i16 pairs with two 16-byte loads per k pair and no widening.
// Measured in a standalone copy of the tiles, 480×768×3072 and 480×3072×768, interleaved, one core of a loaded
// machine: 4×8 over int8 panels (one load + i16x8.extend_low/high, three instructions on x64) 39–40 G MAC/s, over
// i16 panels 44–46 (+11–17%); the widening pass is one panel per ≥ 2 tiles. A block of a single row tile (M ≤ 4,
// or K ≥ 16384 where one tile fills the block) and a missing workspace use the int8 tiles: the same integer sums.
// Loop unrolling: TurboFan unrolls a wasm innermost loop (up to 5 copies, one stack-guard check for all of them)
// only when its body is small enough, and the size allowed grows with the loop's nesting depth. The 4×8 tile's k loop
// as a function of its own (depth 1) was not unrolled: a stack check and a branch per k pair. Each 4-row tile
// therefore has a single call site (tile_main), so binaryen inlines it into q8_gemm's three loops and TurboFan
// unrolls its k loop 3×. Measured against the previous build (tile as its own function, int8 panels), interleaved, one
// core of a loaded machine: 1.18–1.34× on qkv, FFN up / down and conv 1 (the widening alone, without the
// unrolling: 0.98–1.03×).
// Register tiles (assembly/gen/q8_gemm_MRx8[_w].ts from assembly/templates/q8-gemm-tile.ts.in): MR rows × 8 columns,
// 2·MR i32x4 accumulators + 2 B vectors + MR broadcasts of A (TurboFan issues the loads of a step before its
// arithmetic, so they are live together; V8 keeps 15 xmm registers for values): 4×8 holds 14. Measured with i16 panels
// (same runs): 2×16 as fast as 4×8; 3×8 −4%; 5×8, 6×8, 3×12 and 4×8 unrolled over 2 k pairs spill (−25 to −45%).

import { gelu_cols } from './gemm';
import { hmax } from './simd';
import { workspace, WS_SLOT_BYTES } from './workspace';
import { q8_gemm_1x8 } from './gen/q8_gemm_1x8';
import { q8_gemm_2x8 } from './gen/q8_gemm_2x8';
import { q8_gemm_3x8 } from './gen/q8_gemm_3x8';
import { q8_gemm_4x8 } from './gen/q8_gemm_4x8';
import { q8_gemm_1x8_w } from './gen/q8_gemm_1x8_w';
import { q8_gemm_2x8_w } from './gen/q8_gemm_2x8_w';
import { q8_gemm_3x8_w } from './gen/q8_gemm_3x8_w';
import { q8_gemm_4x8_w } from './gen/q8_gemm_4x8_w';

/**
 * Rows per tile of quantized A (the main register tile's rows; the A layout allows up to 8). 4: the tallest tile that
 * does not spill (see the header; 5 and 6 rows were measured at 23–28 G MAC/s against 44–46).
 */
// @ts-ignore: decorator
@inline const MR: i32 = 4;

/** Rows per tile of quantized A: a thread's share of rows must start at a multiple of it. */
export function q8_tile_rows(): i32 {
  return MR;
}

/** Activation levels L for a reduction of K (see the header): min(2047, floor((2³¹ − 1) / (127·Kp))). */
export function q8_levels(K: i32): i32 {
  const kp = <i64>((K + 1) & ~1);
  if (kp <= 0) return 2047;
  return <i32>min<i64>(2047, <i64>2147483647 / (127 * kp));
}

/** Bytes of q8_quantize_a's output for M rows of K: ceil(M/MR)·32·ceil(K/2). */
export function q8_packed_a_bytes(M: i32, K: i32): i32 {
  return ((M + MR - 1) / MR) * (((K + 1) >> 1) << 5);
}

/**
 * Quantize M rows of A (f32, row stride lda floats) into Aq (the tiles' layout) and their scales into sa[M] (see
 * the header). Aq is row tile 0 of the rows written: a share of rows starting at row m0 (a multiple of MR) goes to
 * Aq + m0/MR·32·KP, sa + 4·m0.
 */
export function q8_quantize_a(M: i32, K: i32, A: usize, lda: i32, Aq: usize, sa: usize): void {
  assert(M >= 0 && K >= 0, 'q8_quantize_a: negative size');
  const L = <f32>q8_levels(K);
  const KP = (K + 1) >> 1;
  const tileA = <usize>KP << 5;
  const lda4 = <usize>lda << 2;
  const lim = i32x4.splat(<i32>L), nlim = i32x4.splat(-<i32>L);
  for (let m = 0; m < M; m++) {
    const row = A + <usize>m * lda4;
    let vm = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) vm = f32x4.max(vm, f32x4.abs(v128.load(row + (<usize>k << 2))));
    let amax = hmax(vm);
    for (; k < K; k++) amax = max<f32>(amax, abs<f32>(load<f32>(row + (<usize>k << 2))));
    const inv: f32 = amax > 0 ? L / amax : 0;
    store<f32>(sa + (<usize>m << 2), amax > 0 ? amax / L : 1);
    const dst = Aq + <usize>(m / MR) * tileA + (<usize>(m % MR) << 2);
    const vi = f32x4.splat(inv);
    k = 0;
    for (; k + 8 <= K; k += 8) {
      const s = row + (<usize>k << 2);
      const q0 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(s), vi))), nlim), lim);
      const q1 = i32x4.min_s(i32x4.max_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(s, 16), vi))), nlim), lim);
      const p = i16x8.narrow_i32x4_s(q0, q1); // lanes k..k+7 as i16: 32-bit lane i = the pair (k + 2i, k + 2i + 1)
      const d = dst + (<usize>k << 4);
      store<i32>(d, i32x4.extract_lane(p, 0));
      store<i32>(d, i32x4.extract_lane(p, 1), 32);
      store<i32>(d, i32x4.extract_lane(p, 2), 64);
      store<i32>(d, i32x4.extract_lane(p, 3), 96);
    }
    for (; k < K; k += 2) {
      const d = dst + (<usize>k << 4);
      store<i16>(d, quantize1(load<f32>(row + (<usize>k << 2)), inv, L));
      store<i16>(d, k + 1 < K ? quantize1(load<f32>(row + (<usize>k << 2), 4), inv, L) : 0, 2);
    }
  }
}

/** One activation: nearest-even(x·inv) clamped to ±L. */
// @ts-ignore: decorator
@inline function quantize1(x: f32, inv: f32, L: f32): i16 {
  return <i16><i32>min<f32>(L, max<f32>(-L, nearest<f32>(x * inv)));
}

/**
 * The last row tile of a block, of mr (1..3) rows, over an i16-widened panel (wide) or the int8 panel. (The 4-row
 * tiles have one call site each, tile_main, so that binaryen inlines them into q8_gemm's loop nest: see the header.)
 */
// @ts-ignore: decorator
@inline function tile(wide: bool, mr: i32, KP: i32, ap: usize, b: usize, sa: usize, sw: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  if (wide) {
    if (mr == 3) q8_gemm_3x8_w(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
    else if (mr == 2) q8_gemm_2x8_w(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
    else q8_gemm_1x8_w(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
  } else {
    if (mr == 3) q8_gemm_3x8(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
    else if (mr == 2) q8_gemm_2x8(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
    else q8_gemm_1x8(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
  }
}

/** The 4-row tiles. */
// @ts-ignore: decorator
@inline function tile_main(wide: bool, KP: i32, ap: usize, b: usize, sa: usize, sw: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  if (wide) q8_gemm_4x8_w(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
  else q8_gemm_4x8(KP, ap, b, sa, sw, c, ldc4, bias, nv, flags);
}

/** Widen one int8 panel (16·KP bytes) to i16 (32·KP bytes at dst): the same order, each byte sign-extended. */
function widen_panel(KP: i32, b: usize, dst: usize): void {
  const end = b + (<usize>KP << 4);
  for (let p = b, d = dst; p < end; p += 16, d += 32) {
    const w = v128.load(p);
    v128.store(d, i16x8.extend_low_i8x16_s(w));
    v128.store(d, i16x8.extend_high_i8x16_s(w), 16);
  }
}

/**
 * C (+)= act(A·Wᵀ + bias) over M rows quantized by q8_quantize_a (Aq, sa) and weights packed in int8 panels (Bq,
 * sw) (see the header); act: 0 identity, 1 exact GELU; accumulate: 0 overwrite C, 1 add to C.
 * Row tiles in blocks of about 512 KB of Aq; per block, every panel of B runs over the block's tiles: widened to
 * i16 first into this instance's workspace when the block has at least 2 row tiles and the widened panel fits
 * (32·KP bytes ≤ 1 MB: K ≤ 65536), else read as int8 by the tiles (the same integer sums either way).
 */
export function q8_gemm(M: i32, N: i32, K: i32, Aq: usize, sa: usize, Bq: usize, sw: usize, C: usize, ldc: i32,
                        bias: usize, act: i32, accumulate: i32): void {
  assert(M >= 0 && N >= 0 && K >= 0, 'q8_gemm: negative size');
  assert(M <= 1 || ldc >= N, 'q8_gemm: ldc < N');
  if (M <= 0 || N <= 0) return;
  const post = act == 1 && !accumulate;
  const flags = post ? 0 : (act == 1 ? 1 : 0) | (accumulate ? 2 : 0);
  const KP = (K + 1) >> 1;
  const tileA = <usize>KP << 5, panel = <usize>KP << 4;
  const ldc4 = <usize>ldc << 2;
  const np = (N + 7) >> 3;
  const tiles = (M + MR - 1) / MR;
  const tb = <i32>max<usize>(1, (<usize>1 << 19) / max<usize>(tileA, 32));
  const ws = (<usize>KP << 5) <= WS_SLOT_BYTES ? workspace() : 0;
  for (let t0 = 0; t0 < tiles; t0 += tb) {
    const t1 = min(tiles, t0 + tb);
    const m0 = t0 * MR, m1 = min(M, t1 * MR);
    const wide = ws != 0 && t1 - t0 >= 2;
    for (let p = 0; p < np; p++) {
      const n0 = p << 3;
      const nv = min(8, N - n0);
      let b = Bq + <usize>p * panel;
      if (wide) {
        widen_panel(KP, b, ws);
        b = ws;
      }
      const cn = C + (<usize>n0 << 2);
      const bn = bias ? bias + (<usize>n0 << 2) : 0;
      const swn = sw + (<usize>n0 << 2);
      let t = t0;
      for (; t < t1 && (t + 1) * MR <= M; t++) {
        const m = t * MR;
        tile_main(wide, KP, Aq + <usize>t * tileA, b, sa + (<usize>m << 2), swn, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      }
      if (t < t1) {
        const m = t * MR;
        tile(wide, M - m, KP, Aq + <usize>t * tileA, b, sa + (<usize>m << 2), swn, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      }
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, nv);
    }
  }
}
