// Matrix multiply with fused bias, GELU and accumulate: C[m, n] (+)= act(Σ_k A[m, k]·B[k, n] + bias[n]).
//   A:    [M][K] f32, row stride lda floats (rows may overlap: lda < K is the implicit im2col of a strided conv)
//   B:    f32_gemm_packed: Bp, column panels of 8 (see f32_pack_b); f32_gemm: [K][N] row-major, row stride ldb
//   C:    [M][N] f32, row stride ldc; only the N valid columns of each row are read or written
//   bias: [N] f32 or 0 (none); act: 0 = identity, 1 = exact GELU; accumulate: 0 = overwrite C, 1 = add to C
// The register tiles are generated (assembly/gen/, from assembly/templates/f32-gemm-tile.ts.in by
// scripts/gen-kernels.js): MR rows × 8 columns, per k step two B vectors and MR broadcast A values feed 2·MR
// multiply-adds (the XNNPACK "splat" scheme) through simd.ts madd, so the relaxed builds get FMA tiles.
// f32_gemm_packed: rows in blocks that fit this instance's workspace (workspace.ts). Each block of A is packed
// once (pack_a: every MR rows interleaved, 8 floats per k), then for each 8-column panel of B the block's row
// tiles run over it: the tile reads A and B through two pointers with constant offsets, no per-row address
// arithmetic. MR = 6 in the relaxed builds (12 FMA accumulators + 2 B vectors + 1 broadcast = 15 of V8's 15
// allocatable xmm registers) and 4 in the plain builds (mul + add needs a temporary; 5 and 6 rows spill). The row
// tail uses the tile of its size; the last panel is computed 8 wide (its padding is zero) and stored only where
// valid. For narrow products (N ≤ 40, where packing costs more than it saves) and without a workspace (a shared
// memory with more instances than slots) the strided-A tiles run instead: the same arithmetic in the same order,
// so the results are identical.
// f32_gemm (row-major B, used by attention) runs the strided-A tiles, 8 then 4 columns wide, then finishes the
// last 1..3 columns with scalar dot products.
// GELU without accumulate runs as a pass over each finished panel's column strip (gelu_cols); with accumulate it
// must come before the add to C, so it runs per vector in the tile epilogue.
// Measured (Node 20 / V8 11.3, AMD Zen 4 (EPYC), one core, bench/kernels.ts) on 499×768×768, 499×3072×768 and
// 499×768×3072: plain 39–40 GFLOP/s (5×8; 4×8 gave 37, 6×8 28: spills), relaxed 52–55 GFLOP/s (6×8, ~90% of the
// FMA peak; 5×8 gave 52, the strided-A 6×8 47). The direct-A tiles this replaced ran 34 (plain) and 44 (relaxed).
// A k-unrolled tile measured much slower (binaryen nests the unrolled multiply-adds and V8 then spills).

import { load_lanes, store_lanes } from './simd';
import { gelu4 } from './math';
import { finish } from './gemm_epilogue';
import { workspace, WS_SLOT_BYTES } from './workspace';
import { f32_gemm_1x8_pa } from './gen/f32_gemm_1x8_pa';
import { f32_gemm_2x8_pa } from './gen/f32_gemm_2x8_pa';
import { f32_gemm_3x8_pa } from './gen/f32_gemm_3x8_pa';
import { f32_gemm_4x8_pa } from './gen/f32_gemm_4x8_pa';
import { f32_gemm_5x8_pa } from './gen/f32_gemm_5x8_pa';
import { f32_gemm_6x8_pa } from './gen/f32_gemm_6x8_pa';
import { f32_gemm_1x8 } from './gen/f32_gemm_1x8';
import { f32_gemm_2x8 } from './gen/f32_gemm_2x8';
import { f32_gemm_4x8 } from './gen/f32_gemm_4x8';
import { f32_gemm_1x4 } from './gen/f32_gemm_1x4';
import { f32_gemm_2x4 } from './gen/f32_gemm_2x4';
import { f32_gemm_4x4 } from './gen/f32_gemm_4x4';

/** Floats needed by f32_pack_b's output: ceil(N/8)·8·K. */
export function f32_packed_floats(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * 8 * K;
}

/**
 * Pack a PyTorch weight W [N][K] (out × in, row-major) into panels of 8 columns of B = Wᵀ:
 * Bp[p·K·8 + k·8 + j] = W[(8p + j)·K + k], zero where 8p + j ≥ N.
 */
export function f32_pack_b(N: i32, K: i32, W: usize, Bp: usize): void {
  const np = (N + 7) >> 3;
  for (let p = 0; p < np; p++) {
    const dst = Bp + (<usize>p * <usize>K << 5);
    for (let j = 0; j < 8; j++) {
      const n = (p << 3) + j;
      const out = dst + (<usize>j << 2);
      if (n < N) {
        const src = W + (<usize>n * <usize>K << 2);
        for (let k = 0; k < K; k++) store<f32>(out + (<usize>k << 5), load<f32>(src + (<usize>k << 2)));
      } else {
        for (let k = 0; k < K; k++) store<f32>(out + (<usize>k << 5), 0);
      }
    }
  }
}

/**
 * Row-major B [K][N] (row stride ldb, rows may overlap) → the panel layout of f32_pack_b:
 * Bp[p·K·8 + k·8 + j] = B[k][8p + j], 0 past N. (f32_pack_b packs Wᵀ from W [N][K]; this packs B itself with
 * contiguous 8-float copies: the pruner's dX = dY·W and dW = dYᵀ·X use it.)
 */
export function f32_pack_rows(K: i32, N: i32, B: usize, ldb: i32, Bp: usize): void {
  const np = (N + 7) >> 3;
  const ldb4 = <usize>ldb << 2;
  for (let p = 0; p < np; p++) {
    const n0 = p << 3;
    const nv = min(8, N - n0);
    let dst = Bp + (<usize>p * <usize>K << 5);
    let src = B + (<usize>n0 << 2);
    if (nv == 8) {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
        src += ldb4;
      }
    } else {
      const a = min(4, nv), b = nv - 4;
      for (let k = 0; k < K; k++) {
        v128.store(dst, load_lanes(src, a));
        v128.store(dst, b > 0 ? load_lanes(src + 16, b) : f32x4.splat(0), 16);
        dst += 32;
        src += ldb4;
      }
    }
  }
}

// --- packed A ---------------------------------------------------------------------------------------------------

/**
 * Fewest 8-column panels for which packing A pays: packing costs about one vector operation per element of A,
 * the tiles about N/4 (FMA) per element, so for narrow products the strided-A tiles win. Measured crossover:
 * N = 32 strided-A faster (40 vs 39 GFLOP/s relaxed), N = 48 packed faster (45 vs 42).
 */
// @ts-ignore: decorator
@inline const PACK_MIN_PANELS = 6;

/** Rows of the main packed-A tile (see the header). */
export const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 5;

/**
 * Pack `rows` rows of A (row stride lda4 bytes, K columns) for the _pa tiles: row tile t (rows MR·t ..) at
 * dst + 32·K·t, A[MR·t + r][k] at + 32·k + 4·r. Lanes MR..7 of each k are left as they are (never read).
 */
function pack_a(rows: i32, K: i32, a: usize, lda4: usize, dst: usize): void {
  const k4 = K & ~3;
  for (let t = 0; t < rows; t += MR) {
    const nr = min(MR, rows - t);
    const d = dst + (<usize>t / <usize>MR) * (<usize>K << 5);
    const src = a + <usize>t * lda4;
    let r = 0;
    // four rows at a time: 4×4 blocks transposed in registers, one 16-byte store per k
    for (; r + 4 <= nr; r += 4) {
      const s0 = src + <usize>r * lda4, s1 = s0 + lda4, s2 = s1 + lda4, s3 = s2 + lda4;
      const dr = d + (<usize>r << 2);
      for (let k = 0; k < k4; k += 4) {
        const o = <usize>k << 2;
        const v0 = v128.load(s0 + o), v1 = v128.load(s1 + o), v2 = v128.load(s2 + o), v3 = v128.load(s3 + o);
        const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5); // r0k0 r1k0 r0k1 r1k1
        const t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7); // r0k2 r1k2 r0k3 r1k3
        const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
        const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        const dk = dr + (<usize>k << 5);
        v128.store(dk, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(dk, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
        v128.store(dk, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
        v128.store(dk, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
      }
      for (let k = k4; k < K; k++) {
        const o = <usize>k << 2, dk = dr + (<usize>k << 5);
        store<f32>(dk, load<f32>(s0 + o));
        store<f32>(dk, load<f32>(s1 + o), 4);
        store<f32>(dk, load<f32>(s2 + o), 8);
        store<f32>(dk, load<f32>(s3 + o), 12);
      }
    }
    for (; r < nr; r++) {
      const s0 = src + <usize>r * lda4;
      const dr = d + (<usize>r << 2);
      for (let k = 0; k < K; k++) store<f32>(dr + (<usize>k << 5), load<f32>(s0 + (<usize>k << 2)));
    }
  }
}

/** The packed-A tile of mr (1..MR) rows. */
// @ts-ignore: decorator
@inline export function tile_pa(mr: i32, K: i32, ap: usize, b: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  if (mr >= 6) f32_gemm_6x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else if (mr == 5) f32_gemm_5x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else if (mr == 4) f32_gemm_4x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else if (mr == 3) f32_gemm_3x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else if (mr == 2) f32_gemm_2x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else f32_gemm_1x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
}

/** The main tile, called from its own site so that it stays a function of its own (binaryen inlines single-call functions). */
// @ts-ignore: decorator
@inline export function tile_pa_main(K: i32, ap: usize, b: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  if (MR == 6) f32_gemm_6x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
  else f32_gemm_5x8_pa(K, ap, b, c, ldc4, bias, nv, flags);
}

// --- passes and tails -------------------------------------------------------------------------------------------

/**
 * GELU in place on a rows × n (1..8 columns) block of C, row stride ldc4 bytes: the activation pass run over a
 * panel's columns right after its tiles stored them (still in L1), so the ~25 constants of the vector erf are set up
 * once per panel rather than once per vector in every tile epilogue (conv layer 0 with GELU: 3 → 6 GFLOP/s).
 */
export function gelu_cols(c: usize, rows: i32, ldc4: usize, n: i32): void {
  if (n == 8) {
    for (let r = 0; r < rows; r++) {
      const x0 = gelu4(v128.load(c)), x1 = gelu4(v128.load(c, 16));
      v128.store(c, x0);
      v128.store(c, x1, 16);
      c += ldc4;
    }
  } else {
    const n0 = min(n, 4), n1 = n - 4;
    for (let r = 0; r < rows; r++) {
      store_lanes(c, gelu4(load_lanes(c, n0)), n0);
      if (n1 > 0) store_lanes(c + 16, gelu4(load_lanes(c + 16, n1)), n1);
      c += ldc4;
    }
  }
}

/** One column of one row: scalar dot product down a strided column of B. */
function dot_col(K: i32, a: usize, b: usize, bs: usize, c: usize, bias: usize, flags: i32): void {
  let s: f32 = 0;
  let pb = b;
  for (let k = 0; k < K; k++) {
    s += load<f32>(a + (<usize>k << 2)) * load<f32>(pb);
    pb += bs;
  }
  finish(c, f32x4.splat(s), bias, 1, flags);
}

/**
 * Rows per cache block of the unpacked paths: about 1 MB of A (an L2), a multiple of 4, 4 to 512 rows. The 512-row
 * cap keeps a panel's column strip of C (revisited by the GELU pass) small when K is tiny (conv layer 0: K = 10).
 */
// @ts-ignore: decorator
@inline function row_block(K: i32): i32 {
  return min(512, max(4, (262144 / max(K, 1)) & ~3));
}

// --- kernels ----------------------------------------------------------------------------------------------------

/** C (+)= act(A·B + bias) with B packed by f32_pack_b (see the header). */
export function f32_gemm_packed(M: i32, N: i32, K: i32, A: usize, lda: i32, Bp: usize, C: usize, ldc: i32,
                                bias: usize, act: i32, accumulate: i32): void {
  assert(M >= 0 && N >= 0 && K >= 0, 'f32_gemm_packed: negative size');
  assert(M <= 1 || ldc >= N, 'f32_gemm_packed: ldc < N');
  if (M <= 0 || N <= 0) return;
  // GELU without accumulate runs as a pass over each finished panel (gelu_cols); with accumulate it must come
  // before the add to C, so it stays in the tile epilogue
  const post = act == 1 && !accumulate;
  const flags = post ? 0 : (act == 1 ? 1 : 0) | (accumulate ? 2 : 0);
  const lda4 = <usize>lda << 2, ldc4 = <usize>ldc << 2;
  const panel = <usize>max(K, 0) << 5;
  const np = (N + 7) >> 3;
  const ws = workspace();
  // rows per block: as many row tiles as the workspace holds (each K·32 bytes), at most 512 rows
  const tiles = <i32>min(<usize>(512 / MR), <usize>WS_SLOT_BYTES / max(panel, 32));
  if (ws == 0 || tiles == 0 || np < PACK_MIN_PANELS) {
    gemm_unpacked(M, N, K, A, lda4, Bp, 32, C, ldc4, bias, flags, post);
    return;
  }
  const mb = tiles * MR;
  for (let m0 = 0; m0 < M; m0 += mb) {
    const m1 = min(M, m0 + mb);
    pack_a(m1 - m0, K, A + <usize>m0 * lda4, lda4, ws);
    for (let p = 0; p < np; p++) {
      const n0 = p << 3;
      const nv = min(8, N - n0);
      const b = Bp + <usize>p * panel;
      const cn = C + (<usize>n0 << 2);
      const bn = bias ? bias + (<usize>n0 << 2) : 0;
      let m = m0, ap = ws;
      for (; m + MR <= m1; m += MR) {
        tile_pa_main(K, ap, b, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
        ap += panel;
      }
      if (m < m1) tile_pa(m1 - m, K, ap, b, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, nv);
    }
  }
}

/**
 * The packed-B product over a strided A (no workspace): row blocks of about 1 MB of A, panels, 4/2/1-row tiles.
 * bs = 32: a packed panel read as a row-major B of 8 columns.
 */
function gemm_unpacked(M: i32, N: i32, K: i32, A: usize, lda4: usize, Bp: usize, bs: usize, C: usize, ldc4: usize,
                       bias: usize, flags: i32, post: bool): void {
  const panel = <usize>max(K, 0) << 5;
  const np = (N + 7) >> 3;
  const mb = row_block(K);
  for (let m0 = 0; m0 < M; m0 += mb) {
    const m1 = min(M, m0 + mb);
    for (let p = 0; p < np; p++) {
      const n0 = p << 3;
      const nv = min(8, N - n0);
      const b = Bp + <usize>p * panel;
      const cn = C + (<usize>n0 << 2);
      const bn = bias ? bias + (<usize>n0 << 2) : 0;
      let m = m0;
      for (; m + 4 <= m1; m += 4) f32_gemm_4x8(K, A + <usize>m * lda4, lda4, b, bs, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      if (m + 2 <= m1) {
        f32_gemm_2x8(K, A + <usize>m * lda4, lda4, b, bs, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
        m += 2;
      }
      if (m < m1) f32_gemm_1x8(K, A + <usize>m * lda4, lda4, b, bs, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, nv);
    }
  }
}

/** C (+)= act(A·B + bias) with B plain row-major [K][N], row stride ldb (see the header). */
export function f32_gemm(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32,
                         bias: usize, act: i32, accumulate: i32): void {
  assert(M >= 0 && N >= 0 && K >= 0, 'f32_gemm: negative size');
  assert(M <= 1 || ldc >= N, 'f32_gemm: ldc < N');
  if (M <= 0 || N <= 0) return;
  const post = act == 1 && !accumulate; // as in f32_gemm_packed
  const flags = (act == 1 ? 1 : 0) | (accumulate ? 2 : 0);
  const tflags = post ? 0 : flags;
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2, ldc4 = <usize>ldc << 2;
  const mb = row_block(K);
  for (let m0 = 0; m0 < M; m0 += mb) {
    const m1 = min(M, m0 + mb);
    let n = 0;
    for (; n + 8 <= N; n += 8) {
      const b = B + (<usize>n << 2), cn = C + (<usize>n << 2), bn = bias ? bias + (<usize>n << 2) : 0;
      let m = m0;
      for (; m + 4 <= m1; m += 4) f32_gemm_4x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
      if (m + 2 <= m1) {
        f32_gemm_2x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
        m += 2;
      }
      if (m < m1) f32_gemm_1x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, 8);
    }
    if (n + 4 <= N) {
      const b = B + (<usize>n << 2), cn = C + (<usize>n << 2), bn = bias ? bias + (<usize>n << 2) : 0;
      let m = m0;
      for (; m + 4 <= m1; m += 4) f32_gemm_4x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
      if (m + 2 <= m1) {
        f32_gemm_2x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
        m += 2;
      }
      if (m < m1) f32_gemm_1x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, 4);
      n += 4;
    }
    for (; n < N; n++) {
      const b = B + (<usize>n << 2), cn = C + (<usize>n << 2), bn = bias ? bias + (<usize>n << 2) : 0;
      for (let m = m0; m < m1; m++) dot_col(K, A + <usize>m * lda4, b, ldb4, cn + <usize>m * ldc4, bn, flags);
    }
  }
}
