// The per-layer structure of one or more models as an SVG string: for every encoder layer, how much of the
// attention (query/key + value dimensions) and of the FFN is left relative to the dense shape of the same width,
// with the kept head count; one row per model, the conv channels kept at the left.
const ATTN = '#2f6fdf', FFN = '#e08a1e', CONV = '#4a9d6a', GRID = '#dfe3ea', TEXT = '#1d2330', MUTED = '#6b7385';

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** models: [{ label, cfg }] with cfg from parseConfig(); fractions are taken against cfg's own dense shape. */
export function structureSvg(models) {
  const L = Math.max(...models.map((m) => m.cfg.numLayers));
  const cell = 34, labelW = 86, convW = 46, rowH = 92, barH = 56, top = 16;
  const width = Math.max(660, labelW + convW + L * cell + 10);
  const height = top + models.length * rowH + 28;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`];
  parts.push(`<text x="${labelW}" y="11" fill="${MUTED}"><tspan fill="${CONV}">■</tspan> conv channels  <tspan fill="${ATTN}">■</tspan> attention dims (heads above)  <tspan fill="${FFN}">■</tspan> FFN units, as a share of dense</text>`);
  models.forEach((m, r) => {
    const c = m.cfg;
    const y0 = top + r * rowH + 16, base = y0 + barH;
    parts.push(`<text x="0" y="${y0 + barH / 2}" fill="${TEXT}" font-size="13" font-weight="600">${esc(m.label)}</text>`);
    parts.push(`<line x1="${labelW}" x2="${width - 10}" y1="${base}" y2="${base}" stroke="${GRID}"/>`);
    // conv: mean share of channels kept over the layers (dense conv width = the widest layer of a dense stack: 512 for base)
    const convDense = m.convDense ?? Math.max(...c.conv.map((x) => x.dim));
    const convFrac = c.conv.reduce((a, x) => a + x.dim, 0) / (c.conv.length * convDense);
    const ch = barH * Math.min(1, convFrac);
    parts.push(`<rect x="${labelW + 8}" y="${base - ch}" width="22" height="${ch}" fill="${CONV}"><title>conv: ${c.conv.map((x) => x.dim).join(', ')} channels</title></rect>`);
    parts.push(`<text x="${labelW + 19}" y="${base + 12}" text-anchor="middle" fill="${MUTED}">conv</text>`);
    c.layers.forEach((ly, l) => {
      const x = labelW + convW + l * cell;
      const attnDense = 2 * c.numHeads * c.headDim;
      const attn = (ly.qkDims.reduce((a, b) => a + b, 0) + ly.vDims.reduce((a, b) => a + b, 0)) / attnDense;
      const ffn = ly.ffn / c.intermediate;
      const ha = barH * Math.min(1, attn), hf = barH * Math.min(1, ffn);
      parts.push(`<rect x="${x + 3}" y="${base - ha}" width="13" height="${ha}" fill="${ATTN}"><title>layer ${l + 1}: ${ly.heads.length} heads, ${(100 * attn).toFixed(0)}% of attention dims</title></rect>`);
      parts.push(`<rect x="${x + 17}" y="${base - hf}" width="13" height="${hf}" fill="${FFN}"><title>layer ${l + 1}: ${ly.ffn} FFN units (${(100 * ffn).toFixed(0)}%)</title></rect>`);
      parts.push(`<text x="${x + 9.5}" y="${base - ha - 3}" text-anchor="middle" fill="${MUTED}" font-size="10">${ly.heads.length}</text>`);
      if (r === models.length - 1) parts.push(`<text x="${x + 16}" y="${base + 12}" text-anchor="middle" fill="${MUTED}">${l + 1}</text>`);
    });
  });
  parts.push(`<text x="${labelW + convW + (L * cell) / 2}" y="${height - 2}" text-anchor="middle" fill="${MUTED}">encoder layer</text>`);
  parts.push('</svg>');
  return parts.join('');
}
