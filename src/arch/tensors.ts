/**
 * The tensors a ModelConfig needs (Hugging Face names, docs/format.md), and exact parameter / MAC accounting.
 * `checkTensors` is the single place where a checkpoint is compared with its config: every missing, extra or
 * mis-shaped tensor is refused here, before any memory is planned.
 */
import { fail } from '../errors.js';
import type { RawTensor } from '../format/tensor.js';
import { numel } from '../format/tensor.js';
import { convFrames, type ModelConfig } from './config.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** may be absent (zero-sized tensors, removed blocks' biases, folded/unfolded weight-norm spellings) */
  optional: boolean;
  /** counted in `params` when present (false for tensors the forward pass ignores) */
  used: boolean;
}

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

/** Every tensor the config implies. Weight norm of the positional conv is listed in both spellings, optional. */
export function tensorSpecs(cfg: ModelConfig): TensorSpec[] {
  const out: TensorSpec[] = [];
  const req = (name: string, shape: number[]) => out.push({ name, shape, optional: numel(shape) === 0, used: true });
  const opt = (name: string, shape: number[], used = true) => out.push({ name, shape, optional: true, used });

  let cin = 1;
  cfg.conv.forEach((l, i) => {
    const p = `feature_extractor.conv_layers.${i}`;
    req(`${p}.conv.weight`, [l.dim, cin, l.kernel]);
    if (cfg.convBias) req(`${p}.conv.bias`, [l.dim]);
    if (cfg.featExtractNorm === 'layer' || i === 0) {
      req(`${p}.layer_norm.weight`, [l.dim]);
      req(`${p}.layer_norm.bias`, [l.dim]);
    }
    cin = l.dim;
  });
  // DPHuBERT keeps a per-channel scale of the last conv output (docs/format.md); slimwav keeps it too.
  opt('feature_extractor.dummy_weight', [cin]);
  if (cfg.featProjLayerNorm) {
    req('feature_projection.layer_norm.weight', [cin]);
    req('feature_projection.layer_norm.bias', [cin]);
  }
  const D = cfg.hidden;
  req('feature_projection.projection.weight', [D, cin]);
  // after compaction of the last conv layer: Σ over pruned channels of projection column × LayerNorm gamma (compact.ts)
  opt('feature_projection.pruned_channel_weight', [D]);
  req('feature_projection.projection.bias', [D]);
  const pc = 'encoder.pos_conv_embed.conv';
  opt(`${pc}.weight_g`, [1, 1, cfg.posConvKernel]);
  opt(`${pc}.weight_v`, [D, D / cfg.posConvGroups, cfg.posConvKernel]);
  opt(`${pc}.weight`, [D, D / cfg.posConvGroups, cfg.posConvKernel]);
  req(`${pc}.bias`, [D]);
  req('encoder.layer_norm.weight', [D]);
  req('encoder.layer_norm.bias', [D]);

  const wavlmBias = cfg.modelType === 'wavlm' && cfg.numLayers > 0 && cfg.layers[0].heads.length > 0;
  cfg.layers.forEach((L, l) => {
    const p = `encoder.layers.${l}`;
    const qk = sum(L.qkDims), v = sum(L.vDims);
    const hasAttn = L.heads.length > 0;
    for (const [n, rows] of [['q_proj', qk], ['k_proj', qk], ['v_proj', v]] as const) {
      if (hasAttn) {
        req(`${p}.attention.${n}.weight`, [rows, D]);
        req(`${p}.attention.${n}.bias`, [rows]);
      } else {
        opt(`${p}.attention.${n}.weight`, [0, D], false);
        opt(`${p}.attention.${n}.bias`, [0], false);
      }
    }
    if (hasAttn) {
      req(`${p}.attention.out_proj.weight`, [D, v]);
      req(`${p}.attention.out_proj.bias`, [D]);
    } else {
      opt(`${p}.attention.out_proj.weight`, [D, 0], false);
      opt(`${p}.attention.out_proj.bias`, [D]);
    }
    if (cfg.modelType === 'wavlm') {
      if (l === 0) {
        if (wavlmBias) req(`${p}.attention.rel_attn_embed.weight`, [cfg.numBuckets, cfg.numHeads]);
        else opt(`${p}.attention.rel_attn_embed.weight`, [cfg.numBuckets, cfg.numHeads], false);
      }
      const g = wavlmBias && hasAttn ? req : (n: string, s: number[]) => opt(n, s, false);
      g(`${p}.attention.gru_rel_pos_linear.weight`, [8, cfg.headDim]);
      g(`${p}.attention.gru_rel_pos_linear.bias`, [8]);
      g(`${p}.attention.gru_rel_pos_const`, [1, cfg.numHeads, 1, 1]);
    }
    req(`${p}.layer_norm.weight`, [D]);
    req(`${p}.layer_norm.bias`, [D]);
    const F = L.ffn;
    if (F > 0) {
      req(`${p}.feed_forward.intermediate_dense.weight`, [F, D]);
      req(`${p}.feed_forward.intermediate_dense.bias`, [F]);
      req(`${p}.feed_forward.output_dense.weight`, [D, F]);
      req(`${p}.feed_forward.output_dense.bias`, [D]);
    } else {
      opt(`${p}.feed_forward.intermediate_dense.weight`, [0, D], false);
      opt(`${p}.feed_forward.intermediate_dense.bias`, [0], false);
      opt(`${p}.feed_forward.output_dense.weight`, [D, 0], false);
      opt(`${p}.feed_forward.output_dense.bias`, [D]);
    }
    req(`${p}.final_layer_norm.weight`, [D]);
    req(`${p}.final_layer_norm.bias`, [D]);
  });
  return out;
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Compare a tensor table with the config. Refuses missing, extra and mis-shaped tensors and unusable dtypes,
 * naming the tensor, the expected and the found shape. Returns the specs of the tensors present.
 */
export function checkTensors(cfg: ModelConfig, tensors: Map<string, RawTensor>, source: string): TensorSpec[] {
  const specs = tensorSpecs(cfg);
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const [name, t] of tensors) {
    const s = byName.get(name);
    if (!s) {
      const hint = /^encoder\.layers\.(\d+)\./.exec(name);
      const extra = hint && Number(hint[1]) >= cfg.numLayers ? ` (the config has ${cfg.numLayers} layers)` : '';
      fail('E_SHAPE', `${source}: unexpected tensor ${name} ${shapeStr(t.shape)} that the config does not use${extra}`);
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
      fail('E_SHAPE', `${source}: tensor ${name} has dtype ${t.dtype}; expected a float type (F32, F16, BF16)`);
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      fail('E_SHAPE', `${source}: tensor ${name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(s.shape)} from the config`);
    }
  }
  for (const s of specs) {
    if (!s.optional && !tensors.has(s.name)) fail('E_SHAPE', `${source}: missing tensor ${s.name} (expected shape ${shapeStr(s.shape)})`);
  }
  const pc = 'encoder.pos_conv_embed.conv';
  const folded = tensors.has(`${pc}.weight`);
  const g = tensors.has(`${pc}.weight_g`), v = tensors.has(`${pc}.weight_v`);
  if (folded && (g || v)) fail('E_SHAPE', `${source}: both ${pc}.weight and ${pc}.weight_g/weight_v are present; keep one spelling`);
  if (!folded && !(g && v)) fail('E_SHAPE', `${source}: missing tensor ${pc}.${g ? 'weight_v' : 'weight_g'} (the positional conv needs weight, or weight_g and weight_v)`);
  return specs.filter((s) => tensors.has(s.name));
}

/** Parameters the forward pass uses: the element count of every present tensor that is used. */
export function countParams(cfg: ModelConfig, tensors: Map<string, RawTensor>): number {
  let n = 0;
  for (const s of tensorSpecs(cfg)) {
    const t = tensors.get(s.name);
    if (t && s.used) n += numel(t.shape);
  }
  return n;
}

export interface MacBreakdown {
  conv: number;
  projection: number;
  posConv: number;
  /** per encoder layer: attention projections + scores + weighted values (+ WavLM gate), FFN */
  layers: { attention: number; ffn: number }[];
  total: number;
  frames: number;
}

/** Multiply-accumulates for `samples` samples of 16 kHz audio (norms, GELU and softmax are not counted). */
export function countMacs(cfg: ModelConfig, samples = 16000): MacBreakdown {
  const frames = convFrames(cfg, samples);
  let conv = 0, cin = 1;
  cfg.conv.forEach((l, i) => {
    conv += frames[i] * l.dim * cin * l.kernel;
    cin = l.dim;
  });
  const T = frames[frames.length - 1];
  const D = cfg.hidden;
  const projection = T * cin * D;
  const posConv = T * D * (D / cfg.posConvGroups) * cfg.posConvKernel;
  const wavlm = cfg.modelType === 'wavlm' && cfg.numLayers > 0 && cfg.layers[0].heads.length > 0;
  const layers = cfg.layers.map((L) => {
    let attention = 0;
    L.heads.forEach((_, h) => {
      const q = L.qkDims[h], v = L.vDims[h];
      attention += 2 * T * D * q + 2 * T * D * v + T * T * q + T * T * v;
    });
    if (wavlm && L.heads.length > 0) attention += T * cfg.numHeads * cfg.headDim * 8;
    return { attention, ffn: 2 * T * D * L.ffn };
  });
  const total = conv + projection + posConv + layers.reduce((a, l) => a + l.attention + l.ffn, 0);
  return { conv, projection, posConv, layers, total, frames: T };
}
