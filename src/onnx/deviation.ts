/**
 * How far one set of hidden states is from a reference set: the measures used to state the accuracy of an int8
 * (q8) graph or engine against f32 (test/onnx, bench/q8-accuracy.ts). All sums in f64.
 *   cosine   Σ a·b / (‖a‖·‖b‖) over the whole [frames][dim] state (1 when both are zero)
 *   maxRel   max|a − b| / max|b|      (b = the reference; max|b| = 0 counts as 1)
 *   rmsRel   √mean (a − b)² / √mean b²
 */

export interface Deviation {
  cosine: number;
  maxRel: number;
  rmsRel: number;
}

export function deviation(a: Float32Array, ref: Float32Array): Deviation {
  if (a.length !== ref.length) throw new RangeError(`deviation: ${a.length} values against a reference of ${ref.length}`);
  let ab = 0, aa = 0, bb = 0, dd = 0, maxD = 0, maxB = 0;
  for (let i = 0; i < ref.length; i++) {
    const x = a[i], y = ref[i], d = x - y;
    ab += x * y; aa += x * x; bb += y * y; dd += d * d;
    const ad = Math.abs(d);
    if (!(ad <= maxD)) maxD = ad; // NaN propagates
    maxB = Math.max(maxB, Math.abs(y));
  }
  const cosine = aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
  return { cosine, maxRel: maxD / (maxB || 1), rmsRel: bb === 0 ? Math.sqrt(dd / Math.max(1, ref.length)) : Math.sqrt(dd / bb) };
}

