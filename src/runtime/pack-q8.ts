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
  const full = !col && dst.byteOffset % 4 === 0 ? N >> 3 : 0;
  if (full) {
    // whole panels, 4 bytes (2 columns × 2 k) per write, reading the panel's 8 rows side by side: about 2× the
    // general loop below
    const u = new Uint8Array(w.q.buffer, w.q.byteOffset, w.q.byteLength);
    const d32 = new Int32Array(dst.buffer, dst.byteOffset, full * 4 * KP);
    const even = K & ~1;
    for (let p = 0, d = 0; p < full; p++) {
      const r0 = 8 * p * K;
      for (let k = 0; k < even; k += 2) {
        for (let j = 0, r = r0 + k; j < 8; j += 2, r += 2 * K) {
          d32[d++] = u[r] | (u[r + 1] << 8) | (u[r + K] << 16) | (u[r + K + 1] << 24);
        }
      }
      if (K & 1) {
        for (let j = 0, r = r0 + K - 1; j < 8; j += 2, r += 2 * K) d32[d++] = u[r] | (u[r + K] << 16);
      }
    }
  }
  // the rest (a partial last panel; every panel when a column map is given): 16 bytes per k pair in order, zero past N
  // and past K
  const q = w.q;
  for (let p = full, d = full * 16 * KP; p < panels; p++) {
    const rows = Math.min(8, N - 8 * p);
    for (let kp = 0; kp < KP; kp++) {
      const k0 = 2 * kp, k1 = k0 + 1;
      const c0 = col ? col[k0] : k0, c1 = k1 < K ? (col ? col[k1] : k1) : -1;
      for (let j = 0; j < 8; j++, d += 2) {
        if (j >= rows) {
          dst[d] = 0;
          dst[d + 1] = 0;
          continue;
        }
        const row = (8 * p + j) * K;
        dst[d] = q[row + c0];
        dst[d + 1] = c1 < 0 ? 0 : q[row + c1];
      }
    }
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
