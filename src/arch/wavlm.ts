/**
 * WavLM's gated relative position bias (as Hugging Face's modeling_wavlm.py computes it), the parts that are not
 * matrix multiplies.
 *
 * bias[h][i][j] = gate_l[h][i] · E[bucket(j − i)][h]
 *   E      = encoder.layers.0.attention.rel_attn_embed.weight [num_buckets][H], computed once, reused by every layer
 *   gate_l = a·(b·const_l[h] − 1) + 2 with (a, b) = sigmoid of the two 4-sums of gru_rel_pos_linear(x_i split by head)
 */

/**
 * Bidirectional log bucket of a relative offset (j − i), as HF/fairseq compute it: half the buckets for each sign,
 * exact below max_exact = num_buckets/4, logarithmic up to max_distance. The log is evaluated in f32 like PyTorch.
 */
export function relativeBucket(rel: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  let bucket = rel > 0 ? half : 0;
  const n = Math.abs(rel);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const v = f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (half - maxExact));
  const large = Math.min(Math.trunc(f(maxExact + v)), half - 1);
  return bucket + large;
}

/**
 * The bias of original head `h` as a vector over d = j − i + T − 1 ∈ [0, 2T−1): relb[d] = E[bucket(d − T + 1)][h].
 * Kernels index it as relb[j − i + T − 1], so no T×T matrix is ever built.
 */
export function relativeBiasVector(
  embed: Float32Array, numHeads: number, h: number, T: number, numBuckets: number, maxDistance: number, out: Float32Array,
): void {
  for (let d = 0; d < 2 * T - 1; d++) {
    out[d] = embed[relativeBucket(d - T + 1, numBuckets, maxDistance) * numHeads + h];
  }
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Per-row gates of one layer from the projected layer input: proj is [T·H][8] (gru_rel_pos_linear applied to each
 * head-sized chunk of each frame, original head order), constH[h] the per-head constant.
 * Writes gates[k][i] for each kept head k (original index heads[k]), row stride T.
 */
export function wavlmGates(proj: Float32Array, T: number, numHeads: number, constH: Float32Array, heads: number[], gates: Float32Array): void {
  heads.forEach((h, k) => {
    for (let i = 0; i < T; i++) {
      const r = (i * numHeads + h) * 8;
      const a = sigmoid(proj[r] + proj[r + 1] + proj[r + 2] + proj[r + 3]);
      const b = sigmoid(proj[r + 4] + proj[r + 5] + proj[r + 6] + proj[r + 7]);
      gates[k * T + i] = Math.fround(a * (b * constH[h] - 1) + 2);
    }
  });
}
