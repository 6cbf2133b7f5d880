/**
 * The model, written once: tensor names, the tensor list a config implies, the typed per-block weights they bind to,
 * and the block plan (the order of sub-steps of the front end and of an encoder layer). The engine
 * (runtime/engine.ts), the pruner's student (prune/student.ts), compaction (prune/compact.ts) and the ONNX export
 * (onnx/export.ts) all read weights through bindWeights(); the engine, the student and the export walk the block plan
 * (frontSteps() for the front end, layerSteps() for each layer). No other module spells a tensor name (the
 * checkpoint importers' key-mapping tables aside, arch/checkpoint.ts).
 *
 * Shapes stay in Hugging Face layout here ([out][in] for linear layers, [Cout][Cin/G][K] for convs): each consumer
 * packs or re-lays them as it needs. Everything per layer that is derived from the config (fused q|k|v widths and
 * per-head offsets) is computed here once.
 */
import { fail } from '../errors.js';
import type { RawTensor } from '../format/tensor.js';
import { fromFloat32, numel, toFloat32, toFloat32View } from '../format/tensor.js';
import type { LayerPlan, ModelConfig } from './config.js';
import { dequantizeRows, quantizeRows, scaleName, sliceRows, type Q8 } from './quant.js';

/** eps of the conv blocks' GroupNorm / LayerNorm (nn.GroupNorm / nn.LayerNorm defaults, torchaudio and HF alike) */
export const CONV_NORM_EPS = 1e-5;

// ---------------------------------------------------------------------------------------------------------------
// Tensor names (Hugging Face spelling). A "prefix" names a module whose tensors are `${prefix}.weight` / `.bias`.

const conv = (i: number) => `feature_extractor.conv_layers.${i}`;
const layer = (l: number) => `encoder.layers.${l}`;
const POS = 'encoder.pos_conv_embed.conv';

export const TensorNames = {
  conv: (i: number) => `${conv(i)}.conv`,
  convNorm: (i: number) => `${conv(i)}.layer_norm`,
  dummy: 'feature_extractor.dummy_weight',
  projNorm: 'feature_projection.layer_norm',
  proj: 'feature_projection.projection',
  prunedChannelWeight: 'feature_projection.pruned_channel_weight',
  /** the positional conv: `${posConv}.weight` (folded) or `.weight_g` + `.weight_v` (weight norm), and `.bias` */
  posConv: POS,
  posConvWeightG: `${POS}.weight_g`,
  posConvWeightV: `${POS}.weight_v`,
  encoderNorm: 'encoder.layer_norm',
  /** WavLM's relative position embedding [num_buckets][H], held by layer 0 for every layer */
  relEmbed: `${layer(0)}.attention.rel_attn_embed.weight`,
  q: (l: number) => `${layer(l)}.attention.q_proj`,
  k: (l: number) => `${layer(l)}.attention.k_proj`,
  v: (l: number) => `${layer(l)}.attention.v_proj`,
  out: (l: number) => `${layer(l)}.attention.out_proj`,
  gru: (l: number) => `${layer(l)}.attention.gru_rel_pos_linear`,
  gruConst: (l: number) => `${layer(l)}.attention.gru_rel_pos_const`,
  norm1: (l: number) => `${layer(l)}.layer_norm`,
  ffn1: (l: number) => `${layer(l)}.feed_forward.intermediate_dense`,
  ffn2: (l: number) => `${layer(l)}.feed_forward.output_dense`,
  norm2: (l: number) => `${layer(l)}.final_layer_norm`,
  /** the encoder layer a tensor name belongs to, or -1 */
  layerOf: (name: string): number => {
    const m = /^encoder\.layers\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : -1;
  },
} as const;
const N = TensorNames;

// ---------------------------------------------------------------------------------------------------------------
// Rules derived from the config

/**
 * WavLM's relative position bias exists iff the model is WavLM, has a layer, and layer 0 (which holds the embedding)
 * keeps attention; then every layer that keeps attention gates it with its own gru_rel_pos_* tensors.
 */
export function hasRelativeBias(cfg: ModelConfig): boolean {
  return cfg.modelType === 'wavlm' && cfg.numLayers > 0 && cfg.layers[0].heads.length > 0;
}

/** Whether layer `l` adds the (gated) relative position bias to its attention scores. */
export function layerUsesRelativeBias(cfg: ModelConfig, l: number): boolean {
  return hasRelativeBias(cfg) && cfg.layers[l].heads.length > 0;
}

/** Widths and per-head column offsets of a layer's fused [q; k; v] projection output. */
export interface HeadLayout {
  /** Σ query/key widths, Σ value widths, fused row count 2·qkTotal + vTotal */
  qkTotal: number;
  vTotal: number;
  rows: number;
  /** per kept head: first q (and, + qkTotal, k) column; first v column within the v part (+ 2·qkTotal in the fused) */
  qOff: number[];
  vOff: number[];
}

export function headLayout(L: LayerPlan): HeadLayout {
  const qOff: number[] = [], vOff: number[] = [];
  let qkTotal = 0, vTotal = 0;
  L.qkDims.forEach((d) => { qOff.push(qkTotal); qkTotal += d; });
  L.vDims.forEach((d) => { vOff.push(vTotal); vTotal += d; });
  return { qkTotal, vTotal, rows: 2 * qkTotal + vTotal, qOff, vOff };
}

// ---------------------------------------------------------------------------------------------------------------
// The tensor list a config implies

export interface TensorSpec {
  name: string;
  shape: number[];
  /** may be absent (zero-sized tensors, removed blocks' biases, folded/unfolded weight-norm spellings) */
  optional: boolean;
  /** counted in `params` when present (false for tensors the forward pass ignores) */
  used: boolean;
  /**
   * may be stored as int8 (I8) with its F32 per-row scales in `scaleName(name)` [shape[0]] (storableInt8(name);
   * arch/quant.ts); every other tensor must be a float type
   */
  q8: boolean;
}

/** Every tensor the config implies. Weight norm of the positional conv is listed in both spellings, optional. */
export function tensorSpecs(cfg: ModelConfig): TensorSpec[] {
  const out: TensorSpec[] = [];
  const req = (name: string, shape: number[]) => out.push({ name, shape, optional: numel(shape) === 0, used: true, q8: storableInt8(name) });
  const opt = (name: string, shape: number[], used = true) => out.push({ name, shape, optional: true, used, q8: storableInt8(name) });
  const unused = (name: string, shape: number[]) => opt(name, shape, false);
  const lin = (add: typeof req, p: string, rows: number, cols: number, bias = true) => {
    add(`${p}.weight`, [rows, cols]);
    if (bias) add(`${p}.bias`, [rows]);
  };
  const norm = (p: string, n: number) => { req(`${p}.weight`, [n]); req(`${p}.bias`, [n]); };

  let cin = 1;
  cfg.conv.forEach((l, i) => {
    req(`${N.conv(i)}.weight`, [l.dim, cin, l.kernel]);
    if (cfg.convBias) req(`${N.conv(i)}.bias`, [l.dim]);
    if (convHasNorm(cfg, i)) norm(N.convNorm(i), l.dim);
    cin = l.dim;
  });
  // DPHuBERT keeps a per-channel scale of the last conv output; slimwav keeps it too.
  opt(N.dummy, [cin]);
  if (cfg.featProjLayerNorm) norm(N.projNorm, cin);
  const D = cfg.hidden;
  req(`${N.proj}.weight`, [D, cin]);
  // after compaction of the last conv layer: Σ over pruned channels of projection column × LayerNorm gamma (compact.ts)
  opt(N.prunedChannelWeight, [D]);
  req(`${N.proj}.bias`, [D]);
  opt(N.posConvWeightG, [1, 1, cfg.posConvKernel]);
  opt(N.posConvWeightV, [D, D / cfg.posConvGroups, cfg.posConvKernel]);
  opt(`${N.posConv}.weight`, [D, D / cfg.posConvGroups, cfg.posConvKernel]);
  req(`${N.posConv}.bias`, [D]);
  norm(N.encoderNorm, D);

  const relBias = hasRelativeBias(cfg);
  cfg.layers.forEach((L, l) => {
    const { qkTotal: qk, vTotal: v } = headLayout(L);
    const hasAttn = L.heads.length > 0;
    const attn = hasAttn ? req : unused;
    lin(attn, N.q(l), qk, D);
    lin(attn, N.k(l), qk, D);
    lin(attn, N.v(l), v, D);
    attn(`${N.out(l)}.weight`, [D, v]);
    (hasAttn ? req : opt)(`${N.out(l)}.bias`, [D]);
    if (cfg.modelType === 'wavlm') {
      if (l === 0) (relBias ? req : unused)(N.relEmbed, [cfg.numBuckets, cfg.numHeads]);
      const g = relBias && hasAttn ? req : unused;
      lin(g, N.gru(l), 8, cfg.headDim);
      g(N.gruConst(l), [1, cfg.numHeads, 1, 1]);
    }
    norm(N.norm1(l), D);
    const F = L.ffn, ffn = F > 0 ? req : unused;
    lin(ffn, N.ffn1(l), F, D);
    ffn(`${N.ffn2(l)}.weight`, [D, F]);
    (F > 0 ? req : opt)(`${N.ffn2(l)}.bias`, [D]);
    norm(N.norm2(l), D);
  });
  return out;
}

/** Conv layer i has a norm: every layer under a LayerNorm extractor, layer 0's GroupNorm under a group one. */
export function convHasNorm(cfg: ModelConfig, i: number): boolean {
  return cfg.featExtractNorm === 'layer' || i === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Typed weights

export interface Norm {
  weight: Float32Array;
  bias: Float32Array;
}

/**
 * y = x·weightᵀ + bias, weight [rows][cols]. `q8`: the same weight in int8 with one scale per row (arch/quant.ts),
 * present when the file holds it that way or the caller asked for quantization; `weight` is then its dequantization,
 * computed on first use (the engine's q8 path never touches it).
 */
export interface Dense {
  weight: Float32Array;
  q8: Q8 | null;
  bias: Float32Array | null;
  rows: number;
  cols: number;
  /**
   * The fused q|k|v weight's f32 parts, [first row, rows, weight] (absent elsewhere): `weight` is built from them on
   * first read, so a reader that packs row ranges (the engine) never makes the fused copy.
   */
  parts?: [number, number, Float32Array][];
  /**
   * With BindOptions.defer: the stored tensors this weight is made of, so a reader can stream them (the engine);
   * `weight`, `q8` and `parts` are then computed from them only when read.
   */
  stored?: StoredPart[];
}

/**
 * Rows [row0, row0 + rows) of a weight [·][cols] as stored: the tensor `name` (a float dtype, or I8 with its F32
 * per-row `scale`). `q8`: the weight may run as int8 (quantizable(name)).
 */
export interface StoredPart {
  name: string;
  tensor: RawTensor;
  row0: number;
  rows: number;
  cols: number;
  scale: Float32Array | null;
  q8: boolean;
}

export interface ConvBlock {
  /** [dim][cin][kernel] */
  weight: Float32Array;
  /** int8 [dim][cin·kernel] with one scale per output channel (conv layers ≥ 1 only; see Dense.q8) */
  q8: Q8 | null;
  bias: Float32Array | null;
  norm: Norm | null;
  dim: number;
  cin: number;
  kernel: number;
  stride: number;
  /** with BindOptions.defer: the stored weight [dim][cin·kernel] (see Dense.stored) */
  stored?: StoredPart[];
}

export interface FrontWeights {
  conv: ConvBlock[];
  /** channels of the last conv layer */
  channels: number;
  /** DPHuBERT's per-channel scale of the last conv output */
  dummy: Float32Array | null;
  projNorm: Norm | null;
  /** true when the projection LayerNorm takes its statistics over more channels than are stored (virtual zeros) */
  virtualZeros: boolean;
  proj: Dense;
  /** Σ over compacted-away channels of projection column × LayerNorm gamma (only with virtual zeros) */
  prunedChannelWeight: Float32Array | null;
}

export interface PosConvWeights {
  /** weight norm folded: [D][D/G][K] (with `q8`: folded from the dequantized weight_v, or the dequantized weight) */
  weight: Float32Array;
  /**
   * The int8 form of the tensor the checkpoint stores (weight_v when `weightNorm`, else the folded weight), as
   * [D][D/G·K] rows with one scale per output channel. Storage only: the positional conv always runs in f32 on
   * `weight`, so int8 here saves file bytes, not time; writers keep it so a q8 file round-trips byte for byte.
   */
  q8: Q8 | null;
  bias: Float32Array;
  groups: number;
  /** channels per group */
  cg: number;
  kernel: number;
  /** the checkpoint spelled it as weight_g / weight_v (kept so writers can keep the spelling) */
  weightNorm: { g: Float32Array; v: Float32Array } | null;
  /**
   * with BindOptions.defer: the stored weight [D][cg·kernel] (folded, g null) or weight_v with its g (weight norm, to
   * fold with foldWeightNormInPlace), f32 or int8 with its scales (a reader dequantizes it per row: it runs in f32);
   * `weight`, `weightNorm` and `q8` are then computed only when read
   */
  stored?: {
    part: StoredPart;
    g: Float32Array | null;
    /** float rows to be rounded through int8 as they are read (BindOptions.quantize): what quantizeRows then
     * dequantizeRows make of each row */
    roundQ8: boolean;
  };
}

export interface AttentionWeights {
  /** fused [q; k; v] rows: [0, qkTotal) q, [qkTotal, 2·qkTotal) k, [2·qkTotal, rows) v */
  qkv: Dense;
  out: Dense;
  /** WavLM gru_rel_pos_linear [8][headDim] and gru_rel_pos_const [H] (layers that use the relative bias) */
  gru: Dense | null;
  gruConst: Float32Array | null;
}

export interface LayerWeights extends HeadLayout {
  index: number;
  plan: LayerPlan;
  /** null: attention block removed */
  attn: AttentionWeights | null;
  /** out_proj.bias of a removed attention block (added to the residual), null when absent */
  attnBias: Float32Array | null;
  norm1: Norm;
  /** null: FFN block removed */
  ffn: { in: Dense; out: Dense } | null;
  /** output_dense.bias of a removed FFN block, null when absent */
  ffnBias: Float32Array | null;
  norm2: Norm;
  /** the sub-steps of this layer, in order (block plan) */
  steps: LayerStep[];
}

export interface ModelWeights {
  cfg: ModelConfig;
  front: FrontWeights;
  pos: PosConvWeights;
  encoderNorm: Norm;
  /** WavLM relative position embedding [num_buckets][H], when hasRelativeBias(cfg) */
  relEmbed: Float32Array | null;
  layers: LayerWeights[];
  /** the front end's steps, waveform to hidden state 0, in order (block plan, frontSteps) */
  frontSteps: FrontStep[];
}

/** Options of bindWeights. */
export interface BindOptions {
  /**
   * quantize every f32 weight storableInt8() names at bind time, as `load(…, { dtype: 'q8' })` does; the positional
   * conv is rounded through int8 and back, so the weights equal those of the same model written by convert --dtype q8
   */
  quantize?: boolean;
  /**
   * F32 tensors come back as views of their bytes where aligned (format/tensor.ts toFloat32View), not copies: for a
   * caller that only reads the weights (the engine packs them); the default is fresh arrays a caller may edit.
   */
  views?: boolean;
  /**
   * Leave the large weights (linear layers, conv layers, the positional conv) unread: each gets `stored` (the
   * tensors it is made of) for a caller that streams them (the engine, through format/tensor.ts ChunkReader), and
   * its `weight` / `q8` / `parts` / `weightNorm` are computed as without defer only if read. Small tensors (biases,
   * norms) are read as usual.
   */
  defer?: boolean;
}

/**
 * Which weights a q8 model computes in int8: every linear layer of the encoder and the feature projection, and the
 * conv layers from 1 on (conv layer 0 has one input channel and K = kernel taps: too few multiply-adds per output to
 * gain, and the waveform is its input). The positional conv (int8 in the file only: storableInt8), WavLM's gate
 * projection and all norms compute in f32.
 */
export function quantizable(name: string): boolean {
  if (!name.endsWith('.weight')) return false;
  const p = name.slice(0, -'.weight'.length);
  const m = /^feature_extractor\.conv_layers\.(\d+)\.conv$/.exec(p);
  if (m) return Number(m[1]) >= 1;
  return p === N.proj || /^encoder\.layers\.\d+\.(attention\.(q_proj|k_proj|v_proj|out_proj)|feed_forward\.(intermediate_dense|output_dense))$/.test(p);
}

/**
 * Which tensors a q8 file may store as int8 (I8 plus `_scale`): the quantizable() weights, and the positional conv's
 * stored weight (`weight`, or `weight_v` under weight norm; weight_g stays F32). The positional conv is quantized for
 * storage only: bindWeights dequantizes it (and folds the weight norm) into the f32 weight its DFT / GEMM runs on.
 */
export function storableInt8(name: string): boolean {
  return quantizable(name) || name === `${N.posConv}.weight` || name === N.posConvWeightV;
}

/** Give `obj` a `weight` that is the dequantization of obj.q8, computed on first read and kept. */
function lazyWeight<T extends { q8: Q8 | null }>(obj: T, rows: number, cols: number): T & { weight: Float32Array } {
  let cached: Float32Array | null = null;
  Object.defineProperty(obj, 'weight', {
    enumerable: true,
    get: () => (cached ??= dequantizeRows(obj.q8!, rows, cols)),
    set: (v: Float32Array) => { cached = v; },
  });
  return obj as T & { weight: Float32Array };
}

/** Define `keys` of obj as getters (and setters) of the object compute() returns, computed on first use. */
function deferKeys<T extends object>(obj: T, keys: string[], compute: () => object): T {
  let v: Record<string, unknown> | null = null;
  const get = () => (v ??= compute() as Record<string, unknown>);
  for (const k of keys) {
    Object.defineProperty(obj, k, {
      enumerable: true,
      configurable: true,
      get: () => get()[k],
      set: (x: unknown) => { get()[k] = x; },
    });
  }
  return obj;
}

/**
 * (config, tensors) → typed weights. The tensors must have passed checkTensors(cfg, …) (arch/tensors.ts); a tensor
 * the config needs and that is missing is E_SHAPE naming it. An int8 (I8) weight is read with its `_scale` tensor
 * as q8 (only where storableInt8() allows; elsewhere I8 is refused); `opts.quantize` quantizes the f32 ones.
 */
export function bindWeights(cfg: ModelConfig, tensors: Map<string, RawTensor>, source = 'model', opts: BindOptions = {}): ModelWeights {
  const get = (name: string): Float32Array | null => {
    const t = tensors.get(name);
    if (t && t.dtype === 'I8') fail('E_SHAPE', `${source}: tensor ${name} is int8 (I8), but this tensor must be a float type`);
    return t && numel(t.shape) > 0 ? (opts.views ? toFloat32View(t, name) : toFloat32(t, name)) : null;
  };
  const need = (name: string): Float32Array => get(name) ?? fail('E_SHAPE', `${source}: missing tensor ${name}`);
  /** the per-row scales of the int8 tensor `name` [rows][cols], with its size and theirs checked */
  const int8Scales = (name: string, t: RawTensor, rows: number, cols: number): Float32Array => {
    const s = tensors.get(scaleName(name));
    if (!s) fail('E_SHAPE', `${source}: int8 tensor ${name} has no ${scaleName(name)}`);
    if (numel(t.shape) !== rows * cols) fail('E_SHAPE', `${source}: int8 tensor ${name} has ${numel(t.shape)} values, expected ${rows}×${cols}`);
    const scale = toFloat32(s, scaleName(name));
    if (scale.length !== rows) fail('E_SHAPE', `${source}: ${scaleName(name)} has ${scale.length} values, expected ${rows} (one per output channel)`);
    return scale;
  };
  /** a q8-capable weight [rows][cols]: int8 from the file, f32 quantized on request, or plain f32 */
  const eagerWeightOf = (name: string, rows: number, cols: number): { weight: Float32Array; q8: Q8 | null } => {
    const t = tensors.get(name);
    if (t && t.dtype === 'I8') {
      const scale = int8Scales(name, t, rows, cols);
      const q = new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      return lazyWeight({ q8: { q: q.slice(), scale } }, rows, cols);
    }
    const weight = need(name);
    // quantized on request: the f32 original is dropped, and .weight is then the dequantization (as for a q8 file)
    return opts.quantize ? lazyWeight({ q8: quantizeRows(weight, rows, cols) }, rows, cols) : { weight, q8: null };
  };
  /**
   * defer: the stored form of a weight [rows][cols] (row0 within the weight it is part of), checked as eagerWeightOf
   * checks it; null when absent or empty (the eager path then says what is wrong)
   */
  const storedOf = (name: string, rows: number, cols: number, q8: boolean, row0 = 0, int8 = q8): StoredPart | null => {
    const t = tensors.get(name);
    if (!t || numel(t.shape) === 0) return null;
    let scale: Float32Array | null = null;
    if (t.dtype === 'I8') {
      if (!int8) fail('E_SHAPE', `${source}: tensor ${name} is int8 (I8), but this tensor must be a float type`);
      scale = int8Scales(name, t, rows, cols);
    } else if (numel(t.shape) !== rows * cols) {
      fail('E_SHAPE', `${name}: ${t.dtype}${JSON.stringify(t.shape)} holds ${numel(t.shape)} values, expected ${rows}×${cols}`);
    }
    return { name, tensor: t, row0, rows, cols, scale, q8 };
  };
  /** with defer: a weight whose values are read only when asked for, and its stored form */
  const weightOf = (name: string, rows: number, cols: number, q8 = true): { weight: Float32Array; q8: Q8 | null; stored?: StoredPart[] } => {
    const eager = () => (q8 ? eagerWeightOf(name, rows, cols) : { weight: need(name), q8: null });
    if (!opts.defer) return eager();
    const part = storedOf(name, rows, cols, q8);
    const w = deferKeys({} as { weight: Float32Array; q8: Q8 | null; stored?: StoredPart[] }, ['weight', 'q8'], eager);
    if (part) w.stored = [part];
    return w;
  };
  const norm = (p: string): Norm => ({ weight: need(`${p}.weight`), bias: need(`${p}.bias`) });
  const dense = (p: string, rows: number, cols: number, q = true): Dense => {
    const w = q ? weightOf(`${p}.weight`, rows, cols) : { weight: need(`${p}.weight`), q8: null };
    return Object.assign(w, { bias: need(`${p}.bias`), rows, cols });
  };
  const D = cfg.hidden;

  let cin = 1;
  const convs = cfg.conv.map((l, i): ConvBlock => {
    const w = weightOf(`${N.conv(i)}.weight`, l.dim, cin * l.kernel, i >= 1);
    const c: ConvBlock = Object.assign(w, {
      bias: cfg.convBias ? need(`${N.conv(i)}.bias`) : null,
      norm: convHasNorm(cfg, i) ? norm(N.convNorm(i)) : null,
      dim: l.dim, cin, kernel: l.kernel, stride: l.stride,
    });
    cin = l.dim;
    return c;
  });
  const virtualZeros = cfg.featProjLayerNorm && cfg.featProjNormSize > cin;
  const front: FrontWeights = {
    conv: convs,
    channels: cin,
    dummy: get(N.dummy),
    projNorm: cfg.featProjLayerNorm ? norm(N.projNorm) : null,
    virtualZeros,
    proj: dense(N.proj, D, cin),
    prunedChannelWeight: get(N.prunedChannelWeight),
  };

  const G = cfg.posConvGroups, cg = D / G, Kw = cfg.posConvKernel;
  // the stored tensor (folded weight, or weight_v beside weight_g) may be int8: dequantized here, f32 from then on
  const foldedName = `${N.posConv}.weight`, ft = tensors.get(foldedName);
  const isFolded = !!ft && numel(ft.shape) > 0;
  const storedName = isFolded ? foldedName : N.posConvWeightV;
  const posWeights = () => {
    const stored = opts.defer ? eagerWeightOf(storedName, D, cg * Kw) : weightOf(storedName, D, cg * Kw);
    const wn = isFolded ? null : { g: need(N.posConvWeightG), v: stored.weight };
    return { weight: wn ? foldWeightNorm(wn.g, wn.v, D, cg, Kw) : stored.weight, q8: stored.q8, weightNorm: wn };
  };
  const posBase = { bias: need(`${N.posConv}.bias`), groups: G, cg, kernel: Kw };
  let pos: PosConvWeights;
  // streamed from the file (engine, load()) as stored: floats, or int8 the reader dequantizes per row; rounded
  // through int8 on request (quantize), row by row as it streams (roundQ8)
  if (opts.defer) {
    pos = deferKeys(posBase as PosConvWeights, ['weight', 'weightNorm', 'q8'], posWeights);
    const part = storedOf(storedName, D, cg * Kw, false, 0, true);
    if (part && (isFolded || tensors.has(N.posConvWeightG))) {
      pos.stored = { part, g: isFolded ? null : need(N.posConvWeightG), roundQ8: !!opts.quantize && part.scale === null };
    }
  } else {
    pos = { ...posBase, ...posWeights() };
  }

  const relBias = hasRelativeBias(cfg);
  const layers = cfg.layers.map((L, l): LayerWeights => {
    const hl = headLayout(L);
    let attn: AttentionWeights | null = null;
    if (L.heads.length > 0) {
      const parts = [[N.q(l), 0, hl.qkTotal], [N.k(l), hl.qkTotal, hl.qkTotal], [N.v(l), 2 * hl.qkTotal, hl.vTotal]] as const;
      const b = new Float32Array(hl.rows);
      /** the fused weight as bound without defer: f32 parts, or int8 rows when any part is int8 */
      const fuse = (): Pick<Dense, 'weight' | 'q8' | 'parts'> => {
        const bound = parts.map(([p, , rows]) => (rows === 0 ? null : eagerWeightOf(`${p}.weight`, rows, D)));
        const anyQ8 = bound.some((w) => w?.q8);
        const qkv: Pick<Dense, 'weight' | 'q8' | 'parts'> = { weight: new Float32Array(0), q8: null };
        if (anyQ8) {
          // fused int8 rows and their scales (a part stored as f32 next to int8 ones is quantized to match)
          const q = new Int8Array(hl.rows * D), scale = new Float32Array(hl.rows);
          parts.forEach(([, off, rows], j) => {
            const w = bound[j];
            if (!w) return;
            const q8 = w.q8 ?? quantizeRows(w.weight, rows, D);
            q.set(q8.q, off * D);
            scale.set(q8.scale, off);
          });
          qkv.q8 = { q, scale };
          lazyWeight(qkv, hl.rows, D);
        } else {
          const fused = parts.flatMap(([, off, rows], j) => (bound[j] ? [[off, rows, bound[j]!.weight] as [number, number, Float32Array]] : []));
          qkv.parts = fused;
          deferKeys(qkv, ['weight'], () => {
            const weight = new Float32Array(hl.rows * D);
            for (const [off, , w] of fused) weight.set(w, off * D);
            return { weight };
          });
        }
        return qkv;
      };
      let qkv: Dense;
      if (opts.defer) {
        qkv = deferKeys({ bias: b, rows: hl.rows, cols: D } as Dense, ['weight', 'q8', 'parts'], fuse);
        const stored = parts.flatMap(([p, off, rows]) => (rows === 0 ? [] : [storedOf(`${p}.weight`, rows, D, true, off)]));
        if (stored.every((x) => x !== null)) qkv.stored = stored as StoredPart[];
      } else {
        qkv = Object.assign(fuse(), { bias: b, rows: hl.rows, cols: D });
      }
      parts.forEach(([p, off, rows]) => { if (rows > 0) b.set(need(`${p}.bias`), off); });
      const gate = relBias;
      attn = {
        qkv,
        out: dense(N.out(l), D, hl.vTotal),
        gru: gate ? dense(N.gru(l), 8, cfg.headDim, false) : null,
        gruConst: gate ? need(N.gruConst(l)) : null,
      };
    }
    const ffn = L.ffn > 0 ? { in: dense(N.ffn1(l), L.ffn, D), out: dense(N.ffn2(l), D, L.ffn) } : null;
    return {
      index: l, plan: L, ...hl,
      attn,
      attnBias: attn ? null : get(`${N.out(l)}.bias`),
      norm1: norm(N.norm1(l)),
      ffn,
      ffnBias: ffn ? null : get(`${N.ffn2(l)}.bias`),
      norm2: norm(N.norm2(l)),
      steps: [],
    };
  });
  layers.forEach((w) => { w.steps = layerSteps(cfg, w); });
  return {
    cfg, front, pos,
    encoderNorm: norm(N.encoderNorm),
    relEmbed: relBias ? need(N.relEmbed) : null,
    layers,
    frontSteps: frontSteps(cfg, front),
  };
}

/**
 * The inverse of bindWeights: typed weights → the tensor table (Hugging Face names, F32). Fused q|k|v rows are split
 * back into q_proj / k_proj / v_proj; the positional conv keeps the checkpoint's spelling (folded weight or
 * weight_g / weight_v); removed blocks keep their bias when they have one. Tensors the config ignores (gates of
 * layers without the relative bias) are written when bound, so a round trip loses nothing the forward pass uses.
 * With `q8`, every weight that has an int8 form (the positional conv's stored tensor included) is written as I8 plus
 * its F32 `_scale` tensor (arch/quant.ts); without it, such weights are written as their f32 dequantization.
 */
export function weightsToTensors(w: ModelWeights, opts: { q8?: boolean } = {}): Map<string, RawTensor> {
  const cfg = w.cfg, D = cfg.hidden, out = new Map<string, RawTensor>();
  const put = (name: string, data: Float32Array, shape: number[]) => out.set(name, fromFloat32(data, shape));
  /** a weight with an optional int8 form: I8 + scale when asked for and present, else f32 */
  const putWeight = (name: string, d: { weight: Float32Array; q8: Q8 | null }, shape: number[]) => {
    if (opts.q8 && d.q8) {
      const q = d.q8.q;
      out.set(name, { dtype: 'I8', shape, data: new Uint8Array(q.buffer, q.byteOffset, q.byteLength) });
      put(scaleName(name), d.q8.scale, [shape[0]]);
    } else {
      put(name, d.weight, shape);
    }
  };
  const norm = (p: string, n: Norm) => { put(`${p}.weight`, n.weight, [n.weight.length]); put(`${p}.bias`, n.bias, [n.bias.length]); };
  const dense = (p: string, d: Dense) => {
    putWeight(`${p}.weight`, d, [d.rows, d.cols]);
    if (d.bias) put(`${p}.bias`, d.bias, [d.rows]);
  };
  w.front.conv.forEach((c, i) => {
    putWeight(`${N.conv(i)}.weight`, c, [c.dim, c.cin, c.kernel]);
    if (c.bias) put(`${N.conv(i)}.bias`, c.bias, [c.dim]);
    if (c.norm) norm(N.convNorm(i), c.norm);
  });
  const f = w.front;
  if (f.dummy) put(N.dummy, f.dummy, [f.channels]);
  if (f.projNorm) norm(N.projNorm, f.projNorm);
  dense(N.proj, f.proj);
  if (f.prunedChannelWeight) put(N.prunedChannelWeight, f.prunedChannelWeight, [D]);
  const p = w.pos;
  if (p.weightNorm) {
    put(N.posConvWeightG, p.weightNorm.g, [1, 1, p.kernel]);
    putWeight(N.posConvWeightV, { weight: p.weightNorm.v, q8: p.q8 }, [D, p.cg, p.kernel]);
  } else {
    putWeight(`${N.posConv}.weight`, p, [D, p.cg, p.kernel]);
  }
  put(`${N.posConv}.bias`, p.bias, [D]);
  norm(N.encoderNorm, w.encoderNorm);
  if (w.relEmbed) put(N.relEmbed, w.relEmbed, [cfg.numBuckets, cfg.numHeads]);
  w.layers.forEach((L, l) => {
    if (L.attn) {
      const { qkv } = L.attn;
      const part = (name: string, off: number, rows: number) => {
        if (rows === 0) return;
        const q8 = qkv.q8 && opts.q8 ? sliceRows(qkv.q8, D, off, off + rows) : null;
        putWeight(`${name}.weight`, { weight: q8 ? new Float32Array(0) : qkv.weight.subarray(off * D, (off + rows) * D), q8 }, [rows, D]);
        put(`${name}.bias`, qkv.bias!.subarray(off, off + rows), [rows]);
      };
      part(N.q(l), 0, L.qkTotal);
      part(N.k(l), L.qkTotal, L.qkTotal);
      part(N.v(l), 2 * L.qkTotal, L.vTotal);
      dense(N.out(l), L.attn.out);
      if (L.attn.gru) dense(N.gru(l), L.attn.gru);
      if (L.attn.gruConst) put(N.gruConst(l), L.attn.gruConst, [1, cfg.numHeads, 1, 1]);
    } else if (L.attnBias) {
      put(`${N.out(l)}.bias`, L.attnBias, [D]);
    }
    norm(N.norm1(l), L.norm1);
    if (L.ffn) {
      dense(N.ffn1(l), L.ffn.in);
      dense(N.ffn2(l), L.ffn.out);
    } else if (L.ffnBias) {
      put(`${N.ffn2(l)}.bias`, L.ffnBias, [D]);
    }
    norm(N.norm2(l), L.norm2);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The block plan

/** Activation slots a step reads or writes: x is the residual stream, y a normalised copy (pre-LN). */
export type Slot = 'x' | 'y';

/**
 * One sub-step of an encoder layer (or of the encoder's entry / exit):
 *   norm          to = LayerNorm_norm(from)      (norm1, norm2 of the layer; 'encoder' = encoder.layer_norm)
 *   attention     x += out_proj(attention(qkv(from)))   (bias included)
 *   attentionBias x += out_proj.bias             (attention block removed, its bias kept)
 *   ffn           x += W2·GELU(W1·from + b1) + b2
 *   ffnBias       x += output_dense.bias         (FFN block removed, its bias kept)
 *   emit          hidden state l+1 is `from`     (the last step of every layer)
 */
export type LayerStep =
  | { op: 'norm'; norm: 'norm1' | 'norm2' | 'encoder'; from: Slot; to: Slot }
  | { op: 'attention'; from: Slot }
  | { op: 'attentionBias' }
  | { op: 'ffn'; from: Slot }
  | { op: 'ffnBias' }
  | { op: 'emit'; from: Slot };
export type EncoderStep = Extract<LayerStep, { op: 'norm' }>;

/** Block names a step belongs to, for messages ("layer 3 attention"). */
export function stepName(s: LayerStep): string {
  switch (s.op) {
    case 'norm': return s.norm === 'norm1' ? 'layer_norm' : s.norm === 'norm2' ? 'final_layer_norm' : 'encoder layer_norm';
    case 'attention': case 'attentionBias': return 'attention';
    case 'ffn': case 'ffnBias': return 'feed-forward';
    case 'emit': return 'output';
    default: return unknownStep('stepName', s);
  }
}

/**
 * The sub-steps of layer l, in order.
 *   post-LN: [attention], x = norm1(x), [ffn], x = norm2(x)            (both norms even when a block is removed)
 *   pre-LN:  y = norm1(x), [attention from y], y = norm2(x), [ffn from y]; the last layer then y = encoder norm(x)
 * A removed block with a stored bias adds that bias; without one it adds nothing (and pre-LN skips its norm).
 */
export function layerSteps(cfg: ModelConfig, w: Pick<LayerWeights, 'index' | 'attn' | 'attnBias' | 'ffn' | 'ffnBias'>): LayerStep[] {
  const s: LayerStep[] = [];
  const attn: LayerStep | null = w.attn ? { op: 'attention', from: cfg.preLayerNorm ? 'y' : 'x' } : w.attnBias ? { op: 'attentionBias' } : null;
  const ffn: LayerStep | null = w.ffn ? { op: 'ffn', from: cfg.preLayerNorm ? 'y' : 'x' } : w.ffnBias ? { op: 'ffnBias' } : null;
  if (cfg.preLayerNorm) {
    if (w.attn) s.push({ op: 'norm', norm: 'norm1', from: 'x', to: 'y' });
    if (attn) s.push(attn);
    if (w.ffn) s.push({ op: 'norm', norm: 'norm2', from: 'x', to: 'y' });
    if (ffn) s.push(ffn);
    if (w.index === cfg.numLayers - 1) {
      s.push({ op: 'norm', norm: 'encoder', from: 'x', to: 'y' }, { op: 'emit', from: 'y' });
    } else {
      s.push({ op: 'emit', from: 'x' });
    }
  } else {
    if (attn) s.push(attn);
    s.push({ op: 'norm', norm: 'norm1', from: 'x', to: 'x' });
    if (ffn) s.push(ffn);
    s.push({ op: 'norm', norm: 'norm2', from: 'x', to: 'x' }, { op: 'emit', from: 'x' });
  }
  return s;
}

/**
 * One step of the front end, from the waveform to hidden state 0:
 *   normalize  the waveform to zero mean and unit variance (eps 1e-7; do_normalize)
 *   conv       conv layer `layer` (no padding, its stride), then its norm — 'group': GroupNorm with one group per
 *              channel over time (layer 0 of a group-norm extractor only), 'layer': LayerNorm over the channels of
 *              each frame, null: none (eps CONV_NORM_EPS) — then its activation
 *   scale      × feature_extractor.dummy_weight per channel (DPHuBERT)
 *   projNorm   the feature-projection LayerNorm; virtualZeros: over featProjNormSize channels of which only the
 *              stored ones are not zero (the last conv layer was compacted; the per-frame shift is kept for proj)
 *   proj       the feature projection; prunedChannels: + shift_t · pruned_channel_weight (virtual zeros only)
 *   posConv    x += GELU(positional conv(x)) (grouped, padding K/2, the last frame dropped for even K)
 *   norm       x = encoder LayerNorm(x) (post-LN models: before layer 0)
 *   emit       hidden state 0 is x
 * Switches over it end in unknownStep(), so a kind added here fails to typecheck in every interpreter until each
 * handles it, and a step an interpreter does not know is refused at run time.
 */
export type FrontStep =
  | { op: 'normalize' }
  | { op: 'conv'; layer: number; norm: 'group' | 'layer' | null; act: 'gelu' }
  | { op: 'scale' }
  | { op: 'projNorm'; virtualZeros: boolean }
  | { op: 'proj'; prunedChannels: boolean }
  | { op: 'posConv' }
  | EncoderStep
  | { op: 'emit' };

/** The front end's steps, in order: the one description the engine, the student and the ONNX export interpret. */
export function frontSteps(cfg: ModelConfig, f: Pick<FrontWeights, 'dummy' | 'projNorm' | 'virtualZeros' | 'prunedChannelWeight'>): FrontStep[] {
  const s: FrontStep[] = [];
  if (cfg.doNormalize) s.push({ op: 'normalize' });
  cfg.conv.forEach((_, i) => {
    const norm = !convHasNorm(cfg, i) ? null : cfg.featExtractNorm === 'group' ? 'group' : 'layer';
    s.push({ op: 'conv', layer: i, norm, act: 'gelu' });
  });
  if (f.dummy) s.push({ op: 'scale' });
  const virtualZeros = !!f.projNorm && f.virtualZeros;
  if (f.projNorm) s.push({ op: 'projNorm', virtualZeros });
  s.push({ op: 'proj', prunedChannels: virtualZeros && !!f.prunedChannelWeight });
  s.push({ op: 'posConv' });
  if (!cfg.preLayerNorm) s.push({ op: 'norm', norm: 'encoder', from: 'x', to: 'x' });
  s.push({ op: 'emit' });
  return s;
}

/** What a front step is, for messages ("conv layer 3", "feature projection"). */
export function frontStepName(s: FrontStep): string {
  switch (s.op) {
    case 'normalize': return 'waveform normalisation';
    case 'conv': return `conv layer ${s.layer}`;
    case 'scale': return 'dummy_weight scale';
    case 'projNorm': case 'proj': return 'feature projection';
    case 'posConv': return 'positional conv';
    case 'norm': return stepName(s);
    case 'emit': return 'output';
    default: { // a kind added to FrontStep stops this typechecking; an unknown one is named (its interpreter refuses it)
      const unknown: never = s;
      return `step ${JSON.stringify((unknown as { op?: unknown }).op)}`;
    }
  }
}

/**
 * The last branch of every switch over a block plan (FrontStep, LayerStep): `s` has type never when every kind is
 * handled, so a new kind stops the interpreter typechecking; a step that still arrives is refused (E_CONFIG).
 */
export function unknownStep(interpreter: string, s: never): never {
  return fail('E_CONFIG', `${interpreter}: block-plan step ${JSON.stringify((s as { op?: unknown })?.op)} is not one it knows`);
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Fold weight normalisation over the kernel axis (PyTorch weight_norm with dim=2): W[:,:,j] = g[j]·v[:,:,j]/‖v[:,:,j]‖_F.
 * v is [Cout][Cin/G][Kw], g is [Kw]. Norms are accumulated in f64.
 */
export function foldWeightNorm(g: Float32Array, v: Float32Array, cout: number, cing: number, kw: number): Float32Array {
  const out = new Float32Array(v);
  foldWeightNormInPlace(g, out, cout, cing, kw);
  return out;
}

/** foldWeightNorm into v itself (the engine folds the weight where it reads it, in wasm memory). */
export function foldWeightNormInPlace(g: Float32Array, v: Float32Array, cout: number, cing: number, kw: number): void {
  const norm = new Float64Array(kw);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cing; i++) {
      const row = (o * cing + i) * kw;
      for (let j = 0; j < kw; j++) norm[j] += v[row + j] * v[row + j];
    }
  }
  const scale = new Float64Array(kw);
  for (let j = 0; j < kw; j++) scale[j] = norm[j] > 0 ? g[j] / Math.sqrt(norm[j]) : 0;
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cing; i++) {
      const row = (o * cing + i) * kw;
      for (let j = 0; j < kw; j++) v[row + j] = v[row + j] * scale[j];
    }
  }
}

/**
 * The inverse of foldWeightNorm for a folded weight W [Cout][Cin/G][Kw]: g[j] = ‖W[:,:,j]‖_F (f64 sums), v = W, so
 * that g·v/‖v‖ = W. Writers use it to keep a checkpoint's weight-norm spelling.
 */
export function unfoldWeightNorm(W: Float32Array, kw: number): { g: Float32Array; v: Float32Array } {
  const g = new Float64Array(kw);
  for (let i = 0; i < W.length / kw; i++) for (let k = 0; k < kw; k++) g[k] += W[i * kw + k] ** 2;
  return { g: Float32Array.from(g, Math.sqrt), v: W };
}
