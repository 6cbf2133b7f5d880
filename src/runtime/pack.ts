/**
 * Weight packing, done once at load: PyTorch layouts → the panel layout the GEMM micro-kernel streams.
 *
 * Panel layout (assembly/gemm.ts): a weight W[N][K] (out × in) is stored as ceil(N/8) panels of 8 columns;
 * panel p holds B[k][j] = W[8p + j][k] at float index p·K·8 + k·8 + j, zero-padded past N.
 */

export const NR = 8;

export const packedFloats = (N: number, K: number) => Math.ceil(N / NR) * NR * K;

/**
 * W[N][K] row-major (row stride ldw, starting at `off`) → panels in dst. Full panels read their 8 rows side by side
 * and write each k's 8 floats in sequence (about 5× faster than row by row, which writes with a 32-byte stride).
 */
export function packB(W: Float32Array, N: number, K: number, dst: Float32Array, ldw = K, off = 0): void {
  const full = Math.floor(N / NR);
  for (let p = 0; p < full; p++) {
    const r0 = off + p * NR * ldw, r1 = r0 + ldw, r2 = r1 + ldw, r3 = r2 + ldw;
    const r4 = r3 + ldw, r5 = r4 + ldw, r6 = r5 + ldw, r7 = r6 + ldw;
    for (let k = 0, d = p * K * NR; k < K; k++, d += NR) {
      dst[d] = W[r0 + k];
      dst[d + 1] = W[r1 + k];
      dst[d + 2] = W[r2 + k];
      dst[d + 3] = W[r3 + k];
      dst[d + 4] = W[r4 + k];
      dst[d + 5] = W[r5 + k];
      dst[d + 6] = W[r6 + k];
      dst[d + 7] = W[r7 + k];
    }
  }
  if (full * NR === N) return;
  // the last, partial panel: rows past N are zero
  const base = full * K * NR;
  for (let j = 0; j < NR; j++) {
    const n = full * NR + j;
    if (n >= N) {
      for (let k = 0; k < K; k++) dst[base + k * NR + j] = 0;
      continue;
    }
    const row = off + n * ldw;
    for (let k = 0; k < K; k++) dst[base + k * NR + j] = W[row + k];
  }
}

/**
 * Conv weight [Cout][Cin][Kw] → [Cout][Kw][Cin], so that with time-major activations [T][Cin] the Kw·Cin inputs of
 * one output frame are contiguous (implicit im2col: the GEMM reads them in place with row stride S·Cin). Into `out`
 * (at least cout·cin·kw long) when given: rows [0, cout) of a larger weight reorder on their own.
 */
export function convToTimeMajor(W: Float32Array, cout: number, cin: number, kw: number, out: Float32Array = new Float32Array(cout * cin * kw)): Float32Array {
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let j = 0; j < kw; j++) out[(o * kw + j) * cin + i] = W[(o * cin + i) * kw + j];
    }
  }
  return out;
}
