/**
 * Folding fractional gate values into the weights (runs without the straight-through estimator, `prune --no-ste`):
 * there the student trained with every unit scaled by its relaxed gate z ∈ [0, 1], so the compacted model keeps each
 * unit at its deterministic value ẑ (Gates.relaxedValues) by scaling the weights that read the unit, at the place the
 * gate sits (docs/pruner.md, "Gates"):
 *   conv channel c of layer i (after GELU)   → input channel c of conv layer i+1 (all taps)
 *   q/k dimension j                          → row j of q_proj and of k_proj and their biases (the scores see z²,
 *                                              as in training, where both projections are gated)
 *   value dimension j                        → row j of v_proj and its bias
 *   head h (its output)                      → out_proj's columns of the head's value dimensions
 *   attention block (out_proj output)        → out_proj weight and bias
 *   FFN unit j (after GELU)                  → column j of output_dense
 *   FFN block (output_dense output)          → output_dense weight and bias
 * The last conv layer's channels feed the projection's LayerNorm, which a per-channel scale does not pass through
 * unchanged, so they are not folded (kept channels count as 1 there).
 */
import type { ModelConfig } from '../arch/config.js';
import { TensorNames } from '../arch/binding.js';
import { fromFloat32, toFloat32, type RawTensor } from '../format/tensor.js';
import type { GateArrays } from './gates.js';

/** Scale `tensors` (HF layout, the teacher's `cfg`) by the gate values `z` in place of the gates; returns a new map. */
export function foldGateScales(cfg: ModelConfig, tensors: Map<string, RawTensor>, z: GateArrays): Map<string, RawTensor> {
  const out = new Map(tensors);
  const edit = (name: string, f: (w: Float32Array, shape: number[]) => void) => {
    const t = out.get(name);
    if (!t) return;
    const w = toFloat32(t, name).slice();
    f(w, t.shape);
    out.set(name, fromFloat32(w, t.shape));
  };
  const rows = (name: string, scale: ArrayLike<number>, off = 0) => {
    edit(`${name}.weight`, (w, s) => { const n = s[1]; for (let j = 0; j < scale.length; j++) for (let k = 0; k < n; k++) w[(off + j) * n + k] *= scale[j]; });
    edit(`${name}.bias`, (b) => { for (let j = 0; j < scale.length; j++) b[off + j] *= scale[j]; });
  };
  const cols = (name: string, scale: ArrayLike<number>, off = 0) =>
    edit(`${name}.weight`, (w, s) => { const n = s[1]; for (let r = 0; r < s[0]; r++) for (let j = 0; j < scale.length; j++) w[r * n + off + j] *= scale[j]; });
  const all = (name: string, v: number) => {
    if (v === 1) return;
    edit(`${name}.weight`, (w) => { for (let i = 0; i < w.length; i++) w[i] *= v; });
    edit(`${name}.bias`, (b) => { for (let i = 0; i < b.length; i++) b[i] *= v; });
  };

  for (let i = 0; i + 1 < cfg.conv.length; i++) {
    const c = z.conv[i];
    // conv weight [Cout][Cin][K]
    edit(`${TensorNames.conv(i + 1)}.weight`, (w, s) => {
      const [co, ci, k] = s;
      for (let o = 0; o < co; o++) for (let j = 0; j < ci; j++) for (let t = 0; t < k; t++) w[(o * ci + j) * k + t] *= c[j];
    });
  }
  cfg.layers.forEach((L, l) => {
    rows(TensorNames.q(l), z.qk[l]);
    rows(TensorNames.k(l), z.qk[l]);
    rows(TensorNames.v(l), z.v[l]);
    let vo = 0;
    L.heads.forEach((_, h) => {
      const w = L.vDims[h];
      cols(TensorNames.out(l), new Float32Array(w).fill(z.heads[l][h]), vo);
      vo += w;
    });
    all(TensorNames.out(l), z.attn[l]);
    cols(TensorNames.ffn2(l), z.ffn[l]);
    all(TensorNames.ffn2(l), z.ffnBlock[l]);
  });
  return out;
}
