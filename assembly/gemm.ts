// Matrix multiply with fused bias, GELU and accumulate: C[m, n] (+)= act(Σ_k A[m, k]·B[k, n] + bias[n]).
//   A:    [M][K] f32, row stride lda floats (rows may overlap: lda < K is the implicit im2col of a strided conv)
//   B:    f32_gemm_packed: Bp, column panels of 8 (see f32_pack_b); f32_gemm: [K][N] row-major, row stride ldb
//   C:    [M][N] f32, row stride ldc; only the N valid columns of each row are read or written
//   bias: [N] f32 or 0 (none); act: 0 = identity, 1 = exact GELU; accumulate: 0 = overwrite C, 1 = add to C
// Register tile: 4 rows × 8 columns = 8 f32x4 accumulators; per k step two B vectors and four broadcast A values
// feed 8 multiply-adds (the XNNPACK "splat" scheme). Row tails use 2- and 1-row tiles; the last packed panel is
// computed 8 wide (its padding is zero) and stored only where valid. f32_gemm also tiles 4 columns wide, then
// finishes the last 1..3 columns with scalar dot products.
// Loop order: rows in blocks sized so a block of A stays in L2, then panels, then row tiles within the block: one
// K×8 panel stays in L1 while the block's rows stream past it. GELU without accumulate runs as a pass over each
// finished panel's column strip (gelu_cols); with accumulate it runs per vector in the tile epilogue.
// Measured (Node 20 / V8, AMD Zen 4, one core, bench/kernels.ts): 33–34 GFLOP/s for 499×768×768, 499×768×3072 and
// 499×3072×768; a k-unrolled tile with immediate offsets measured slower (26) under V8 and was dropped.

import { madd, load_lanes, store_lanes } from './simd';
import { gelu4 } from './math';

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

// --- epilogue -------------------------------------------------------------------------------------------------

// flags bits: 1 = GELU, 2 = accumulate into C
/** Finish n (1..4) columns of one row: + bias, activation, + old C, store. */
function finish(c: usize, x: v128, bias: usize, n: i32, flags: i32): void {
  if (n <= 0) return;
  if (bias) x = f32x4.add(x, load_lanes(bias, n));
  if (flags & 1) x = gelu_v(x);
  if (flags & 2) x = f32x4.add(load_lanes(c, n), x);
  store_lanes(c, x, n);
}

/** GELU of one vector, kept out of line so the eight epilogues of a tile share one copy. */
function gelu_v(x: v128): v128 {
  return gelu4(x);
}

/**
 * GELU in place on a rows × n (1..8 columns) block of C, row stride ldc4 bytes: the activation pass run over a
 * panel's columns right after its tiles stored them (still in L1), so the ~25 constants of the vector erf are set up
 * once per panel rather than once per vector in every tile epilogue (conv layer 0 with GELU: 3 → 6 GFLOP/s).
 */
function gelu_cols(c: usize, rows: i32, ldc4: usize, n: i32): void {
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

/** Finish 8 columns (nv valid, 1..8) of one row; full tiles stay inline. */
// @ts-ignore: decorator
@inline function finish8(c: usize, x0: v128, x1: v128, bias: usize, nv: i32, flags: i32): void {
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

// --- register tiles ---------------------------------------------------------------------------------------------

/**
 * MR (1, 2 or 4, a constant after inlining) rows × 8 columns. a: &A[m][0], lda4: A row stride in bytes,
 * b: &B[0][n0] (or the panel), bs: bytes from B row k to row k+1 (32 in a packed panel), c: &C[m][n0].
 */
// @ts-ignore: decorator
@inline function tile_x8(MR: i32, K: i32, a: usize, lda4: usize, b: usize, bs: usize,
                         c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  const z = f32x4.splat(0);
  let c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  const a1 = a + lda4, a2 = a + (lda4 << 1), a3 = a2 + lda4;
  const end = <usize>K << 2;
  let pb = b;
  for (let o: usize = 0; o < end; o += 4) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    pb += bs;
    const x0 = v128.load32_splat(a + o);
    c00 = madd(x0, b0, c00);
    c01 = madd(x0, b1, c01);
    if (MR > 1) {
      const x1 = v128.load32_splat(a1 + o);
      c10 = madd(x1, b0, c10);
      c11 = madd(x1, b1, c11);
    }
    if (MR > 2) {
      const x2 = v128.load32_splat(a2 + o);
      c20 = madd(x2, b0, c20);
      c21 = madd(x2, b1, c21);
      const x3 = v128.load32_splat(a3 + o);
      c30 = madd(x3, b0, c30);
      c31 = madd(x3, b1, c31);
    }
  }
  finish8(c, c00, c01, bias, nv, flags);
  if (MR > 1) finish8(c + ldc4, c10, c11, bias, nv, flags);
  if (MR > 2) {
    finish8(c + (ldc4 << 1), c20, c21, bias, nv, flags);
    finish8(c + ldc4 * 3, c30, c31, bias, nv, flags);
  }
}

/** MR rows × 4 columns of a row-major B. */
// @ts-ignore: decorator
@inline function tile_x4(MR: i32, K: i32, a: usize, lda4: usize, b: usize, bs: usize,
                         c: usize, ldc4: usize, bias: usize, flags: i32): void {
  const z = f32x4.splat(0);
  let c0 = z, c1 = z, c2 = z, c3 = z;
  const a1 = a + lda4, a2 = a + (lda4 << 1), a3 = a2 + lda4;
  const end = <usize>K << 2;
  let pb = b;
  for (let o: usize = 0; o < end; o += 4) {
    const b0 = v128.load(pb);
    pb += bs;
    c0 = madd(v128.load32_splat(a + o), b0, c0);
    if (MR > 1) c1 = madd(v128.load32_splat(a1 + o), b0, c1);
    if (MR > 2) {
      c2 = madd(v128.load32_splat(a2 + o), b0, c2);
      c3 = madd(v128.load32_splat(a3 + o), b0, c3);
    }
  }
  finish(c, c0, bias, 4, flags);
  if (MR > 1) finish(c + ldc4, c1, bias, 4, flags);
  if (MR > 2) {
    finish(c + (ldc4 << 1), c2, bias, 4, flags);
    finish(c + ldc4 * 3, c3, bias, 4, flags);
  }
}

function tile4x8(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  tile_x8(4, K, a, lda4, b, bs, c, ldc4, bias, nv, flags);
}
function tile2x8(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  tile_x8(2, K, a, lda4, b, bs, c, ldc4, bias, nv, flags);
}
function tile1x8(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, nv: i32, flags: i32): void {
  tile_x8(1, K, a, lda4, b, bs, c, ldc4, bias, nv, flags);
}
function tile4x4(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, flags: i32): void {
  tile_x4(4, K, a, lda4, b, bs, c, ldc4, bias, flags);
}
function tile2x4(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, flags: i32): void {
  tile_x4(2, K, a, lda4, b, bs, c, ldc4, bias, flags);
}
function tile1x4(K: i32, a: usize, lda4: usize, b: usize, bs: usize, c: usize, ldc4: usize, bias: usize, flags: i32): void {
  tile_x4(1, K, a, lda4, b, bs, c, ldc4, bias, flags);
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
 * Rows per cache block: about 1 MB of A (an L2), a multiple of 4, 4 to 512 rows. Measured on Zen 4: 256 KB-1 MB
 * blocks are within noise of each other and up to 20% faster than no blocking once A outgrows the L2; the 512-row
 * cap keeps a panel's column strip of C (revisited by the GELU pass) small when K is tiny (conv layer 0: K = 10).
 */
// @ts-ignore: decorator
@inline function row_block(K: i32): i32 {
  return min(512, max(4, (262144 / max(K, 1)) & ~3));
}

// --- kernels ----------------------------------------------------------------------------------------------------

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
      for (; m + 4 <= m1; m += 4) tile4x8(K, A + <usize>m * lda4, lda4, b, 32, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      if (m + 2 <= m1) {
        tile2x8(K, A + <usize>m * lda4, lda4, b, 32, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
        m += 2;
      }
      if (m < m1) tile1x8(K, A + <usize>m * lda4, lda4, b, 32, cn + <usize>m * ldc4, ldc4, bn, nv, flags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, nv);
    }
  }
}

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
      for (; m + 4 <= m1; m += 4) tile4x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
      if (m + 2 <= m1) {
        tile2x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
        m += 2;
      }
      if (m < m1) tile1x8(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, 8, tflags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, 8);
    }
    if (n + 4 <= N) {
      const b = B + (<usize>n << 2), cn = C + (<usize>n << 2), bn = bias ? bias + (<usize>n << 2) : 0;
      let m = m0;
      for (; m + 4 <= m1; m += 4) tile4x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
      if (m + 2 <= m1) {
        tile2x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
        m += 2;
      }
      if (m < m1) tile1x4(K, A + <usize>m * lda4, lda4, b, ldb4, cn + <usize>m * ldc4, ldc4, bn, tflags);
      if (post) gelu_cols(cn + <usize>m0 * ldc4, m1 - m0, ldc4, 4);
      n += 4;
    }
    for (; n < N; n++) {
      const b = B + (<usize>n << 2), cn = C + (<usize>n << 2), bn = bias ? bias + (<usize>n << 2) : 0;
      for (let m = m0; m < m1; m++) dot_col(K, A + <usize>m * lda4, b, ldb4, cn + <usize>m * ldc4, bn, flags);
    }
  }
}
