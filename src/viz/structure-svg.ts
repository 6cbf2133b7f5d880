/**
 * The remaining structure of a (pruned) model against its dense shape, as SVG: one row per encoder layer with a slot
 * per original attention head (a kept head is a rect of class "head" holding two bars, its q/k width and its v width
 * against the dense head width) and the FFN width against the dense one; above them one bar per conv layer.
 * Pure: no DOM, no node: imports (the browser demo draws the same picture).
 */
import { el, esc, svgDocument, text } from './svg.js';

export interface StructureLayout {
  modelType?: string;
  /** heads and head width of the dense model */
  numHeads: number;
  headDim: number;
  /** FFN width of the dense model */
  intermediate: number;
  layers: { heads: number[]; qkDims: number[]; vDims: number[]; ffn: number }[];
  /** conv channels per layer */
  conv: number[];
  /** conv channels of the dense model when known; otherwise each bar is drawn against the widest layer */
  convDense?: number[];
}

/** The layout from a parsed config (structurally typed, so no runtime import of the config parser). */
export function layoutOf(cfg: {
  modelType: string; numHeads: number; headDim: number; intermediate: number;
  layers: { heads: number[]; qkDims: number[]; vDims: number[]; ffn: number }[]; conv: { dim: number }[];
}, convDense?: number[]): StructureLayout {
  return {
    modelType: cfg.modelType, numHeads: cfg.numHeads, headDim: cfg.headDim, intermediate: cfg.intermediate,
    layers: cfg.layers.map((L) => ({ heads: [...L.heads], qkDims: [...L.qkDims], vDims: [...L.vDims], ffn: L.ffn })),
    conv: cfg.conv.map((c) => c.dim), convDense,
  };
}

const KEPT = '#4e79a7', QK = '#f28e2b', V = '#59a14f', FFN = '#76b7b2', GHOST = '#e8e8e8';

export function structureSvg(layout: StructureLayout, opts: { title?: string } = {}): string {
  const H = layout.numHeads, hd = layout.headDim;
  const cell = 26, cellGap = 4, rowH = 30, labelW = 44;
  const headsW = H * (cell + cellGap);
  const ffnX = labelW + headsW + 24, ffnW = 220;
  const width = ffnX + ffnW + 90;
  const body: string[] = [];
  let y = 40;
  const denseConv = layout.convDense ?? layout.conv.map(() => Math.max(...layout.conv, 1));

  // conv stack
  body.push(text(12, y + 12, `conv layers: channels kept of ${layout.convDense ? 'the dense model' : 'the widest layer'}`, { class: 'section', 'font-weight': 'bold' }));
  y += 20;
  const convW = width - labelW - 100;
  layout.conv.forEach((c, i) => {
    const d = Math.max(denseConv[i] ?? c, c, 1);
    body.push(text(12, y + 11, `c${i}`, { class: 'row-label' }));
    body.push(el('rect', { class: 'conv-dense', 'data-conv': i, x: labelW, y, width: convW, height: 14, fill: GHOST }));
    body.push(el('rect', { class: 'conv', 'data-conv': i, 'data-channels': c, x: labelW, y, width: (convW * c) / d, height: 14, fill: KEPT }));
    body.push(text(labelW + convW + 6, y + 11, `${c}/${d}`, { class: 'conv-label', 'font-size': 11 }));
    y += 18;
  });
  y += 14;

  // encoder layers
  body.push(text(12, y + 12, `encoder layers: ${H} head slots (q/k | v width of ${hd}), FFN width of ${layout.intermediate}`, { class: 'section', 'font-weight': 'bold' }));
  y += 22;
  layout.layers.forEach((L, l) => {
    body.push(text(12, y + 17, `L${l}`, { class: 'row-label' }));
    const kept = new Map(L.heads.map((h, k) => [h, k] as const));
    for (let h = 0; h < H; h++) {
      const x = labelW + h * (cell + cellGap);
      const k = kept.get(h);
      if (k === undefined) {
        body.push(el('rect', { class: 'head-removed', 'data-layer': l, 'data-head': h, x, y, width: cell, height: rowH - 6, fill: GHOST }));
        continue;
      }
      const qk = L.qkDims[k], v = L.vDims[k], bh = rowH - 10;
      body.push(el('rect', { class: 'head', 'data-layer': l, 'data-head': h, 'data-qk': qk, 'data-v': v, x, y, width: cell, height: rowH - 6, fill: 'none', stroke: KEPT }, el('title', {}, esc(`layer ${l} head ${h}: q/k ${qk}, v ${v} of ${hd}`))));
      const half = (cell - 6) / 2;
      body.push(el('rect', { class: 'qk', 'data-layer': l, x: x + 2, y: y + 2 + bh * (1 - qk / hd), width: half, height: (bh * qk) / hd, fill: QK }));
      body.push(el('rect', { class: 'v', 'data-layer': l, x: x + 4 + half, y: y + 2 + bh * (1 - v / hd), width: half, height: (bh * v) / hd, fill: V }));
    }
    if (L.heads.length === 0) body.push(text(labelW + 4, y + 16, 'attention removed', { class: 'note', 'font-size': 11, fill: '#888' }));
    const f = Math.min(L.ffn, layout.intermediate);
    body.push(el('rect', { class: 'ffn-dense', 'data-layer': l, x: ffnX, y, width: ffnW, height: rowH - 6, fill: GHOST }));
    if (L.ffn > 0) body.push(el('rect', { class: 'ffn', 'data-layer': l, 'data-ffn': L.ffn, x: ffnX, y, width: (ffnW * f) / Math.max(1, layout.intermediate), height: rowH - 6, fill: FFN }));
    body.push(text(ffnX + ffnW + 6, y + 16, `ffn ${L.ffn}`, { class: 'ffn-label', 'data-layer': l, 'font-size': 11 }));
    y += rowH;
  });
  y += 6;
  // legend
  const legend: [string, string][] = [[QK, 'q/k width'], [V, 'v width'], [FFN, 'FFN width'], [GHOST, 'removed']];
  legend.forEach(([c, s], i) => {
    body.push(el('rect', { class: 'legend', x: labelW + i * 110, y, width: 12, height: 12, fill: c }));
    body.push(text(labelW + i * 110 + 16, y + 11, s, { class: 'legend-label', 'font-size': 11 }));
  });
  return svgDocument(width, y + 24, body, opts.title ?? `${layout.modelType ?? 'model'}: remaining structure`);
}
