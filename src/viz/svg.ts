/**
 * A small SVG builder: pure functions returning strings, no DOM and no node: imports, so the CLI (files) and the
 * browser demo (inline) draw the same pictures. Every drawn element carries a `class` (and `data-*` where it stands
 * for something countable), so tests and stylesheets can find them.
 */

export const esc = (s: string | number): string =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export type Attrs = Record<string, string | number | undefined>;

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** `<tag a="b">children</tag>` (self-closing without children); numbers get at most 2 decimals, except in data-* attributes. */
export function el(tag: string, attrs: Attrs = {}, children?: string | string[]): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' && !k.startsWith('data-') ? num(v) : esc(v as string | number)}"`)
    .join('');
  if (children === undefined) return `<${tag}${a}/>`;
  return `<${tag}${a}>${Array.isArray(children) ? children.join('') : children}</${tag}>`;
}

export const text = (x: number, y: number, s: string, attrs: Attrs = {}): string =>
  el('text', { x, y, 'font-size': 12, ...attrs }, esc(s));

/** A whole SVG document; `title` becomes its accessible name and a heading. */
export function svgDocument(width: number, height: number, body: string[], title?: string): string {
  const head = title ? [el('title', {}, esc(title)), text(12, 20, title, { class: 'title', 'font-size': 14, 'font-weight': 'bold' })] : [];
  return el('svg', {
    xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'sans-serif',
  }, [el('rect', { class: 'background', x: 0, y: 0, width, height, fill: 'white' }), ...head, ...body]) + '\n';
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

export interface BarGroup {
  /** what the group measures, e.g. "time (ms)" */
  label: string;
  bars: { label: string; value: number }[];
}

/** Horizontal bars, one panel per group, each panel scaled to its own largest value; values printed at the bar end. */
export function barChart(title: string, groups: BarGroup[], width = 560): string {
  const barH = 22, gap = 6, labelW = 110, valueW = 90;
  const body: string[] = [];
  let y = 40;
  groups.forEach((g, gi) => {
    body.push(text(12, y + 12, g.label, { class: 'group-label', 'font-weight': 'bold', 'data-group': gi }));
    y += 20;
    const max = Math.max(...g.bars.map((b) => b.value), 1e-12);
    g.bars.forEach((b, bi) => {
      const w = Math.max(1, ((width - labelW - valueW - 24) * b.value) / max);
      body.push(text(12, y + 15, b.label, { class: 'bar-label' }));
      body.push(el('rect', { class: 'bar', 'data-group': gi, 'data-value': b.value, x: labelW, y, width: w, height: barH, fill: PALETTE[bi % PALETTE.length] }));
      body.push(text(labelW + w + 6, y + 15, fmt(b.value), { class: 'bar-value' }));
      y += barH + gap;
    });
    y += 12;
  });
  return svgDocument(width, y + 8, body, title);
}

export interface Series {
  label: string;
  points: [number, number][];
}

/** Lines with markers on linear axes from 0; one colour per series, a legend on the right. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], width = 620, height = 380): string {
  const left = 64, right = 150, top = 40, bottom = 50;
  const pw = width - left - right, ph = height - top - bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])), ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(...xs, 1e-12)), yMax = niceMax(Math.max(...ys, 1e-12));
  const X = (x: number) => left + (pw * x) / xMax, Y = (y: number) => top + ph - (ph * y) / yMax;
  const body: string[] = [
    el('line', { class: 'axis', x1: left, y1: top + ph, x2: left + pw, y2: top + ph, stroke: 'black' }),
    el('line', { class: 'axis', x1: left, y1: top, x2: left, y2: top + ph, stroke: 'black' }),
    text(left + pw / 2, height - 12, xLabel, { class: 'axis-label', 'text-anchor': 'middle' }),
    text(14, top + ph / 2, yLabel, { class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 14 ${top + ph / 2})` }),
  ];
  for (let k = 0; k <= 4; k++) {
    const xv = (xMax * k) / 4, yv = (yMax * k) / 4;
    body.push(text(X(xv), top + ph + 16, fmt(xv), { class: 'tick', 'text-anchor': 'middle', 'font-size': 10 }));
    body.push(text(left - 6, Y(yv) + 4, fmt(yv), { class: 'tick', 'text-anchor': 'end', 'font-size': 10 }));
  }
  series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    body.push(el('polyline', { class: 'series', 'data-series': s.label, fill: 'none', stroke: c, 'stroke-width': 2, points: pts.map(([x, y]) => `${num(X(x))},${num(Y(y))}`).join(' ') }));
    for (const [x, y] of pts) body.push(el('circle', { class: 'point', 'data-series': s.label, 'data-x': x, 'data-y': y, cx: X(x), cy: Y(y), r: 3.5, fill: c }));
    body.push(el('rect', { class: 'legend', x: left + pw + 16, y: top + 18 * i, width: 12, height: 12, fill: c }));
    body.push(text(left + pw + 34, top + 18 * i + 11, s.label, { class: 'legend-label' }));
  });
  return svgDocument(width, height, body, title);
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}
