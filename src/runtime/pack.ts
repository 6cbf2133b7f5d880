/**
 * Weight packing, done once at load: PyTorch layouts → the panel layout the GEMM micro-kernel streams.
 *
 * Panel layout (assembly/gemm.ts): a weight W[N][K] (out × in) is stored as ceil(N/8) panels of 8 columns;
 * panel p holds B[k][j] = W[8p + j][k] at float index p·K·8 + k·8 + j, zero-padded past N.
 */

export const NR = 8;

export const packedFloats = (N: number, K: number) => Math.ceil(N / NR) * NR * K;

/** W[N][K] row-major (row stride ldw, starting at `off`) → panels in dst. */
export function packB(W: Float32Array, N: number, K: number, dst: Float32Array, ldw = K, off = 0): void {
  const panels = Math.ceil(N / NR);
  for (let p = 0; p < panels; p++) {
    const base = p * K * NR;
    for (let j = 0; j < NR; j++) {
      const n = p * NR + j;
      if (n >= N) {
        for (let k = 0; k < K; k++) dst[base + k * NR + j] = 0;
        continue;
      }
      const row = off + n * ldw;
      for (let k = 0; k < K; k++) dst[base + k * NR + j] = W[row + k];
    }
  }
}

/**
 * Conv weight [Cout][Cin][Kw] → [Cout][Kw][Cin], so that with time-major activations [T][Cin] the Kw·Cin inputs of
 * one output frame are contiguous (implicit im2col: the GEMM reads them in place with row stride S·Cin).
 */
export function convToTimeMajor(W: Float32Array, cout: number, cin: number, kw: number): Float32Array {
  const out = new Float32Array(W.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let j = 0; j < kw; j++) out[(o * kw + j) * cin + i] = W[(o * cin + i) * kw + j];
    }
  }
  return out;
}
