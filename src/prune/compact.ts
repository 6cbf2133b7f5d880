/**
 * Compaction: a model plus keep-masks → the smaller irregular model that computes the same function.
 *
 * Masks are relative to the model's current layout (a dense model, or an already pruned one): per conv layer one
 * flag per channel; per layer one flag per kept head, per head one flag per query/key dimension and per value
 * dimension, one flag per FFN unit, and one flag each for the attention and FFN blocks. Anything not given is kept.
 *
 * Semantics (what "masked" means, and why compaction is exact):
 *   - conv channel c of layer i masked: that channel is zeroed after GELU (where the pruner's gate sits). The next
 *     conv simply loses those input columns. For the LAST conv layer the zeros would still count in the statistics of
 *     the feature-projection LayerNorm, so the compacted config records `feat_proj_layer_norm_size` (the width the
 *     LayerNorm statistics are taken over) and `feature_projection.pruned_channel_weight` (what those zeros still
 *     contribute after the LayerNorm); the runtime treats the missing channels as exact zeros there. (DPHuBERT
 *     instead slices the LayerNorm and lets the final distillation absorb the change; slimwav stays exact.)
 *     With feat_extract_norm "layer" a masked channel still takes part in its own layer's LayerNorm before it is
 *     gated, so pruning those channels cannot be exact; compaction refuses it unless `allowInexact` is set.
 *   - query/key dimension masked: removed from both q_proj and k_proj (it adds 0 to every score); a head with no
 *     query/key dimension left scores every frame 0 and averages its values (plus WavLM's position bias).
 *   - value dimension masked: removed from v_proj and from the matching out_proj column. A head with no value
 *     dimension left, or whose head flag is off, contributes nothing and is removed.
 *   - no head left (all heads masked): out_proj sees zeros, so only out_proj.bias remains, added to the residual.
 *     Attention block masked: the block's whole output is gated, bias included (DPHuBERT's layer gate), so nothing
 *     of it remains.
 *   - FFN unit masked: its intermediate row and output column go (GELU(0) = 0). No unit left: only
 *     output_dense.bias remains. FFN block masked: the whole output is gated, bias included, nothing remains.
 * The attention scale stays (hidden_size / num_attention_heads)^-0.5.
 */
import { fail } from '../errors.js';
import { parseConfig, type ModelConfig } from '../arch/config.js';
import { checkTensors } from '../arch/tensors.js';
import type { RawTensor } from '../format/tensor.js';
import { fromFloat32, toFloat32 } from '../format/tensor.js';

export interface KeepMasks {
  /** [conv layer][channel] */
  conv?: (boolean[] | undefined)[];
  /** [layer][kept head] whole-head flags */
  heads?: (boolean[] | undefined)[];
  /** [layer][kept head][q/k dim] */
  qk?: ((boolean[] | undefined)[] | undefined)[];
  /** [layer][kept head][value dim] */
  v?: ((boolean[] | undefined)[] | undefined)[];
  /** [layer] attention block flags */
  attention?: boolean[];
  /** [layer][FFN unit] */
  ffn?: (boolean[] | undefined)[];
  /** [layer] FFN block flags */
  ffnBlock?: boolean[];
}

export interface CompactOptions {
  /** allow masks whose compaction changes the function (conv channels under a LayerNorm extractor, WavLM layer 0) */
  allowInexact?: boolean;
  /**
   * Keep the model exact when the last conv layer loses channels (default true): record the projection LayerNorm's
   * original width and the folded contribution of the zero channels (docs/format.md, "Keys and tensors slimwav
   * adds"). With false, the LayerNorm is simply sliced as DPHuBERT does, and the function changes slightly.
   */
  exactLastConv?: boolean;
}

export interface CompactResult {
  config: Record<string, unknown>;
  tensors: Map<string, RawTensor>;
  notes: string[];
}

const idx = (m: boolean[] | undefined, n: number, what: string): number[] => {
  if (m === undefined) return Array.from({ length: n }, (_, i) => i);
  if (!Array.isArray(m) || m.length !== n) fail('E_ARGS', `${what}: mask has ${Array.isArray(m) ? m.length : typeof m} entries, expected ${n}`);
  const out: number[] = [];
  m.forEach((k, i) => { if (k) out.push(i); });
  return out;
};

/** rows of a [R][C] matrix */
function takeRows(W: Float32Array, C: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * C);
  rows.forEach((r, i) => out.set(W.subarray(r * C, (r + 1) * C), i * C));
  return out;
}

/** columns of a [R][C] matrix (C = total columns) */
function takeCols(W: Float32Array, R: number, C: number, cols: number[]): Float32Array {
  const out = new Float32Array(R * cols.length);
  for (let r = 0; r < R; r++) cols.forEach((c, j) => { out[r * cols.length + j] = W[r * C + c]; });
  return out;
}

/** input channels (axis 1) of a conv weight [Cout][Cin][K] */
function takeConvIn(W: Float32Array, cout: number, cin: number, k: number, keep: number[]): Float32Array {
  const out = new Float32Array(cout * keep.length * k);
  for (let o = 0; o < cout; o++) {
    keep.forEach((i, j) => out.set(W.subarray((o * cin + i) * k, (o * cin + i + 1) * k), (o * keep.length + j) * k));
  }
  return out;
}

export function compact(configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, masks: KeepMasks, opts: CompactOptions = {}): CompactResult {
  const cfg: ModelConfig = parseConfig(configJson, 'compact');
  checkTensors(cfg, tensors, 'compact');
  const notes: string[] = [];
  const get = (n: string) => toFloat32(tensors.get(n) ?? fail('E_SHAPE', `compact: missing tensor ${n}`), n);
  const has = (n: string) => tensors.has(n);
  const out = new Map<string, RawTensor>();
  const put = (n: string, data: Float32Array, shape: number[]) => out.set(n, fromFloat32(data, shape));
  const copy = (n: string) => { const t = tensors.get(n); if (t) out.set(n, fromFloat32(toFloat32(t, n), t.shape)); };
  const D = cfg.hidden;

  // ---- conv stack
  const convKeep = cfg.conv.map((l, i) => idx(masks.conv?.[i], l.dim, `conv layer ${i}`));
  convKeep.forEach((k, i) => { if (k.length === 0) fail('E_ARGS', `conv layer ${i}: every channel is masked; at least one must stay`); });
  if (cfg.featExtractNorm === 'layer' && !opts.allowInexact && convKeep.some((k, i) => k.length !== cfg.conv[i].dim)) {
    fail('E_ARGS', 'pruning conv channels under feat_extract_norm "layer" changes each layer\'s LayerNorm statistics, so it cannot be exact; pass allowInexact to do it anyway');
  }
  let cin = 1, inKeep = [0];
  cfg.conv.forEach((l, i) => {
    const p = `feature_extractor.conv_layers.${i}`;
    const keep = convKeep[i];
    const W = takeConvIn(get(`${p}.conv.weight`), l.dim, cin, l.kernel, inKeep);
    put(`${p}.conv.weight`, takeRows(W, inKeep.length * l.kernel, keep), [keep.length, inKeep.length, l.kernel]);
    if (has(`${p}.conv.bias`)) put(`${p}.conv.bias`, takeRows(get(`${p}.conv.bias`), 1, keep), [keep.length]);
    for (const n of ['weight', 'bias']) {
      if (has(`${p}.layer_norm.${n}`)) put(`${p}.layer_norm.${n}`, takeRows(get(`${p}.layer_norm.${n}`), 1, keep), [keep.length]);
    }
    cin = l.dim;
    inKeep = keep;
  });
  const lastKeep = inKeep, cLast = cfg.conv[cfg.conv.length - 1].dim;
  if (has('feature_extractor.dummy_weight')) put('feature_extractor.dummy_weight', takeRows(get('feature_extractor.dummy_weight'), 1, lastKeep), [lastKeep.length]);
  for (const n of ['weight', 'bias']) {
    const name = `feature_projection.layer_norm.${n}`;
    if (has(name)) put(name, takeRows(get(name), 1, lastKeep), [lastKeep.length]);
  }
  const projW = get('feature_projection.projection.weight');
  put('feature_projection.projection.weight', takeCols(projW, D, cLast, lastKeep), [D, lastKeep.length]);
  const projB = get('feature_projection.projection.bias');
  const exact = opts.exactLastConv ?? true;
  if (exact && cfg.featProjLayerNorm && lastKeep.length < cLast) {
    // A pruned channel enters the LayerNorm as an exact zero, and the LayerNorm turns it into
    // shift_t·gamma_c + beta_c with shift_t = −mean_t/σ_t. Fold Σ W[:,c]·beta_c into the bias and keep
    // u = Σ W[:,c]·gamma_c so the runtime can add shift_t·u: the compacted model stays exact.
    const gamma = get('feature_projection.layer_norm.weight'), beta = get('feature_projection.layer_norm.bias');
    const kept = new Set(lastKeep);
    const u = has('feature_projection.pruned_channel_weight') ? get('feature_projection.pruned_channel_weight') : new Float32Array(D);
    const uf = Float64Array.from(u), bf = Float64Array.from(projB);
    for (let c = 0; c < cLast; c++) {
      if (kept.has(c)) continue;
      for (let d = 0; d < D; d++) {
        uf[d] += projW[d * cLast + c] * gamma[c];
        bf[d] += projW[d * cLast + c] * beta[c];
      }
    }
    put('feature_projection.pruned_channel_weight', Float32Array.from(uf), [D]);
    put('feature_projection.projection.bias', Float32Array.from(bf), [D]);
  } else {
    put('feature_projection.projection.bias', projB, [D]);
    copy('feature_projection.pruned_channel_weight');
  }
  for (const n of ['weight_g', 'weight_v', 'weight', 'bias']) copy(`encoder.pos_conv_embed.conv.${n}`);
  copy('encoder.layer_norm.weight');
  copy('encoder.layer_norm.bias');
  if (has('encoder.layers.0.attention.rel_attn_embed.weight')) copy('encoder.layers.0.attention.rel_attn_embed.weight');

  // ---- encoder layers
  const layerHeads: number[][] = [], layerQk: number[][] = [], layerV: number[][] = [], layerF: number[] = [];
  cfg.layers.forEach((L, l) => {
    const p = `encoder.layers.${l}`;
    const attnOn = masks.attention?.[l] ?? true;
    const headOn = idx(masks.heads?.[l], L.heads.length, `layer ${l} heads`);
    const heads: number[] = [], qkDims: number[] = [], vDims: number[] = [];
    const qRows: number[] = [], vRows: number[] = [];
    let qOff = 0, vOff = 0;
    L.heads.forEach((h, k) => {
      const qk = idx(masks.qk?.[l]?.[k], L.qkDims[k], `layer ${l} head ${h} query/key dims`);
      const v = idx(masks.v?.[l]?.[k], L.vDims[k], `layer ${l} head ${h} value dims`);
      if (attnOn && headOn.includes(k) && v.length > 0) {
        heads.push(h);
        qkDims.push(qk.length);
        vDims.push(v.length);
        qk.forEach((d) => qRows.push(qOff + d));
        v.forEach((d) => vRows.push(vOff + d));
      }
      qOff += L.qkDims[k];
      vOff += L.vDims[k];
    });
    if (heads.length > 0) {
      for (const [n, rows, total] of [['q_proj', qRows, qOff], ['k_proj', qRows, qOff], ['v_proj', vRows, vOff]] as const) {
        if (rows.length === 0) continue;
        put(`${p}.attention.${n}.weight`, takeRows(get(`${p}.attention.${n}.weight`), D, rows), [rows.length, D]);
        put(`${p}.attention.${n}.bias`, takeRows(get(`${p}.attention.${n}.bias`), 1, rows), [rows.length]);
        void total;
      }
      put(`${p}.attention.out_proj.weight`, takeCols(get(`${p}.attention.out_proj.weight`), D, vOff, vRows), [D, vRows.length]);
      copy(`${p}.attention.out_proj.bias`);
      for (const n of ['gru_rel_pos_linear.weight', 'gru_rel_pos_linear.bias', 'gru_rel_pos_const']) copy(`${p}.attention.${n}`);
    } else {
      if (attnOn) copy(`${p}.attention.out_proj.bias`);
      if (l === 0 && cfg.modelType === 'wavlm' && L.heads.length > 0 && !opts.allowInexact) {
        fail('E_ARGS', 'WavLM: removing every head of layer 0 removes the relative position bias of all layers, which changes the function; keep one head there or pass allowInexact');
      }
    }
    layerHeads.push(heads);
    layerQk.push(qkDims);
    layerV.push(vDims);

    const ffnOn = masks.ffnBlock?.[l] ?? true;
    const units = ffnOn ? idx(masks.ffn?.[l], L.ffn, `layer ${l} FFN units`) : [];
    const f = `${p}.feed_forward`;
    if (units.length > 0) {
      put(`${f}.intermediate_dense.weight`, takeRows(get(`${f}.intermediate_dense.weight`), D, units), [units.length, D]);
      put(`${f}.intermediate_dense.bias`, takeRows(get(`${f}.intermediate_dense.bias`), 1, units), [units.length]);
      put(`${f}.output_dense.weight`, takeCols(get(`${f}.output_dense.weight`), D, L.ffn, units), [D, units.length]);
    }
    if (ffnOn) copy(`${f}.output_dense.bias`);
    layerF.push(units.length);
    for (const n of ['layer_norm', 'final_layer_norm']) { copy(`${p}.${n}.weight`); copy(`${p}.${n}.bias`); }
  });

  // WavLM: without heads in layer 0 there is no bias anywhere, so the embedding goes too
  if (cfg.modelType === 'wavlm' && layerHeads[0]?.length === 0) {
    out.delete('encoder.layers.0.attention.rel_attn_embed.weight');
    notes.push('WavLM layer 0 has no heads left: the relative position bias is gone from every layer');
  }
  const config: Record<string, unknown> = { ...cfg.raw };
  config.conv_dim = convKeep.map((k) => k.length);
  config.layer_heads = layerHeads;
  config.layer_head_qk_dims = layerQk;
  config.layer_head_v_dims = layerV;
  config.layer_intermediate_sizes = layerF;
  const normSize = (cfg.raw.feat_proj_layer_norm_size as number | undefined) ?? cLast;
  if (exact && normSize !== lastKeep.length && cfg.featProjLayerNorm) config.feat_proj_layer_norm_size = normSize;
  else delete config.feat_proj_layer_norm_size;
  if (!exact && lastKeep.length < cLast) notes.push('the last conv layer lost channels and the projection LayerNorm was sliced: the function changed slightly (exactLastConv: false)');
  // the result must itself be a valid model
  checkTensors(parseConfig(config, 'compacted config'), out, 'compacted model');
  return { config, tensors: out, notes };
}

/**
 * The masked dense model: the same architecture with masked structures zeroed so that it computes what the
 * compacted model computes (used to prove compaction exact, and by the pruner's evaluation). Masked channels of the
 * last conv layer become zeros of `feature_extractor.dummy_weight`.
 */
export function applyMasks(configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, masks: KeepMasks): Map<string, RawTensor> {
  const cfg = parseConfig(configJson, 'applyMasks');
  const out = new Map(tensors);
  const D = cfg.hidden;
  const work = new Map<string, Float32Array>();
  const edit = (n: string, fn: (w: Float32Array) => void) => {
    const t = out.get(n);
    if (!t) return;
    let w = work.get(n);
    if (!w) work.set(n, (w = toFloat32(t, n)));
    fn(w);
  };
  let cin = 1;
  cfg.conv.forEach((l, i) => {
    const keep = masks.conv?.[i];
    if (keep && i + 1 < cfg.conv.length) {
      const nxt = cfg.conv[i + 1];
      edit(`feature_extractor.conv_layers.${i + 1}.conv.weight`, (w) => {
        for (let o = 0; o < nxt.dim; o++) keep.forEach((k, c) => { if (!k) w.fill(0, (o * l.dim + c) * nxt.kernel, (o * l.dim + c + 1) * nxt.kernel); });
      });
    }
    cin = l.dim;
  });
  const lastMask = masks.conv?.[cfg.conv.length - 1];
  if (lastMask) {
    const dw = out.get('feature_extractor.dummy_weight');
    const base = dw ? toFloat32(dw) : new Float32Array(cin).fill(1);
    lastMask.forEach((k, c) => { if (!k) base[c] = 0; });
    out.set('feature_extractor.dummy_weight', fromFloat32(base, [cin]));
  }
  cfg.layers.forEach((L, l) => {
    const p = `encoder.layers.${l}.attention`;
    const attnOn = masks.attention?.[l] ?? true;
    let qOff = 0, vOff = 0;
    const qkTotal = L.qkDims.reduce((a, b) => a + b, 0), vTotal = L.vDims.reduce((a, b) => a + b, 0);
    L.heads.forEach((_, k) => {
      const headOn = attnOn && (masks.heads?.[l]?.[k] ?? true);
      for (let d = 0; d < L.qkDims[k]; d++) {
        if (masks.qk?.[l]?.[k]?.[d] === false) {
          for (const n of ['q_proj', 'k_proj']) {
            edit(`${p}.${n}.weight`, (w) => w.fill(0, (qOff + d) * D, (qOff + d + 1) * D));
            edit(`${p}.${n}.bias`, (w) => { w[qOff + d] = 0; });
          }
        }
      }
      for (let d = 0; d < L.vDims[k]; d++) {
        if (!headOn || masks.v?.[l]?.[k]?.[d] === false) {
          edit(`${p}.v_proj.weight`, (w) => w.fill(0, (vOff + d) * D, (vOff + d + 1) * D));
          edit(`${p}.v_proj.bias`, (w) => { w[vOff + d] = 0; });
          edit(`${p}.out_proj.weight`, (w) => { for (let r = 0; r < D; r++) w[r * vTotal + vOff + d] = 0; });
        }
      }
      qOff += L.qkDims[k];
      vOff += L.vDims[k];
    });
    void qkTotal;
    if (!attnOn) edit(`${p}.out_proj.bias`, (w) => w.fill(0));
    const f = `encoder.layers.${l}.feed_forward`;
    const ffnOn = masks.ffnBlock?.[l] ?? true;
    if (!ffnOn) edit(`${f}.output_dense.bias`, (w) => w.fill(0));
    for (let u = 0; u < L.ffn; u++) {
      if (!ffnOn || masks.ffn?.[l]?.[u] === false) {
        edit(`${f}.intermediate_dense.weight`, (w) => w.fill(0, u * D, (u + 1) * D));
        edit(`${f}.intermediate_dense.bias`, (w) => { w[u] = 0; });
      }
    }
  });
  for (const [n, w] of work) out.set(n, fromFloat32(w, out.get(n)!.shape));
  return out;
}
