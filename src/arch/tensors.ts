/**
 * A checkpoint against its config (the tensor list itself is arch/binding.ts's tensorSpecs), and exact parameter /
 * MAC accounting.
 * `checkTensors` is the single place where a checkpoint is compared with its config: every missing, extra or
 * mis-shaped tensor is refused here, before any memory is planned.
 */
import { fail } from '../errors.js';
import type { RawTensor } from '../format/tensor.js';
import { numel } from '../format/tensor.js';
import { convFrames, type ModelConfig } from './config.js';
import { hasRelativeBias, tensorSpecs, TensorNames, type TensorSpec } from './binding.js';

export { tensorSpecs, type TensorSpec };

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
      const extra = TensorNames.layerOf(name) >= cfg.numLayers ? ` (the config has ${cfg.numLayers} layers)` : '';
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
  const pc = TensorNames.posConv;
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
  const wavlm = hasRelativeBias(cfg);
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
