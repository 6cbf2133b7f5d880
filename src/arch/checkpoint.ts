/**
 * A state dict in any of the usual spellings + whatever config came with it → a slimwav model
 * (docs/format.md: Hugging Face tensor names, HF config.json fields, plus the per-layer pruning keys).
 *
 * Tensor names understood:
 *   Hugging Face   feature_extractor.* feature_projection.* encoder.*             (Wav2Vec2Model, HubertModel, WavLMModel)
 *                  the same under any wrapper prefix (wav2vec2. hubert. wavlm. module. …); everything outside the
 *                  prefix (lm_head, projector, classifier, quantizer, project_q, project_hid, …) is a task head: dropped
 *   torchaudio     encoder.feature_projection.X → feature_projection.X, encoder.transformer.X → encoder.X,
 *                  WavLM attention.attention.in_proj_{weight,bias} → q/k/v_proj (split in thirds),
 *                  attention.attention.out_proj.* → attention.out_proj.*; aux.* (CTC head) dropped
 *   DPHuBERT       torchaudio names + feature_extractor.dummy_weight (kept unless all ones)
 *   weight norm    conv.parametrizations.weight.original0 / original1 → conv.weight_g / conv.weight_v
 *
 * Config sources, in order: a config.json given by the caller (passed through), the checkpoint's own config
 * (torchaudio/DPHuBERT `wav2vec2_model` kwargs, converted; or an HF-style dict, passed through),
 * else shapes alone when they match a released architecture exactly; otherwise E_CONFIG.
 * The result is always checked against the tensors (arch/tensors.ts; every mismatch is E_SHAPE naming the tensor).
 * This is model knowledge, so it lives in arch/; src/format/ only reads the bytes (arch/model-files.ts joins the two).
 */
import { fail } from '../errors.js';
import { toFloat32, type RawTensor } from '../format/tensor.js';
import { listNames } from '../format/pytorch.js';
import { parseConfig, type ModelType } from './config.js';
import { checkConfigAgainstTensors } from './limits.js';
import { checkTensors } from './tensors.js';
import { TensorNames as N } from './binding.js';

export interface SlimwavModel {
  /** config.json contents (docs/format.md) */
  config: Record<string, unknown>;
  /** tensors under Hugging Face names (docs/format.md) */
  tensors: Map<string, RawTensor>;
  /** one line per decision a user may want to know about (dropped tensors, assumed values) */
  notes: string[];
}

/** First components of tensors that belong to task or pre-training heads, never to the encoder. */
const HEAD_NAMES = new Set([
  'lm_head', 'projector', 'classifier', 'quantizer', 'project_q', 'project_hid', 'masked_spec_embed',
  'label_embeddings_concat', 'label_embs_concat', 'final_proj', 'aux', 'layer_weights', 'tdnn', 'feature_extractor_xvector',
  'objective', 'adapter', 'dropout_features',
]);

const CONV0 = 'feature_extractor.conv_layers.0.conv.weight';

interface Mapped {
  tensors: Map<string, RawTensor>;
  /** model type the names reveal, if any */
  hint?: ModelType;
  /** why the hint */
  hintWhy?: string;
}

/** Rename a state dict to HF names; drop heads (noted). */
export function mapTensorNames(input: Map<string, RawTensor>, fileName: string, notes: string[]): Mapped {
  const shapeErr = (msg: string): never => fail('E_SHAPE', `${fileName}: ${msg}`);
  const roots = [...input.keys()].filter((k) => k === CONV0 || k.endsWith(`.${CONV0}`));
  if (roots.length === 0) {
    shapeErr(`no wav2vec2/HuBERT/WavLM feature extractor among its ${input.size} tensors (looked for a tensor named …${CONV0}; found ${listNames([...input.keys()], 4) || 'none'})`);
  }
  if (roots.length > 1) shapeErr(`more than one model in one state dict (${roots.join(', ')})`);
  const prefix = roots[0].slice(0, roots[0].length - CONV0.length);

  let hint: ModelType | undefined;
  let hintWhy: string | undefined;
  const setHint = (t: ModelType, why: string) => { if (!hint) { hint = t; hintWhy = why; } };
  const first = prefix.split('.')[0];
  if (first === 'wav2vec2' || first === 'hubert' || first === 'wavlm') setHint(first, `tensor prefix "${prefix}"`);
  if (first === 'data2vec_audio') shapeErr('Data2VecAudio checkpoints are not supported (only wav2vec2, HuBERT and WavLM)');

  const heads: string[] = [];
  const out = new Map<string, RawTensor>();
  const from = new Map<string, string>();
  const put = (name: string, t: RawTensor, src: string) => {
    const prev = from.get(name);
    if (prev !== undefined) shapeErr(`tensors ${prev} and ${src} both map to ${name}`);
    from.set(name, src);
    out.set(name, t);
  };

  for (const [src, t] of input) {
    if (!src.startsWith(prefix)) { heads.push(src); continue; }
    let k = src.slice(prefix.length);
    if (HEAD_NAMES.has(k.split('.')[0])) { heads.push(src); continue; }
    if (k.startsWith('encoder.feature_projection.')) k = k.slice('encoder.'.length);
    else if (k.startsWith('encoder.transformer.')) k = `encoder.${k.slice('encoder.transformer.'.length)}`;
    k = k.replace(/\.parametrizations\.weight\.original0$/, '.weight_g').replace(/\.parametrizations\.weight\.original1$/, '.weight_v');

    // torchaudio's own WavLM wraps nn.MultiheadAttention: one packed in-projection, rows q | k | v.
    const packed = /^(encoder\.layers\.\d+\.attention)\.attention\.in_proj_(weight|bias)$/.exec(k);
    if (packed) {
      const rows = t.shape[0];
      if (rows % 3 !== 0 || (packed[2] === 'weight' ? t.shape.length !== 2 : t.shape.length !== 1)) {
        shapeErr(`tensor ${src} has shape [${t.shape.join(', ')}]; a packed q/k/v projection needs 3·n rows`);
      }
      const part = t.data.byteLength / 3; // C order: the rows of each third are contiguous
      ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
        put(`${packed[1]}.${p}.${packed[2]}`, {
          dtype: t.dtype,
          shape: [rows / 3, ...t.shape.slice(1)],
          data: t.data.subarray(i * part, (i + 1) * part),
        }, src);
      });
      continue;
    }
    k = k.replace(/^(encoder\.layers\.\d+\.attention)\.attention\.out_proj\./, '$1.out_proj.');
    if (/\.(rel_attn_embed|gru_rel_pos_linear|gru_rel_pos_const)\b/.test(k)) setHint('wavlm', `WavLM tensor ${src}`);
    put(k, t, src);
  }

  if (heads.length) {
    notes.push(`dropped ${heads.length} tensors that are not part of the encoder (task or pre-training heads): ${listNames(heads)}`);
    const h = heads.map((s) => s.split('.')[0]);
    if (h.some((x) => x === 'quantizer' || x === 'project_q' || x === 'project_hid')) setHint('wav2vec2', 'wav2vec 2.0 pre-training heads');
    if (h.some((x) => x === 'final_proj' || x === 'label_embeddings_concat' || x === 'label_embs_concat')) setHint('hubert', 'HuBERT pre-training heads');
  }
  if (prefix) notes.push(`removed the tensor-name prefix "${prefix}"`);
  return { tensors: out, hint, hintWhy };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * torchaudio / DPHuBERT `wav2vec2_model(**config)` kwargs → config.json. Per-layer lists (a pruned or prunable
 * DPHuBERT model) produce the four pruning keys.
 */
export function configFromTorchaudio(c: Record<string, unknown>, fileName: string, hint: ModelType | undefined, notes: string[]): Record<string, unknown> {
  const bad = (msg: string): never => fail('E_CONFIG', `${fileName}: config ${msg}`);
  const int = (key: string, def?: number, min = 0): number => {
    const v = c[key] ?? def;
    if (!isInt(v) || v < min) bad(`"${key}" must be an integer ≥ ${min}, found ${JSON.stringify(v)}`);
    return v as number;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = c[key] ?? def;
    if (typeof v !== 'boolean') bad(`"${key}" must be true or false, found ${JSON.stringify(v)}`);
    return v as boolean;
  };
  const perLayer = <T>(key: string, L: number, ok: (x: unknown) => boolean, what: string, def?: T): T[] | undefined => {
    const v = c[key];
    if (v === undefined || v === null) return def === undefined ? undefined : new Array<T>(L).fill(def);
    if (!Array.isArray(v)) return undefined;
    if (v.length !== L) bad(`"${key}" has ${v.length} entries, expected one per layer (${L})`);
    v.forEach((x, l) => { if (!ok(x)) bad(`"${key}"[${l}] must be ${what}, found ${JSON.stringify(x)}`); });
    return v as T[];
  };

  const convCfg = c.extractor_conv_layer_config;
  if (!Array.isArray(convCfg) || convCfg.length === 0) bad(`"extractor_conv_layer_config" must be a list of (channels, kernel, stride), found ${JSON.stringify(convCfg)}`);
  const conv = (convCfg as unknown[]).map((e, i) => {
    if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => isInt(x) && x > 0)) {
      bad(`"extractor_conv_layer_config"[${i}] must be (channels, kernel, stride), found ${JSON.stringify(e)}`);
    }
    return e as number[];
  });
  const mode = c.extractor_mode ?? 'group_norm';
  if (mode !== 'group_norm' && mode !== 'layer_norm') bad(`"extractor_mode" must be "group_norm" or "layer_norm", found ${JSON.stringify(mode)}`);

  const D = int('encoder_embed_dim', undefined, 1);
  const L = int('encoder_num_layers');
  const wavlm = c.encoder_remaining_heads !== undefined && c.encoder_remaining_heads !== null;
  const bools = (key: string) => perLayer<boolean>(key, L, (x) => typeof x === 'boolean', 'true or false', true)
    ?? bad(`"${key}" must be a list of true/false, one per layer`);
  const useAttn = bools('encoder_use_attention');
  const useFF = bools('encoder_use_feed_forward');

  // FFN widths: one int (dense torchaudio) or one per layer (DPHuBERT).
  const ffRaw = c.encoder_ff_interm_features;
  const ffList = perLayer<number>('encoder_ff_interm_features', L, (x) => isInt(x) && x >= 0, 'an integer ≥ 0');
  const ff = ffList ?? new Array<number>(L).fill(int('encoder_ff_interm_features'));

  // Heads. The original head count fixes the head width and the attention scale (hidden / heads)^-0.5.
  let H: number, headDim: number;
  let heads: number[][];
  if (wavlm) {
    const totals = perLayer<number>('encoder_total_num_heads', L, (x) => isInt(x) && x > 0, 'an integer ≥ 1')
      ?? new Array<number>(L).fill(int('encoder_total_num_heads', undefined, 1));
    H = totals[0] ?? int('encoder_total_num_heads', 1, 1);
    if (totals.some((h) => h !== H)) bad(`"encoder_total_num_heads" differs between layers (${JSON.stringify(totals)}); slimwav needs one head count`);
    const rem = perLayer<number[]>('encoder_remaining_heads', L, (x) => Array.isArray(x) && x.every((h) => isInt(h) && h >= 0 && h < H), `a list of head indices in 0..${H - 1}`);
    if (!rem) return bad('"encoder_remaining_heads" must be a list (one list of kept head indices per layer)');
    heads = rem.map((r, l) => (useAttn[l] ? [...r].sort((a, b) => a - b) : []));
    heads.forEach((r, l) => { if (r.some((h, i) => i > 0 && h === r[i - 1])) bad(`"encoder_remaining_heads"[${l}] repeats a head`); });
    if (D % H !== 0) bad(`"encoder_embed_dim" ${D} is not divisible by the ${H} heads`);
    headDim = D / H;
  } else {
    const nhList = perLayer<number>('encoder_num_heads', L, (x) => isInt(x) && x >= 0, 'an integer ≥ 0');
    const nh = nhList ?? new Array<number>(L).fill(int('encoder_num_heads', undefined, 1));
    headDim = c.encoder_head_dim === undefined || c.encoder_head_dim === null
      ? (nhList ? bad('has per-layer "encoder_num_heads" but no "encoder_head_dim"') : D / nh[0])
      : int('encoder_head_dim', undefined, 1);
    if (!Number.isInteger(headDim) || D % headDim !== 0) bad(`"encoder_embed_dim" ${D} is not a multiple of the head width ${headDim}`);
    const total = c.encoder_total_num_heads;
    H = Array.isArray(total) ? (total[0] as number) : isInt(total) ? total : D / headDim;
    if (!isInt(H) || H * headDim !== D) bad(`${H} heads of width ${headDim} do not make "encoder_embed_dim" ${D}`);
    nh.forEach((h, l) => { if (h > H) bad(`"encoder_num_heads"[${l}] = ${h} is more than the ${H} heads of width ${headDim} that fit in ${D}`); });
    // Heads of these models are interchangeable (no per-head parameters outside the sliced projections), so the
    // kept heads are numbered 0..h−1 whichever original heads they were.
    heads = nh.map((h, l) => (useAttn[l] ? Array.from({ length: h }, (_, i) => i) : []));
  }

  let modelType: ModelType;
  if (wavlm) modelType = 'wavlm';
  else if (hint && hint !== 'wavlm') {
    modelType = hint;
  } else {
    if (hint === 'wavlm') bad('has no "encoder_remaining_heads" but the tensors are WavLM\'s (rel_attn_embed / gru_rel_pos_*)');
    modelType = 'hubert';
    notes.push('model_type "hubert" assumed: the torchaudio/DPHuBERT config does not say, and wav2vec 2.0 and HuBERT compute the same encoder');
  }

  const perLayerCfg = wavlm || Array.isArray(ffRaw) || Array.isArray(c.encoder_num_heads)
    || Array.isArray(c.encoder_use_attention) || Array.isArray(c.encoder_use_feed_forward);
  const layerFF = ff.map((f, l) => (useFF[l] ? f : 0));
  // intermediate_size is informational once layer_intermediate_sizes is given: the unpruned width. Every released
  // wav2vec2/HuBERT/WavLM model uses 4·hidden; a wider layer (or a dense config) says otherwise.
  let intermediate: number;
  if (!Array.isArray(ffRaw)) intermediate = ff[0] ?? 4 * D;
  else if (ff.every((f) => f === ff[0]) && ff.length > 0) intermediate = ff[0];
  else {
    intermediate = Math.max(4 * D, ...ff);
    notes.push(`intermediate_size ${intermediate} (the unpruned FFN width) assumed: the pruned config lists only per-layer widths`);
  }

  const out: Record<string, unknown> = {
    model_type: modelType,
    conv_dim: conv.map((e) => e[0]),
    conv_kernel: conv.map((e) => e[1]),
    conv_stride: conv.map((e) => e[2]),
    conv_bias: bool('extractor_conv_bias', false),
    feat_extract_norm: mode === 'group_norm' ? 'group' : 'layer',
    hidden_size: D,
    num_hidden_layers: L,
    num_attention_heads: H,
    intermediate_size: intermediate,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    num_conv_pos_embeddings: int('encoder_pos_conv_kernel', 128, 1),
    num_conv_pos_embedding_groups: int('encoder_pos_conv_groups', 16, 1),
    do_stable_layer_norm: bool('encoder_layer_norm_first', false),
    do_normalize: bool('normalize_waveform', false),
  };
  if (wavlm) {
    out.num_buckets = int('encoder_num_buckets', 320, 2);
    out.max_bucket_distance = int('encoder_max_distance', 800, 1);
  }
  if (perLayerCfg) {
    out.layer_heads = heads;
    out.layer_head_qk_dims = heads.map((r) => r.map(() => headDim));
    out.layer_head_v_dims = heads.map((r) => r.map(() => headDim));
    out.layer_intermediate_sizes = layerFF;
  }
  return out;
}

/** Released architectures: conv kernels → strides, and (norm, hidden, layers, FFN) → pre-LN or not. */
const STD_KERNELS = [10, 3, 3, 3, 3, 2, 2];
const STD_STRIDES = [5, 2, 2, 2, 2, 2, 2];
const RELEASED = [
  // base models (wav2vec2-base, HuBERT-base, WavLM-base/base+): group norm, post-LN
  { norm: 'group', hidden: 768, layers: 12, ffn: 3072, preLN: false },
  // wav2vec2-large (LibriSpeech): group norm, post-LN
  { norm: 'group', hidden: 1024, layers: 24, ffn: 4096, preLN: false },
  // wav2vec2-large-lv60 / XLSR, HuBERT-large, WavLM-large: layer norm, pre-LN
  { norm: 'layer', hidden: 1024, layers: 24, ffn: 4096, preLN: true },
  // HuBERT-xlarge
  { norm: 'layer', hidden: 1280, layers: 48, ffn: 5120, preLN: true },
];

/**
 * No config at all: the shapes give channels, kernels, widths and depth, but never the conv strides, the head
 * count or where the layer norms sit. Those are taken from the released model with exactly these shapes; any
 * other shape set is ambiguous → E_CONFIG.
 */
function inferConfig(t: Map<string, RawTensor>, fileName: string, hint: ModelType | undefined, notes: string[]): Record<string, unknown> {
  const noConfig = (why: string): never => fail('E_CONFIG', `${fileName}: no config found; put config.json next to it (${why})`);
  const shape = (n: string) => t.get(n)?.shape;
  const convDim: number[] = [], convKernel: number[] = [];
  for (let i = 0; ; i++) {
    const s = shape(`feature_extractor.conv_layers.${i}.conv.weight`);
    if (!s) break;
    if (s.length !== 3) noConfig(`conv layer ${i} weight is not 3-D`);
    convDim.push(s[0]);
    convKernel.push(s[2]);
  }
  if (convKernel.join() !== STD_KERNELS.join()) noConfig(`conv kernels [${convKernel.join(', ')}] are not the standard ones, so the strides are unknown`);
  const norm = t.has(`${N.convNorm(1)}.weight`) ? 'layer' : 'group';
  const proj = shape(`${N.proj}.weight`);
  if (!proj || proj.length !== 2) return noConfig(`no ${N.proj}.weight`);
  const D = proj[0];
  let L = 0;
  while ([...t.keys()].some((k) => N.layerOf(k) === L)) L++;
  const ffs = Array.from({ length: L }, (_, l) => shape(`${N.ffn1(l)}.weight`)?.[0]);
  const qs = Array.from({ length: L }, (_, l) => shape(`${N.q(l)}.weight`)?.[0]);
  if (ffs.some((f) => f !== ffs[0]) || qs.some((q) => q !== D)) noConfig('the layers differ in width, so this is a pruned model and its layout must be given');
  const arch = RELEASED.find((a) => a.norm === norm && a.hidden === D && a.layers === L && a.ffn === ffs[0]);
  if (!arch) noConfig(`hidden ${D}, ${L} layers, FFN ${ffs[0]} and ${norm} norm match no released model, so the head count and layer-norm placement are unknown`);
  const v = shape(N.posConvWeightV) ?? shape(`${N.posConv}.weight`);
  if (!v || v.length !== 3 || D % v[1] !== 0) return noConfig(`no usable ${N.posConv} weight`);
  const wavlm = t.has(N.relEmbed);
  const modelType: ModelType = wavlm ? 'wavlm' : hint ?? 'hubert';
  const cfg: Record<string, unknown> = {
    model_type: modelType,
    conv_dim: convDim,
    conv_kernel: convKernel,
    conv_stride: STD_STRIDES,
    conv_bias: t.has(`${N.conv(0)}.bias`),
    feat_extract_norm: norm,
    hidden_size: D,
    num_hidden_layers: L,
    num_attention_heads: D / 64,
    intermediate_size: ffs[0],
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    num_conv_pos_embeddings: v[2],
    num_conv_pos_embedding_groups: D / v[1],
    do_stable_layer_norm: arch!.preLN,
    do_normalize: arch!.preLN,
  };
  if (wavlm) {
    cfg.num_buckets = shape(N.relEmbed)![0];
    cfg.max_bucket_distance = 800;
  }
  notes.push(`no config found: inferred one from the tensor shapes and the released ${D}-wide ${L}-layer models (strides [${STD_STRIDES.join(', ')}], ${D / 64} heads, ${arch!.preLN ? 'pre' : 'post'}-LN, do_normalize ${arch!.preLN}${wavlm ? ', max_bucket_distance 800' : ''}${wavlm || hint ? '' : ', model_type "hubert"'}); put config.json next to it if any of that is wrong`);
  return cfg;
}

/**
 * State dict (+ config) → slimwav model. `config` is the checkpoint's own config (readTorchStateDict), `hfConfig`
 * a config.json found next to the checkpoint (takes precedence and is passed through unchanged).
 */
export function toSlimwavModel(
  tensors: Map<string, RawTensor>,
  config: Record<string, unknown> | undefined,
  fileName: string,
  hfConfig?: Record<string, unknown>,
  /** the file config errors name (config.json beside the weights); default `fileName` */
  configSource = fileName,
): SlimwavModel {
  const notes: string[] = [];
  const alphas = [...tensors.keys()].filter((k) => k.endsWith('.log_alpha'));
  let input = tensors;
  if (alphas.length) {
    input = new Map([...tensors].filter(([k]) => !k.endsWith('.log_alpha')));
    notes.push(`dropped ${alphas.length} hard-concrete gate parameters (*.log_alpha) of an unfinished pruning run`);
  }
  const mapped = mapTensorNames(input, fileName, notes);
  const out = mapped.tensors;

  let cfg: Record<string, unknown>;
  if (hfConfig) {
    cfg = { ...hfConfig };
    if (config) notes.push('used config.json; the checkpoint\'s own config was ignored');
  } else if (config && ('extractor_conv_layer_config' in config || 'encoder_embed_dim' in config)) {
    cfg = configFromTorchaudio(config, fileName, mapped.hint, notes);
  } else if (config && 'hidden_size' in config) {
    cfg = { ...config };
  } else if (config) {
    fail('E_CONFIG', `${fileName}: the checkpoint's config is neither torchaudio/DPHuBERT kwargs (extractor_conv_layer_config, encoder_embed_dim, …) nor a Hugging Face config (hidden_size, …); put config.json next to it`);
  } else {
    cfg = inferConfig(out, fileName, mapped.hint, notes);
  }

  // DPHuBERT's per-channel scale of the last conv output: identity when all ones.
  const dw = out.get('feature_extractor.dummy_weight');
  if (dw) {
    let ones = false;
    if (['F32', 'F16', 'BF16', 'F64'].includes(dw.dtype) && dw.shape.length === 1) {
      ones = toFloat32(dw, 'feature_extractor.dummy_weight').every((x) => x === 1);
    }
    if (ones) {
      out.delete('feature_extractor.dummy_weight');
      notes.push('dropped feature_extractor.dummy_weight (all ones: DPHuBERT\'s identity channel scale)');
    } else {
      notes.push('kept feature_extractor.dummy_weight: the extractor output is scaled channel-wise by it before the feature-projection LayerNorm');
    }
  }

  checkConfigAgainstTensors(cfg, out, hfConfig ? configSource : fileName, fileName);
  const parsed = parseConfig(cfg, hfConfig ? configSource : fileName);
  if (mapped.hint && parsed.modelType !== mapped.hint && (mapped.hint === 'wavlm' || parsed.modelType === 'wavlm')) {
    fail('E_CONFIG', `${fileName}: config says model_type "${parsed.modelType}" but the tensors are ${mapped.hint}'s (${mapped.hintWhy})`);
  }
  checkTensors(parsed, out, fileName);
  return { config: cfg, tensors: out, notes };
}

