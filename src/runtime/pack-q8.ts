/**
 * int8 weight packing for the q8 GEMM (assembly/q8gemm.ts), done once at load; kept apart from the f32 packing
 * (pack.ts). A q8 weight W [N][K] (int8, one f32 scale per row n: arch/quant.ts) becomes ceil(N/8) panels of
 * 8 columns × ceil(K/2) k pairs: panel p, pair kp, column j at byte p·16·KP + 16·kp + 2·j (+0: k = 2kp, +1: k = 2kp + 1),
 * zero past N and past K; the scales as f32 [ceil(N/8)·8], zero past N.
 */
import type { Q8 } from '../arch/quant.js';

/** Bytes of a packed q8 weight [N][K]. */
export const q8PackedBytes = (N: number, K: number): number => Math.ceil(N / 8) * 8 * (K + (K & 1));

/** Scales padded to whole panels. */
export const q8ScaleFloats = (N: number): number => Math.ceil(N / 8) * 8;

/**
 * Pack rows [0, N) of a q8 weight [·][K] into dst (q8PackedBytes) and sw (q8ScaleFloats). `col` (optional) maps
 * packed column k to the source column within a row: the time-major reorder of a conv weight
 * ([Cout][Cin][Kw] → k = j·Cin + i reads i·Kw + j), which permutes within a row and so keeps the row's scale.
 */
export function packQ8(w: Q8, N: number, K: number, dst: Int8Array, sw: Float32Array, col: Int32Array | null = null): void {
  const KP = (K + 1) >> 1;
  const panels = Math.ceil(N / 8);
  dst.fill(0, 0, panels * 16 * KP);
  for (let n = 0; n < N; n++) {
    const base = (n >> 3) * 16 * KP + 2 * (n & 7), row = n * K;
    for (let k = 0; k < K; k++) dst[base + 16 * (k >> 1) + (k & 1)] = w.q[row + (col ? col[k] : k)];
  }
  sw.fill(0, 0, panels * 8);
  sw.set(w.scale.subarray(0, N));
}

/** The column map of a conv weight [Cout][Cin][Kw] read time-major ([Cout][Kw][Cin]; see pack.ts convToTimeMajor). */
export function convTimeMajorColumns(cin: number, kw: number): Int32Array {
  const col = new Int32Array(cin * kw);
  for (let j = 0; j < kw; j++) for (let i = 0; i < cin; i++) col[j * cin + i] = i * kw + j;
  return col;
}
