// Pictures: inspect --svg draws each layer's kept heads, widths and FFN; the demo and bench charts hold their data.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/arch/config.js';
import { structureSvg, layoutOf } from '../../src/viz/structure-svg.js';
import { barChart, lineChart, el } from '../../src/viz/svg.js';
import { demoSvg } from '../../src/cli/demo.js';
import { benchSvg } from '../../src/cli/bench.js';
import { FIXTURES } from '../ref/fixtures.js';
import { slimwav, fails } from '../ref/cli.js';

const work = mkdtempSync(join(tmpdir(), 'slimwav-svg-'));
const s = suite('svg');

/** the opening tags of `tag` elements with every attribute in `attrs` */
function tags(svg: string, tag: string, attrs: Record<string, string | number> = {}): string[] {
  return (svg.match(new RegExp(`<${tag}\\b[^>]*>`, 'g')) ?? []).filter((t) => Object.entries(attrs).every(([k, v]) => t.includes(` ${k}="${v}"`)));
}
const attr = (tag: string, k: string) => new RegExp(` ${k}="([^"]*)"`).exec(tag)?.[1];

s('inspect --svg: one rect per kept head with its q/k and v widths, FFN and conv per layer', () => {
  for (const name of ['ragged-w2v-a', 'wavlm-ragged-c', 'ragged-hubert-b', 'tiny-w2v-group']) {
    const dir = join(FIXTURES, name);
    const cfg = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const out = join(work, `${name}.svg`);
    const r = slimwav('inspect', dir, '--svg', out);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /params/, 'the text report still prints');
    const svg = readFileSync(out, 'utf8');
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.is(tags(svg, 'rect', { class: 'conv' }).length, cfg.conv.length);
    tags(svg, 'rect', { class: 'conv' }).forEach((t, i) => assert.is(attr(t, 'data-channels'), String(cfg.conv[i].dim)));
    cfg.layers.forEach((L, l) => {
      const heads = tags(svg, 'rect', { class: 'head', 'data-layer': l });
      assert.is(heads.length, L.heads.length, `${name} layer ${l}: kept heads`);
      assert.equal(heads.map((t) => Number(attr(t, 'data-head'))), L.heads);
      assert.equal(heads.map((t) => Number(attr(t, 'data-qk'))), L.qkDims);
      assert.equal(heads.map((t) => Number(attr(t, 'data-v'))), L.vDims);
      assert.is(tags(svg, 'rect', { class: 'qk', 'data-layer': l }).length, L.heads.length);
      assert.is(tags(svg, 'rect', { class: 'v', 'data-layer': l }).length, L.heads.length);
      assert.is(tags(svg, 'rect', { class: 'head-removed', 'data-layer': l }).length, cfg.numHeads - L.heads.length);
      assert.is(tags(svg, 'rect', { class: 'ffn', 'data-layer': l }).length, L.ffn > 0 ? 1 : 0);
      const label = tags(svg, 'text', { class: 'ffn-label', 'data-layer': l });
      assert.is(label.length, 1);
      assert.ok(svg.includes(`${label[0]}ffn ${L.ffn}</text>`), `${name} layer ${l}: FFN label`);
      assert.ok(svg.includes(`>L${l}</text>`));
    });
    if (cfg.layers.some((L) => L.heads.length === 0)) assert.ok(svg.includes('attention removed'));
  }
  fails(slimwav('inspect', join(FIXTURES, 'ragged-w2v-a'), '--svg', join(work, 'x.png')), '--svg');
  assert.equal(readdirSync(work).filter((f) => f.includes('tmp')), []);
});

s('structure picture: widths drawn in proportion to the dense head and FFN', () => {
  const svg = structureSvg({ numHeads: 2, headDim: 8, intermediate: 100, conv: [4, 2], convDense: [8, 8],
    layers: [{ heads: [1], qkDims: [2], vDims: [8], ffn: 25 }] });
  const qk = tags(svg, 'rect', { class: 'qk' })[0], v = tags(svg, 'rect', { class: 'v' })[0];
  assert.is(Number(attr(qk, 'height')) * 4, Number(attr(v, 'height')), 'q/k 2 of 8 is a quarter of v 8 of 8');
  const ffn = tags(svg, 'rect', { class: 'ffn' })[0], dense = tags(svg, 'rect', { class: 'ffn-dense' })[0];
  assert.is(Number(attr(ffn, 'width')) * 4, Number(attr(dense, 'width')));
  assert.ok(svg.includes('>4/8</text>') && svg.includes('>2/8</text>'), 'conv channels against the dense model');
  assert.is(tags(svg, 'rect', { class: 'head-removed', 'data-head': 0 }).length, 1);
});

s('demo and bench charts hold one mark per measurement, labelled', () => {
  const rows = [
    { name: 'dense', params: 94.4e6, bytes: 377.6e6, macs: 6.9e9, ms: 800, rtf: 0.08 },
    { name: 'pruned', params: 26.4e6, bytes: 105.6e6, macs: 1.9e9, ms: 250, rtf: 0.025 },
  ];
  const d = demoSvg(rows, 10.4);
  const bars = tags(d, 'rect', { class: 'bar' });
  assert.is(bars.length, 6, 'time, weight bytes, MACs × dense, pruned');
  assert.equal(bars.map((t) => Number(attr(t, 'data-value'))), [800, 250, 377.6, 105.6, 6.9, 1.9]);
  assert.is(Number(attr(bars[1], 'width')) / Number(attr(bars[0], 'width')), 250 / 800);
  assert.is((d.match(/class="bar-label"[^>]*>dense</g) ?? []).length, 3);
  const benchRows = [0, 0.5, 0.72].flatMap((sp, i) => [1, 2].map((threads) => ({
    model: ['dense', 'pruned-0.5', 'pruned-0.72'][i], runtime: 'slimwav', build: 'relaxed', threads, ms: 1000 * (1 - sp) / threads,
  })));
  benchRows.push({ model: 'dense', runtime: 'onnxruntime-web', build: 'wasm simd', threads: 1, ms: 2000 });
  const b = benchSvg(benchRows, new Map([['dense', 0], ['pruned-0.5', 0.5], ['pruned-0.72', 0.72]]), 10);
  assert.is(tags(b, 'polyline', { class: 'series' }).length, 2, 'one line per thread count (ours only)');
  assert.is(tags(b, 'circle', { class: 'point' }).length, 6);
  assert.is(tags(b, 'circle', { class: 'point', 'data-series': 'relaxed, 2 threads', 'data-x': 0.5 })[0] !== undefined, true);
  assert.ok(b.includes('>relaxed, 1 thread</text>') && b.includes('sparsity (fraction of parameters removed)'));
});

s('text is escaped; the viz modules import nothing from node', () => {
  const svg = barChart('a <b> & "c"', [{ label: '<x>', bars: [{ label: 'y&z', value: 1 }] }]);
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;') && svg.includes('&lt;x&gt;') && svg.includes('y&amp;z'));
  assert.not.ok(svg.includes('<b>'));
  assert.is(el('rect', { x: 1.23456, y: undefined }), '<rect x="1.23"/>');
  assert.is(tags(lineChart('t', 'x', 'y', [{ label: 's', points: [[0, 1], [1, 2]] }]), 'circle').length, 2);
  const here = dirname(fileURLToPath(import.meta.url));
  for (const f of ['svg.ts', 'structure-svg.ts']) {
    const src = readFileSync(join(here, '..', '..', 'src', 'viz', f), 'utf8');
    assert.not.match(src, /from '(node:|fs|path|os)/, `${f} must stay browser-safe`);
  }
  assert.ok(structureSvg(layoutOf(parseConfig(JSON.parse(readFileSync(join(FIXTURES, 'ragged-w2v-c', 'config.json'), 'utf8'))))).includes('ffn 1000'));
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
