/**
 * The student's parameter layout (student.ts): every trainable tensor of the bound weights as a block of ONE flat f32
 * region — its name, internal shape and layout, and its float offset — plus the region's size. Pure: it reads the
 * binding and allocates nothing; the Student constructor fills memory by it, the optimiser (optim.ts AdamRegion)
 * steps the whole region, and checkpoints save and restore that region and check its layout (`layoutSignature`).
 *
 * Rules: blocks in binding order (conv layers, dummy_weight, projection norm and projection, positional conv,
 * encoder norm, WavLM's embedding, then per layer q|k|v weights back to back (fused), their biases back to back,
 * out_proj, WavLM's gate, norm1, the FFN, norm2); each block starts at a 16-float boundary unless it continues a
 * fused one; removed blocks keep only their stored bias. Internal layouts that differ from Hugging Face's:
 *   'time-major'  conv weights (the extractor's and the positional conv's) [Cout][Kw][Cin/groups]
 *   'padded'      with virtual zero channels (feat_proj_layer_norm_size > channels of the last conv layer): the
 *                 projection LayerNorm's gamma/beta and the projection weight get those channels appended (gamma 1,
 *                 beta 0, columns pruned_channel_weight / count), the same function
 * The positional conv is trained as its folded weight (weight norm folded by the binding).
 */
import type { ModelConfig } from '../arch/config.js';
import { TensorNames, type ModelWeights, type Norm } from '../arch/binding.js';
import { convToTimeMajor } from '../runtime/pack.js';
import { fnv1a32 } from '../util/hash.js';

export type ParamLayoutKind = 'hf' | 'time-major' | 'padded';

export interface ParamBlock {
  /** Hugging Face name */
  name: string;
  /** internal shape (see `layout`); size = its product (0: a zero-sized part, which owns no floats) */
  shape: number[];
  size: number;
  /** first float of the block in the flat region */
  offset: number;
  layout: ParamLayoutKind;
  /** continues the previous block without an alignment gap (fused q|k|v) */
  fused: boolean;
  /** the block's initial values in its internal layout, from the bound weights */
  values(): Float32Array;
}

export interface StudentParamLayout {
  /** every block in order, zero-sized parts included (they own no floats) */
  blocks: ParamBlock[];
  /** floats of the flat region (a multiple of 16, at least 16) */
  total: number;
  /** stored channels of the last conv layer, and the projection LayerNorm's width (≥ cIn: virtual zero channels) */
  cIn: number;
  cTot: number;
  /** tensor names the blocks stand for (with the spellings folded into them); the rest of a teacher passes through */
  used: Set<string>;
}

/** The flat parameter layout of a student of `cfg` with weights `w` (bindWeights(cfg, …)). */
export function studentParamLayout(cfg: ModelConfig, w: ModelWeights): StudentParamLayout {
  const N = TensorNames, D = cfg.hidden;
  const blocks: ParamBlock[] = [];
  const used = new Set<string>();
  let off = 0;
  const add = (name: string, shape: number[], values: () => Float32Array, layout: ParamLayoutKind = 'hf', fused = false) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!fused) off = Math.ceil(off / 16) * 16;
    blocks.push({ name, shape, size, offset: off, layout, fused, values });
    off += size;
    if (size > 0) used.add(name);
  };
  const addNorm = (p: string, n: Norm, width = n.weight.length, layout: ParamLayoutKind = 'hf', pad = false) => {
    const padded = (v: Float32Array, fill: number) => () => {
      if (!pad) return v;
      const out = new Float32Array(width).fill(fill);
      out.set(v);
      return out;
    };
    add(`${p}.weight`, [width], padded(n.weight, 1), layout);
    add(`${p}.bias`, [width], padded(n.bias, 0), layout);
  };

  w.front.conv.forEach((c, i) => {
    add(`${N.conv(i)}.weight`, [c.dim, c.kernel, c.cin], () => convToTimeMajor(c.weight, c.dim, c.cin, c.kernel), 'time-major');
    if (c.bias) add(`${N.conv(i)}.bias`, [c.dim], () => c.bias!);
    if (c.norm) addNorm(N.convNorm(i), c.norm);
  });
  const f = w.front, cIn = f.channels;
  if (f.dummy) add(N.dummy, [cIn], () => f.dummy!);
  const virt = f.virtualZeros;
  const cTot = virt ? cfg.featProjNormSize : cIn, nv = cTot - cIn;
  if (f.projNorm) addNorm(N.projNorm, f.projNorm, cTot, virt ? 'padded' : 'hf', virt);
  add(`${N.proj}.weight`, [D, cTot], () => {
    const Wp = f.proj.weight;
    if (!virt) return Wp;
    // virtual zero channels: LayerNorm output shift_t·1 + 0 each, projection columns u / count
    const u = f.prunedChannelWeight ?? new Float32Array(D), out = new Float32Array(D * cTot);
    for (let d = 0; d < D; d++) {
      out.set(Wp.subarray(d * cIn, (d + 1) * cIn), d * cTot);
      for (let v = 0; v < nv; v++) out[d * cTot + cIn + v] = u[d] / nv;
    }
    return out;
  }, virt ? 'padded' : 'hf');
  if (virt) used.add(N.prunedChannelWeight);
  add(`${N.proj}.bias`, [D], () => f.proj.bias!);

  const p = w.pos;
  add(`${N.posConv}.weight`, [D, p.kernel, p.cg], () => convToTimeMajor(p.weight, D, p.cg, p.kernel), 'time-major');
  add(`${N.posConv}.bias`, [D], () => p.bias);
  used.add(N.posConvWeightG).add(N.posConvWeightV);
  addNorm(N.encoderNorm, w.encoderNorm);
  if (w.relEmbed) add(N.relEmbed, [cfg.numBuckets, cfg.numHeads], () => w.relEmbed!);

  w.layers.forEach((L, l) => {
    const qk = L.qkTotal, v = L.vTotal, a = L.attn;
    if (a) {
      // fused q; k; v weights and biases (back to back), views of the binding's fused rows
      const parts = [[N.q(l), 0, qk], [N.k(l), qk, qk], [N.v(l), 2 * qk, v]] as const;
      parts.forEach(([name, o, rows], i) => add(`${name}.weight`, [rows, D], () => a.qkv.weight.subarray(o * D, (o + rows) * D), 'hf', i > 0));
      parts.forEach(([name, o, rows], i) => add(`${name}.bias`, [rows], () => a.qkv.bias!.subarray(o, o + rows), 'hf', i > 0));
      add(`${N.out(l)}.weight`, [D, v], () => a.out.weight);
      add(`${N.out(l)}.bias`, [D], () => a.out.bias!);
      if (a.gru && a.gruConst) {
        add(`${N.gru(l)}.weight`, [8, cfg.headDim], () => a.gru!.weight);
        add(`${N.gru(l)}.bias`, [8], () => a.gru!.bias!);
        add(N.gruConst(l), [1, cfg.numHeads, 1, 1], () => a.gruConst!);
      }
    } else if (L.attnBias) {
      add(`${N.out(l)}.bias`, [D], () => L.attnBias!);
    }
    addNorm(N.norm1(l), L.norm1);
    if (L.ffn) {
      const F = L.plan.ffn, ffn = L.ffn;
      add(`${N.ffn1(l)}.weight`, [F, D], () => ffn.in.weight);
      add(`${N.ffn1(l)}.bias`, [F], () => ffn.in.bias!);
      add(`${N.ffn2(l)}.weight`, [D, F], () => ffn.out.weight);
      add(`${N.ffn2(l)}.bias`, [D], () => ffn.out.bias!);
    } else if (L.ffnBias) {
      add(`${N.ffn2(l)}.bias`, [D], () => L.ffnBias!);
    }
    addNorm(N.norm2(l), L.norm2);
  });
  return { blocks, total: Math.max(16, Math.ceil(off / 16) * 16), cIn, cTot, used };
}

/**
 * A short fingerprint of the layout (its size and the FNV-1a hash of every block's name, offset and size): equal for
 * equal layouts, so a checkpoint keeps it and a resume refuses a region laid out differently even when the sizes agree.
 */
export function layoutSignature(layout: StudentParamLayout): string {
  const text = layout.blocks.filter((b) => b.size > 0).map((b) => `${b.name}@${b.offset}+${b.size}`).join(',');
  return `${layout.total}:${fnv1a32(text).toString(16).padStart(8, '0')}`;
}

/** The checkpoint fields that record a layout (kept by both training loops' checkpoints beside their other metadata). */
export function layoutMeta(layout: StudentParamLayout): { flat: number; layout: string } {
  return { flat: layout.total, layout: layoutSignature(layout) };
}

/** Whether checkpoint metadata describes this layout (a checkpoint written before signatures existed: by size alone). */
export function sameLayout(meta: Record<string, unknown>, layout: StudentParamLayout): boolean {
  return meta.flat === layout.total && (meta.layout === undefined || meta.layout === layoutSignature(layout));
}
