/**
 * config.json (Hugging Face field names, plus slimwav's per-layer pruning keys) → a validated ModelConfig whose
 * every layer is described explicitly. A dense model is simply the case where every layer keeps every head at full
 * width and the full FFN: the runtime has no separate dense path.
 *
 * Shape letters used across slimwav: T frames, C channels / model dim, H heads, D head dim, F FFN width,
 * K conv kernel, S conv stride.
 */
import { fail } from '../errors.js';
import { checkConfigLimits } from './limits.js';

export type ModelType = 'wav2vec2' | 'hubert' | 'wavlm';

export interface ConvLayer {
  /** output channels kept */
  dim: number;
  kernel: number;
  stride: number;
}

export interface LayerPlan {
  /** kept original head indices, ascending; [] = attention block removed */
  heads: number[];
  /** query/key width of each kept head (0..headDim) */
  qkDims: number[];
  /** value width of each kept head (1..headDim) */
  vDims: number[];
  /** FFN width; 0 = FFN block removed */
  ffn: number;
}

export interface ModelConfig {
  modelType: ModelType;
  conv: ConvLayer[];
  convBias: boolean;
  /** 'group': GroupNorm (one group per channel) on conv layer 0 only; 'layer': LayerNorm after every conv */
  featExtractNorm: 'group' | 'layer';
  /** model dim C */
  hidden: number;
  numLayers: number;
  /** heads of the unpruned model; the attention scale is (hidden/numHeads)^-0.5 whatever was pruned */
  numHeads: number;
  headDim: number;
  /** FFN width of the unpruned model (informational) */
  intermediate: number;
  layerNormEps: number;
  posConvKernel: number;
  posConvGroups: number;
  /** pre-LN encoder (HF do_stable_layer_norm, large models) */
  preLayerNorm: boolean;
  /** per-utterance zero-mean unit-variance waveform normalisation (HF processor's do_normalize) */
  doNormalize: boolean;
  /** HuBERT configs may drop the feature-projection LayerNorm (HF feat_proj_layer_norm) */
  featProjLayerNorm: boolean;
  /**
   * Width the feature-projection LayerNorm takes its statistics over (`feat_proj_layer_norm_size`, default: the last
   * conv layer's channels). Larger after compaction of the last conv layer: the pruned channels count as exact zeros.
   */
  featProjNormSize: number;
  numBuckets: number;
  maxBucketDistance: number;
  layers: LayerPlan[];
  /** true when the config carries the per-layer pruning keys */
  pruned: boolean;
  /** the JSON this was parsed from, kept so that convert/prune can write it back unchanged */
  raw: Record<string, unknown>;
}

const PRUNE_KEYS = ['layer_heads', 'layer_head_qk_dims', 'layer_head_v_dims', 'layer_intermediate_sizes'] as const;

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

export function parseConfig(json: unknown, source = 'config.json'): ModelConfig {
  checkConfigLimits(json, source); // sizes capped before any per-layer / per-head plan is built (limits.ts)
  const bad = (msg: string): never => fail('E_CONFIG', `${source}: ${msg}`);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('expected a JSON object');
  const c = json as Record<string, unknown>;

  const intField = (key: string, def?: number, min = 1): number => {
    const v = c[key] ?? def;
    if (v === undefined) bad(`missing "${key}"`);
    if (!isInt(v) || v < min) bad(`"${key}" must be an integer ≥ ${min}, found ${JSON.stringify(v)}`);
    return v as number;
  };
  const boolField = (key: string, def: boolean): boolean => {
    const v = c[key] ?? def;
    if (typeof v !== 'boolean') bad(`"${key}" must be true or false, found ${JSON.stringify(v)}`);
    return v as boolean;
  };
  const intList = (key: string, min: number, len?: number): number[] => {
    const v = c[key];
    if (!Array.isArray(v)) bad(`"${key}" must be a list of integers, found ${JSON.stringify(v)}`);
    const arr = v as unknown[];
    if (len !== undefined && arr.length !== len) bad(`"${key}" has ${arr.length} entries, expected ${len}`);
    for (const x of arr) if (!isInt(x) || x < min) bad(`"${key}" entries must be integers ≥ ${min}, found ${JSON.stringify(x)}`);
    return arr as number[];
  };

  const modelType = c.model_type;
  if (modelType !== 'wav2vec2' && modelType !== 'hubert' && modelType !== 'wavlm') {
    bad(`"model_type" must be "wav2vec2", "hubert" or "wavlm", found ${JSON.stringify(modelType)}`);
  }
  const convDim = intList('conv_dim', 1);
  if (convDim.length === 0) bad('"conv_dim" is empty');
  const convKernel = intList('conv_kernel', 1, convDim.length);
  const convStride = intList('conv_stride', 1, convDim.length);
  const conv = convDim.map((dim, i) => ({ dim, kernel: convKernel[i], stride: convStride[i] }));

  const norm = (c.feat_extract_norm ?? 'group') as 'group' | 'layer';
  if (norm !== 'group' && norm !== 'layer') bad(`"feat_extract_norm" must be "group" or "layer", found ${JSON.stringify(norm)}`);
  const act = c.hidden_act ?? 'gelu';
  if (act !== 'gelu') bad(`"hidden_act" ${JSON.stringify(act)} is not supported (only "gelu", the exact erf form)`);
  const featAct = c.feat_extract_activation ?? 'gelu';
  if (featAct !== 'gelu') bad(`"feat_extract_activation" ${JSON.stringify(featAct)} is not supported (only "gelu")`);

  const hidden = intField('hidden_size');
  const numLayers = intField('num_hidden_layers', undefined, 0);
  const numHeads = intField('num_attention_heads');
  if (hidden % numHeads !== 0) bad(`"hidden_size" ${hidden} is not divisible by "num_attention_heads" ${numHeads}`);
  const headDim = hidden / numHeads;
  const intermediate = intField('intermediate_size', undefined, 0);
  const eps = c.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) bad(`"layer_norm_eps" must be a positive number, found ${JSON.stringify(eps)}`);
  const posConvKernel = intField('num_conv_pos_embeddings', 128);
  const posConvGroups = intField('num_conv_pos_embedding_groups', 16);
  if (hidden % posConvGroups !== 0) bad(`"hidden_size" ${hidden} is not divisible by "num_conv_pos_embedding_groups" ${posConvGroups}`);

  const present = PRUNE_KEYS.filter((k) => c[k] !== undefined);
  if (present.length !== 0 && present.length !== PRUNE_KEYS.length) {
    bad(`a pruned config needs all of ${PRUNE_KEYS.join(', ')}; found only ${present.join(', ')}`);
  }
  const pruned = present.length === PRUNE_KEYS.length;
  const layers: LayerPlan[] = [];
  if (pruned) {
    const lists = PRUNE_KEYS.slice(0, 3).map((k) => {
      const v = c[k];
      if (!Array.isArray(v) || v.length !== numLayers) bad(`"${k}" must have one entry per layer (${numLayers}), found ${Array.isArray(v) ? v.length : JSON.stringify(v)}`);
      return v as unknown[];
    });
    const ffn = intList('layer_intermediate_sizes', 0, numLayers);
    for (let l = 0; l < numLayers; l++) {
      const [hs, qs, vs] = lists.map((lst) => lst[l]);
      for (const [k, v] of [['layer_heads', hs], ['layer_head_qk_dims', qs], ['layer_head_v_dims', vs]] as const) {
        if (!Array.isArray(v)) bad(`layer ${l}: "${k}" entry must be a list, found ${JSON.stringify(v)}`);
      }
      const heads = hs as unknown[], qk = qs as unknown[], vd = vs as unknown[];
      if (qk.length !== heads.length || vd.length !== heads.length) {
        bad(`layer ${l}: ${heads.length} kept heads but ${qk.length} query/key widths and ${vd.length} value widths`);
      }
      heads.forEach((h, i) => {
        if (!isInt(h) || h < 0 || h >= numHeads) bad(`layer ${l}: head index ${JSON.stringify(h)} is outside 0..${numHeads - 1}`);
        if (i > 0 && (h as number) <= (heads[i - 1] as number)) bad(`layer ${l}: "layer_heads" must be strictly ascending, found ${JSON.stringify(heads)}`);
      });
      qk.forEach((d) => { if (!isInt(d) || d < 0 || d > headDim) bad(`layer ${l}: query/key width ${JSON.stringify(d)} is outside 0..${headDim}`); });
      vd.forEach((d) => { if (!isInt(d) || d < 1 || d > headDim) bad(`layer ${l}: value width ${JSON.stringify(d)} is outside 1..${headDim}`); });
      layers.push({ heads: heads as number[], qkDims: qk as number[], vDims: vd as number[], ffn: ffn[l] });
    }
  } else {
    for (let l = 0; l < numLayers; l++) {
      layers.push({
        heads: Array.from({ length: numHeads }, (_, h) => h),
        qkDims: new Array(numHeads).fill(headDim),
        vDims: new Array(numHeads).fill(headDim),
        ffn: intermediate,
      });
    }
  }

  return {
    modelType: modelType as ModelType,
    conv,
    convBias: boolField('conv_bias', false),
    featExtractNorm: norm,
    hidden,
    numLayers,
    numHeads,
    headDim,
    intermediate,
    layerNormEps: eps as number,
    posConvKernel,
    posConvGroups,
    preLayerNorm: boolField('do_stable_layer_norm', false),
    doNormalize: boolField('do_normalize', false),
    featProjLayerNorm: boolField('feat_proj_layer_norm', true),
    featProjNormSize: intField('feat_proj_layer_norm_size', conv[conv.length - 1].dim, conv[conv.length - 1].dim),
    numBuckets: modelType === 'wavlm' ? intField('num_buckets', 320, 2) : 0,
    maxBucketDistance: modelType === 'wavlm' ? intField('max_bucket_distance', 800, 1) : 0,
    layers,
    pruned,
    raw: c,
  };
}

/** Frames after each conv layer for `samples` input samples: floor((L − K)/S) + 1, or 0 once L < K. */
export function convFrames(cfg: ModelConfig, samples: number): number[] {
  const out: number[] = [];
  let len = samples;
  for (const l of cfg.conv) {
    len = len < l.kernel ? 0 : Math.floor((len - l.kernel) / l.stride) + 1;
    out.push(len);
  }
  return out;
}

/** Smallest input (in samples) that yields one output frame: the conv stack's receptive field. */
export function receptiveField(cfg: ModelConfig): number {
  let need = 1;
  for (let i = cfg.conv.length - 1; i >= 0; i--) need = (need - 1) * cfg.conv[i].stride + cfg.conv[i].kernel;
  return need;
}
