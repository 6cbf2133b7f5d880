/**
 * A checkpoint against its config (the tensor list itself is arch/binding.ts's tensorSpecs), and exact parameter /
 * MAC accounting.
 * `checkTensors` is the single place where a checkpoint is compared with its config: every missing, extra or
 * mis-shaped tensor is refused here, before any memory is planned.
 */
import { fail } from '../errors.js';
import type { RawTensor } from '../format/tensor.js';
import { isDeferred, numel } from '../format/tensor.js';
import { convFrames, type ModelConfig } from './config.js';
import { hasRelativeBias, quantizable, tensorSpecs, TensorNames, type TensorSpec } from './binding.js';
import { scaleName } from './quant.js';

export { tensorSpecs, type TensorSpec };

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];
const SCALE_SUFFIX = scaleName('');

/**
 * The weight a `…weight_scale` (or the positional conv's `…weight_v_scale`) tensor name belongs to (arch/quant.ts
 * scaleName), or null for any other name.
 */
export function scaleOwner(name: string): string | null {
  return name.endsWith(`.weight${SCALE_SUFFIX}`) || name.endsWith(`.weight_v${SCALE_SUFFIX}`) ? name.slice(0, -SCALE_SUFFIX.length) : null;
}

/**
 * Compare a tensor table with the config. Refuses missing, extra and mis-shaped tensors and unusable dtypes,
 * naming the tensor, the expected and the found shape. Returns the specs of the tensors present.
 *
 * int8 (q8) weights: a tensor whose spec allows it (spec.q8: linear layers, conv layers ≥ 1, the positional conv's
 * stored weight or weight_v) may be I8 with values
 * in −127..127 and its scales in the F32 tensor `<weight>_scale` [rows], every scale > 0. Everything else about them
 * is refused here, naming the tensor: I8 where a float is required, an I8 weight without scales, scales without an
 * I8 weight, mis-shaped or non-F32 scales, a scale ≤ 0, the value −128. NaN/±Inf scales are checkFiniteWeights'
 * (arch/limits.ts) to refuse, like NaN weights (so `allowNonFinite` treats them alike).
 */
export function checkTensors(cfg: ModelConfig, tensors: Map<string, RawTensor>, source: string): TensorSpec[] {
  const specs = tensorSpecs(cfg);
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const [name, t] of tensors) {
    const s = byName.get(name);
    const owner = s ? null : scaleOwner(name);
    if (owner !== null && byName.get(owner)?.q8) {
      checkScale(name, t, owner, tensors.get(owner), source);
      continue;
    }
    if (!s) {
      const extra = TensorNames.layerOf(name) >= cfg.numLayers ? ` (the config has ${cfg.numLayers} layers)` : '';
      fail('E_SHAPE', `${source}: unexpected tensor ${name} ${shapeStr(t.shape)} that the config does not use${extra}`);
    }
    if (t.dtype === 'I8' && !s.q8) {
      fail('E_SHAPE', `${source}: tensor ${name} is int8 (I8) but must be a float type (F32, F16, BF16); only linear layers, conv layers from 1 on and the positional conv's weight (or weight_v) may be int8`);
    }
    if (t.dtype !== 'I8' && !FLOAT_DTYPES.includes(t.dtype)) {
      fail('E_SHAPE', `${source}: tensor ${name} has dtype ${t.dtype}; expected a float type (F32, F16, BF16)${s.q8 ? ' or int8 (I8) with scales' : ''}`);
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      fail('E_SHAPE', `${source}: tensor ${name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(s.shape)} from the config`);
    }
    if (t.dtype === 'I8') {
      if (!tensors.has(scaleName(name))) {
        fail('E_SHAPE', `${source}: int8 tensor ${name} has no ${scaleName(name)} (its F32 scales, one per output row)`);
      }
      // bytes still in their file (load()): the loader's ChunkReader runs this check on them as they pass
      if (!isDeferred(t)) checkInt8Range(source, name, t.data, 0);
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

/** int8 weights hold −127..127 (E_SHAPE naming the element otherwise); `bytes` are elements first, first + 1, … */
export function checkInt8Range(source: string, name: string, bytes: Uint8Array, first: number): void {
  const i = bytes.indexOf(0x80);
  if (i >= 0) fail('E_SHAPE', `${source}: int8 tensor ${name} holds −128 (element ${first + i}), outside the symmetric range −127..127 of slimwav's int8 weights`);
}

/** The scales `name` of the int8 weight `owner`: F32 [rows of the weight], every value > 0 (NaN/Inf: see above). */
function checkScale(name: string, t: RawTensor, owner: string, w: RawTensor | undefined, source: string): void {
  if (!w || w.dtype !== 'I8') {
    fail('E_SHAPE', `${source}: scale tensor ${name} belongs to an int8 weight, but ${owner} is ${w ? `${w.dtype}, not I8` : 'absent'}`);
  }
  if (t.dtype !== 'F32') fail('E_SHAPE', `${source}: scale tensor ${name} has dtype ${t.dtype}; int8 scales must be F32`);
  const rows = w.shape[0] ?? 1;
  if (t.shape.length !== 1 || t.shape[0] !== rows) {
    fail('E_SHAPE', `${source}: scale tensor ${name} has shape ${shapeStr(t.shape)}, expected [${rows}] (one scale per output row of ${owner})`);
  }
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (let r = 0; r < rows; r++) {
    const v = dv.getFloat32(r * 4, true);
    // NaN fails neither test: it is left to the finite-weights check
    if (v <= 0) fail('E_SHAPE', `${source}: scale tensor ${name} holds ${Object.is(v, -0) ? '-0' : v} (row ${r}); int8 scales must be positive`);
  }
}

/**
 * Parameters the forward pass uses: the element count of every present tensor that is used. An int8 weight counts
 * once, as its elements; its scales are not parameters (they are part of how the weight is stored).
 */
export function countParams(cfg: ModelConfig, tensors: Map<string, RawTensor>): number {
  let n = 0;
  for (const s of tensorSpecs(cfg)) {
    const t = tensors.get(s.name);
    if (t && s.used) n += numel(t.shape);
  }
  return n;
}

/**
 * How a model's weights are stored, for `inspect`: 'q8' when every quantizable weight present (with elements) is I8
 * and every other tensor F32 (what `convert --dtype q8` writes; the positional conv, int8 for storage only, may be
 * either); one float type in lower case when all tensors have it; otherwise 'mixed'. Scale tensors are not looked at.
 */
export function storageDType(cfg: ModelConfig, tensors: Map<string, RawTensor>): string {
  const specs = new Map(tensorSpecs(cfg).map((s) => [s.name, s]));
  const kinds = new Set<string>();
  let i8 = 0, quantizableFloat = 0;
  for (const [name, t] of tensors) {
    const s = specs.get(name);
    if (!s) continue; // scales
    if (s.q8 && numel(t.shape) > 0) {
      if (t.dtype === 'I8') { i8++; continue; }
      if (quantizable(name)) quantizableFloat++;
    }
    if (t.dtype !== 'I8') kinds.add(t.dtype);
  }
  if (i8 > 0) return quantizableFloat === 0 && [...kinds].every((k) => k === 'F32') ? 'q8' : 'mixed';
  return kinds.size === 1 ? [...kinds][0].toLowerCase() : kinds.size === 0 ? 'f32' : 'mixed';
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
