/**
 * Size limits a config must respect before anything is planned from it. parseConfig builds one plan entry per layer
 * and per head, and tensorSpecs / the engine size buffers from the config, so a few hostile bytes
 * (`"num_hidden_layers": 1000000000`) would otherwise allocate gigabytes before any tensor is compared with them.
 * Two checks, both O(1) in the config's numbers:
 *   - checkConfigLimits: every size field against a fixed cap (LIMITS; docs/reliability.md lists them), called
 *     first thing in parseConfig;
 *   - checkConfigAgainstTensors: the layer count, the conv layer count and the model width against the tensors that
 *     are actually present, called before the config is parsed wherever both are at hand.
 * Both only look at fields that are numbers (or lists); wrong types are left to parseConfig's own messages.
 */
import { fail } from '../errors.js';
import { LITTLE_ENDIAN, type RawTensor } from '../format/tensor.js';
import { TensorNames as N } from './binding.js';

/**
 * Caps far above every published wav2vec 2.0 / HuBERT / WavLM shape (XLS-R 2B: 48 layers, width 1920, 16 heads,
 * FFN 7680) and low enough that the per-layer and per-head plans stay a few megabytes.
 */
export const LIMITS = {
  /** num_hidden_layers */
  layers: 1024,
  /** num_attention_heads */
  heads: 1024,
  /** num_hidden_layers × num_attention_heads: entries of the per-head plan */
  layerHeads: 65536,
  /** hidden_size */
  hidden: 65536,
  /** intermediate_size and each layer_intermediate_sizes entry */
  intermediate: 1 << 20,
  /** entries of conv_dim */
  convLayers: 64,
  /** each conv_dim entry */
  convDim: 65536,
  /** each conv_kernel / conv_stride entry */
  convKernel: 65536,
  /** num_conv_pos_embeddings */
  posConvKernel: 65536,
  /** WavLM num_buckets */
  buckets: 65536,
  /** WavLM max_bucket_distance */
  bucketDistance: 1 << 24,
} as const;

const CAPS: [key: string, cap: number][] = [
  ['num_hidden_layers', LIMITS.layers],
  ['num_attention_heads', LIMITS.heads],
  ['hidden_size', LIMITS.hidden],
  ['intermediate_size', LIMITS.intermediate],
  ['num_conv_pos_embeddings', LIMITS.posConvKernel],
  ['num_conv_pos_embedding_groups', LIMITS.hidden],
  ['feat_proj_layer_norm_size', LIMITS.convDim],
  ['num_buckets', LIMITS.buckets],
  ['max_bucket_distance', LIMITS.bucketDistance],
];

const LIST_CAPS: [key: string, cap: number][] = [
  ['conv_dim', LIMITS.convDim],
  ['conv_kernel', LIMITS.convKernel],
  ['conv_stride', LIMITS.convKernel],
  ['layer_intermediate_sizes', LIMITS.intermediate],
];

/** Refuse a config whose sizes exceed LIMITS (E_CONFIG, one line naming `source`). Types are parseConfig's job. */
export function checkConfigLimits(json: unknown, source: string): void {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
  const c = json as Record<string, unknown>;
  const over = (what: string, v: number, cap: number): never =>
    fail('E_CONFIG', `${source}: ${what} is ${v}, above slimwav's limit of ${cap}; this is not a model slimwav can run`);
  for (const [key, cap] of CAPS) {
    const v = c[key];
    if (typeof v === 'number' && v > cap) over(`"${key}"`, v, cap);
  }
  for (const [key, cap] of LIST_CAPS) {
    const v = c[key];
    if (!Array.isArray(v)) continue;
    if (key.startsWith('conv_') && v.length > LIMITS.convLayers) over(`the length of "${key}"`, v.length, LIMITS.convLayers);
    if (v.length > LIMITS.layers) over(`the length of "${key}"`, v.length, LIMITS.layers);
    for (const x of v) if (typeof x === 'number' && x > cap) over(`an entry of "${key}"`, x, cap);
  }
  for (const key of ['layer_heads', 'layer_head_qk_dims', 'layer_head_v_dims']) {
    const v = c[key];
    if (!Array.isArray(v)) continue;
    if (v.length > LIMITS.layers) over(`the length of "${key}"`, v.length, LIMITS.layers);
    let total = 0;
    for (const x of v) if (Array.isArray(x)) total += x.length;
    if (total > LIMITS.layerHeads) over(`the number of entries of "${key}"`, total, LIMITS.layerHeads);
  }
  const L = c.num_hidden_layers, H = c.num_attention_heads;
  if (typeof L === 'number' && typeof H === 'number' && L * H > LIMITS.layerHeads) {
    over('"num_hidden_layers" × "num_attention_heads"', L * H, LIMITS.layerHeads);
  }
}

/**
 * Compare the config's sizes with the tensors present, before the config is parsed into plans: a config may not ask
 * for more encoder layers than there are `encoder.layers.{l}` prefixes, more conv layers than
 * `feature_extractor.conv_layers.{i}` prefixes, or a wider model than feature_projection.projection.weight has rows.
 * E_CONFIG naming `configSource` and `tensorSource`. Smaller sizes are checkTensors' to report (it names the tensor).
 * Absent fields and tables without those tensors are left to parseConfig / checkTensors.
 */
export function checkConfigAgainstTensors(json: unknown, tensors: Map<string, RawTensor>, configSource: string, tensorSource: string): void {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
  const c = json as Record<string, unknown>;
  let layers = 0, convs = 0;
  for (const name of tensors.keys()) {
    const l = /^encoder\.layers\.(\d{1,9})\./.exec(name);
    if (l) layers = Math.max(layers, Number(l[1]) + 1);
    const k = /^feature_extractor\.conv_layers\.(\d{1,9})\./.exec(name);
    if (k) convs = Math.max(convs, Number(k[1]) + 1);
  }
  const L = c.num_hidden_layers;
  // every layer stores its two layer norms, so the highest layer index present gives the layer count; a config
  // asking for more than that is refused here (fewer: checkTensors names the first unexpected tensor)
  if (typeof L === 'number' && layers > 0 && L > layers) {
    fail('E_CONFIG', `${configSource}: "num_hidden_layers" is ${L} but ${tensorSource} holds ${layers} encoder layer${layers === 1 ? '' : 's'} (encoder.layers.0..${layers - 1})`);
  }
  const convDim = c.conv_dim;
  if (Array.isArray(convDim) && convs > 0 && convDim.length > convs) {
    fail('E_CONFIG', `${configSource}: "conv_dim" lists ${convDim.length} conv layers but ${tensorSource} holds ${convs} (conv layers 0..${convs - 1})`);
  }
  const D = c.hidden_size;
  const proj = tensors.get(`${N.proj}.weight`);
  if (typeof D === 'number' && proj && proj.shape.length === 2 && D > proj.shape[0]) {
    fail('E_CONFIG', `${configSource}: "hidden_size" is ${D} but ${tensorSource} has ${N.proj}.weight of width ${proj.shape[0]}`);
  }
}

/**
 * Where the exponent lives in one little-endian element: [element bytes, high byte, its mask, low byte, its mask];
 * the element is NaN or ±Inf exactly when both masked parts are all ones (an all-ones exponent).
 */
const EXPONENT: Partial<Record<RawTensor['dtype'], [number, number, number, number, number]>> = {
  F32: [4, 3, 0x7f, 2, 0x80],
  F64: [8, 7, 0x7f, 6, 0xf0],
  BF16: [2, 1, 0x7f, 0, 0x80],
  F16: [2, 1, 0x7c, 1, 0x7c],
};

/** Index of the first NaN/±Inf element of a float tensor, or −1 (integer dtypes: −1). Reads one byte per element. */
export function firstNonFinite(t: RawTensor): number {
  const e = EXPONENT[t.dtype];
  if (!e) return -1;
  if (t.dtype === 'F32' && t.data.byteOffset % 4 === 0 && LITTLE_ENDIAN) {
    // aligned F32: one 32-bit read per element (about 3× faster than a byte each on a 377 MB model)
    const u = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength >> 2);
    for (let i = 0; i < u.length; i++) if ((u[i] & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  const [stride, hi, hm, lo, lm] = e, b = t.data;
  for (let i = hi; i < b.length; i += stride) {
    if ((b[i] & hm) === hm && (b[i - hi + lo] & lm) === lm) return (i - hi) / stride;
  }
  return -1;
}

/**
 * NaN or ±Inf in a weight makes every output NaN without a word. Refuse them (E_SHAPE naming the tensor and the
 * first bad index) or, when the caller opted in (`allowNonFinite`), return one warning line per model instead.
 * Every float tensor is scanned, the F32 scales of int8 weights (`…weight_scale`) included; int8 data cannot hold
 * NaN and is skipped. Costs one byte read per element: about 0.1 s for a 95 M-parameter F32 model (docs/reliability.md).
 */
export function checkFiniteWeights(tensors: Map<string, RawTensor>, source: string, allow = false): string | null {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    const i = firstNonFinite(t);
    if (i < 0) continue;
    if (!allow) nonFiniteError(source, name, i);
    bad.push(name);
  }
  return nonFiniteWarning(source, bad);
}

/** checkFiniteWeights' refusal: element i of tensor `name` is NaN or ±Inf. */
export function nonFiniteError(source: string, name: string, i: number): never {
  return fail('E_SHAPE', `${source}: tensor ${name} holds a NaN or infinite value (element ${i}); weights must be finite (load with allowNonFinite: true to run it anyway)`);
}

/** checkFiniteWeights' warning line for the tensors `bad` (null when there are none). */
export function nonFiniteWarning(source: string, bad: string[]): string | null {
  if (!bad.length) return null;
  return `${source}: ${bad.length} tensor${bad.length === 1 ? '' : 's'} hold NaN or infinite values (${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', …' : ''}); outputs may be NaN`;
}
