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
import {
  bindWeights, hasRelativeBias, headLayout, weightsToTensors,
  type AttentionWeights, type ConvBlock, type FrontWeights, type LayerWeights,
} from '../arch/binding.js';
import type { RawTensor } from '../format/tensor.js';

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
  const w = bindWeights(cfg, tensors, 'compact');
  const notes: string[] = [];
  const D = cfg.hidden;

  // ---- conv stack
  const convKeep = cfg.conv.map((l, i) => idx(masks.conv?.[i], l.dim, `conv layer ${i}`));
  convKeep.forEach((k, i) => { if (k.length === 0) fail('E_ARGS', `conv layer ${i}: every channel is masked; at least one must stay`); });
  if (cfg.featExtractNorm === 'layer' && !opts.allowInexact && convKeep.some((k, i) => k.length !== cfg.conv[i].dim)) {
    fail('E_ARGS', 'pruning conv channels under feat_extract_norm "layer" changes each layer\'s LayerNorm statistics, so it cannot be exact; pass allowInexact to do it anyway');
  }
  const vec = (v: Float32Array, keep: number[]) => takeRows(v, 1, keep);
  let inKeep = [0];
  const conv = w.front.conv.map((c, i): ConvBlock => {
    const keep = convKeep[i];
    const W = takeConvIn(c.weight, c.dim, c.cin, c.kernel, inKeep);
    const out: ConvBlock = {
      ...c,
      weight: takeRows(W, inKeep.length * c.kernel, keep),
      q8: null,
      bias: c.bias && vec(c.bias, keep),
      norm: c.norm && { weight: vec(c.norm.weight, keep), bias: vec(c.norm.bias, keep) },
      dim: keep.length,
      cin: inKeep.length,
    };
    inKeep = keep;
    return out;
  });
  const f = w.front, lastKeep = inKeep, cLast = f.channels;
  const projW = f.proj.weight;
  let projB = f.proj.bias!, pcw = f.prunedChannelWeight;
  const exact = opts.exactLastConv ?? true;
  if (exact && f.projNorm && lastKeep.length < cLast) {
    // A pruned channel enters the LayerNorm as an exact zero, and the LayerNorm turns it into
    // shift_t·gamma_c + beta_c with shift_t = −mean_t/σ_t. Fold Σ W[:,c]·beta_c into the bias and keep
    // u = Σ W[:,c]·gamma_c so the runtime can add shift_t·u: the compacted model stays exact.
    const gamma = f.projNorm.weight, beta = f.projNorm.bias;
    const kept = new Set(lastKeep);
    const uf = Float64Array.from(pcw ?? new Float32Array(D)), bf = Float64Array.from(projB);
    for (let c = 0; c < cLast; c++) {
      if (kept.has(c)) continue;
      for (let d = 0; d < D; d++) {
        uf[d] += projW[d * cLast + c] * gamma[c];
        bf[d] += projW[d * cLast + c] * beta[c];
      }
    }
    pcw = Float32Array.from(uf);
    projB = Float32Array.from(bf);
  }
  const front: FrontWeights = {
    conv,
    channels: lastKeep.length,
    dummy: f.dummy && vec(f.dummy, lastKeep),
    projNorm: f.projNorm && { weight: vec(f.projNorm.weight, lastKeep), bias: vec(f.projNorm.bias, lastKeep) },
    virtualZeros: false,
    proj: { weight: takeCols(projW, D, cLast, lastKeep), q8: null, bias: projB, rows: D, cols: lastKeep.length },
    prunedChannelWeight: pcw,
  };

  // ---- encoder layers
  const layerHeads: number[][] = [], layerQk: number[][] = [], layerV: number[][] = [], layerF: number[] = [];
  const layers = w.layers.map((L, l): LayerWeights => {
    const P = L.plan;
    const attnOn = masks.attention?.[l] ?? true;
    const headOn = idx(masks.heads?.[l], P.heads.length, `layer ${l} heads`);
    const heads: number[] = [], qkDims: number[] = [], vDims: number[] = [];
    const qRows: number[] = [], vRows: number[] = [];
    P.heads.forEach((h, k) => {
      const qk = idx(masks.qk?.[l]?.[k], P.qkDims[k], `layer ${l} head ${h} query/key dims`);
      const v = idx(masks.v?.[l]?.[k], P.vDims[k], `layer ${l} head ${h} value dims`);
      if (attnOn && headOn.includes(k) && v.length > 0) {
        heads.push(h);
        qkDims.push(qk.length);
        vDims.push(v.length);
        qk.forEach((d) => qRows.push(L.qOff[k] + d));
        v.forEach((d) => vRows.push(L.vOff[k] + d));
      }
    });
    let attn: AttentionWeights | null = null;
    let attnBias: Float32Array | null = null;
    if (heads.length > 0) {
      const a = L.attn!, qk = L.qkTotal;
      const rows = [...qRows, ...qRows.map((r) => qk + r), ...vRows.map((r) => 2 * qk + r)];
      attn = {
        qkv: { weight: takeRows(a.qkv.weight, D, rows), q8: null, bias: vec(a.qkv.bias!, rows), rows: rows.length, cols: D },
        out: { ...a.out, weight: takeCols(a.out.weight, D, L.vTotal, vRows), q8: null, cols: vRows.length },
        gru: a.gru, gruConst: a.gruConst,
      };
    } else {
      if (attnOn) attnBias = L.attn ? L.attn.out.bias : L.attnBias;
      if (l === 0 && hasRelativeBias(cfg) && !opts.allowInexact) {
        fail('E_ARGS', 'WavLM: removing every head of layer 0 removes the relative position bias of all layers, which changes the function; keep one head there or pass allowInexact');
      }
    }
    layerHeads.push(heads);
    layerQk.push(qkDims);
    layerV.push(vDims);

    const ffnOn = masks.ffnBlock?.[l] ?? true;
    const units = ffnOn ? idx(masks.ffn?.[l], P.ffn, `layer ${l} FFN units`) : [];
    let ffn: LayerWeights['ffn'] = null;
    let ffnBias: Float32Array | null = null;
    if (units.length > 0) {
      const fw = L.ffn!;
      ffn = {
        in: { weight: takeRows(fw.in.weight, D, units), q8: null, bias: vec(fw.in.bias!, units), rows: units.length, cols: D },
        out: { ...fw.out, weight: takeCols(fw.out.weight, D, P.ffn, units), q8: null, cols: units.length },
      };
    } else if (ffnOn) {
      ffnBias = L.ffn ? L.ffn.out.bias : L.ffnBias;
    }
    layerF.push(units.length);
    const plan = { heads, qkDims, vDims, ffn: units.length };
    return { ...L, ...headLayout(plan), plan, attn, attnBias, ffn, ffnBias, steps: [] };
  });

  // WavLM: without heads in layer 0 there is no bias anywhere, so the embedding goes too
  const noLayer0Heads = cfg.modelType === 'wavlm' && layerHeads.length > 0 && layerHeads[0].length === 0;
  if (noLayer0Heads) notes.push('WavLM layer 0 has no heads left: the relative position bias is gone from every layer');
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
  const outCfg = parseConfig(config, 'compacted config');
  const out = weightsToTensors({ ...w, cfg: outCfg, front, layers, relEmbed: noLayer0Heads ? null : w.relEmbed });
  checkTensors(outCfg, out, 'compacted model');
  return { config, tensors: out, notes };
}

/**
 * The masked dense model: the same architecture with masked structures zeroed so that it computes what the
 * compacted model computes (used to prove compaction exact, and by the pruner's evaluation). Masked channels of the
 * last conv layer become zeros of `feature_extractor.dummy_weight`.
 */
export function applyMasks(configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, masks: KeepMasks): Map<string, RawTensor> {
  const cfg = parseConfig(configJson, 'applyMasks');
  const w = bindWeights(cfg, tensors, 'applyMasks'); // fresh F32 copies: edited in place below
  const D = cfg.hidden;
  const conv = w.front.conv;
  conv.forEach((c, i) => {
    const keep = masks.conv?.[i];
    const nxt = conv[i + 1];
    if (keep && nxt) {
      for (let o = 0; o < nxt.dim; o++) keep.forEach((k, ch) => { if (!k) nxt.weight.fill(0, (o * c.dim + ch) * nxt.kernel, (o * c.dim + ch + 1) * nxt.kernel); });
    }
  });
  const lastMask = masks.conv?.[conv.length - 1];
  if (lastMask) {
    const dummy = w.front.dummy ?? new Float32Array(w.front.channels).fill(1);
    lastMask.forEach((k, c) => { if (!k) dummy[c] = 0; });
    w.front.dummy = dummy;
  }
  w.layers.forEach((L, l) => {
    const P = L.plan, a = L.attn, qk = L.qkTotal;
    const attnOn = masks.attention?.[l] ?? true;
    const zeroRow = (r: number) => { a!.qkv.weight.fill(0, r * D, (r + 1) * D); a!.qkv.bias![r] = 0; };
    P.heads.forEach((_, k) => {
      const headOn = attnOn && (masks.heads?.[l]?.[k] ?? true);
      for (let d = 0; d < P.qkDims[k]; d++) {
        if (masks.qk?.[l]?.[k]?.[d] === false) { zeroRow(L.qOff[k] + d); zeroRow(qk + L.qOff[k] + d); }
      }
      for (let d = 0; d < P.vDims[k]; d++) {
        if (!headOn || masks.v?.[l]?.[k]?.[d] === false) {
          zeroRow(2 * qk + L.vOff[k] + d);
          for (let r = 0; r < D; r++) a!.out.weight[r * L.vTotal + L.vOff[k] + d] = 0;
        }
      }
    });
    if (!attnOn) (a ? a.out.bias : L.attnBias)?.fill(0);
    const ffnOn = masks.ffnBlock?.[l] ?? true;
    if (!ffnOn) (L.ffn ? L.ffn.out.bias : L.ffnBias)?.fill(0);
    for (let u = 0; u < P.ffn; u++) {
      if (!ffnOn || masks.ffn?.[l]?.[u] === false) {
        L.ffn!.in.weight.fill(0, u * D, (u + 1) * D);
        L.ffn!.in.bias![u] = 0;
      }
    }
  });
  const out = new Map(tensors);
  for (const [n, t] of weightsToTensors(w)) out.set(n, t);
  return out;
}
