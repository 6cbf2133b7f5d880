/**
 * int8 weights ("q8"): one definition of the quantization every part of slimwav uses (the engine's integer GEMMs,
 * `convert --dtype q8`, `load(…, { dtype: 'q8' })`, the ONNX q8 export).
 *
 * A weight matrix W [rows][cols] (rows = output channels; a conv weight [Cout][Cin][K] counts as [Cout][Cin·K])
 * is stored as int8 q [rows][cols] and one f32 scale per row, symmetric (no zero point):
 *   scale[r] = max_c |W[r][c]| / 127,  q[r][c] = round(W[r][c] / scale[r]) ∈ [−127, 127]  (half away from zero)
 *   W[r][c] ≈ q[r][c] · scale[r]
 * −128 is never produced, so a negated weight quantizes to the negated integers. A row of zeros gets scale 1 and
 * q = 0 (a scale of 0 is never written, and a file holding one is refused). In a file, the scales of the tensor
 * `<prefix>.weight` (dtype I8) are the F32 tensor `<prefix>.weight_scale` of shape [rows].
 *
 * Two uses of the same numbers: the weights the int8 GEMMs compute with (arch/binding.ts quantizable()), and one
 * weight quantized for storage only, the positional conv (its `weight`, or `weight_v` + `weight_v_scale` under weight
 * norm; arch/binding.ts storableInt8()): a q8 file holds it as int8 and bindWeights dequantizes it at load into the
 * f32 weight the positional conv runs on (a DFT or f32 GEMM), so it shrinks the file, not the compute.
 */

/** An int8 weight with one scale per output row: w[r][c] ≈ q[r·cols + c] · scale[r]. */
export interface Q8 {
  q: Int8Array;
  scale: Float32Array;
}

/** The tensor holding the per-row scales of the int8 tensor `weightName` (`<prefix>.weight` → `<prefix>.weight_scale`). */
export const scaleName = (weightName: string): string => `${weightName}_scale`;

/** The largest integer magnitude a weight quantizes to. */
export const Q8_MAX = 127;

/**
 * Quantize W [rows][cols] row by row (see the header). With `into` (at least rows·cols values and rows scales), the
 * result is written there and returned as views of it: a loader quantizing a whole model a few rows at a time reuses
 * one buffer instead of leaving a model's worth of small arrays for the garbage collector.
 */
export function quantizeRows(w: Float32Array, rows: number, cols: number, into?: Q8): Q8 {
  if (w.length !== rows * cols) throw new RangeError(`quantizeRows: ${w.length} values for [${rows}][${cols}]`);
  if (into && (into.q.length < rows * cols || into.scale.length < rows)) throw new RangeError(`quantizeRows: the buffer is smaller than [${rows}][${cols}]`);
  const q = into ? into.q.subarray(0, rows * cols) : new Int8Array(rows * cols);
  const scale = into ? into.scale.subarray(0, rows) : new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(w[o + c]));
    // the scale as stored (f32), and the division by that stored value, so dequantize(quantize(w)) is reproducible
    const s = m > 0 ? Math.fround(m / Q8_MAX) : 1;
    scale[r] = s;
    for (let c = 0; c < cols; c++) {
      const v = w[o + c] / s;
      const i = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
      q[o + c] = Math.max(-Q8_MAX, Math.min(Q8_MAX, i));
    }
  }
  return { q, scale };
}

/**
 * q · scale per row, as f32 (the weights a q8 model computes with, for f32 consumers and references); with `into`
 * (at least rows·cols values), written there and returned as a view of it.
 */
export function dequantizeRows(w: Q8, rows: number, cols: number, into?: Float32Array): Float32Array {
  if (into && into.length < rows * cols) throw new RangeError(`dequantizeRows: the buffer is smaller than [${rows}][${cols}]`);
  const out = into ? into.subarray(0, rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const s = w.scale[r], o = r * cols;
    for (let c = 0; c < cols; c++) out[o + c] = w.q[o + c] * s;
  }
  return out;
}

/** Rows [from, to) of a quantized matrix [·][cols] (views, no copy). */
export function sliceRows(w: Q8, cols: number, from: number, to: number): Q8 {
  return { q: w.q.subarray(from * cols, to * cols), scale: w.scale.subarray(from, to) };
}
