// Compaction: the masked dense model and the compacted irregular model compute the same function.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, parseConfig, SlimwavError } from '../../src/index.js';
import { compact, applyMasks, type KeepMasks } from '../../src/prune/index.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { countParams } from '../../src/arch/tensors.js';
import { Rng } from '../../src/util/rng.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

function fixture(name: string) {
  const dir = join(FIXTURES, name);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), name).tensors;
  const input = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  return { config, tensors, input };
}

/** deterministic pseudo-random masks with every edge case forced in somewhere */
function randomMasks(cfgJson: Record<string, unknown>, seed: number, convToo: boolean): KeepMasks {
  const rng = new Rng(seed), rnd = () => rng.next();
  const cfg = parseConfig(cfgJson);
  const flags = (n: number, p: number) => Array.from({ length: n }, () => rnd() < p);
  const m: KeepMasks = {
    conv: convToo ? cfg.conv.map((l) => { const f = flags(l.dim, 0.7); f[0] = true; return f; }) : undefined,
    heads: cfg.layers.map((L) => flags(L.heads.length, 0.8)),
    qk: cfg.layers.map((L) => L.heads.map((_, k) => (k === 1 ? new Array(L.qkDims[k]).fill(false) : flags(L.qkDims[k], 0.6)))),
    v: cfg.layers.map((L) => L.heads.map((_, k) => { const f = flags(L.vDims[k], 0.6); f[k % L.vDims[k]] = true; return f; })),
    ffn: cfg.layers.map((L) => flags(L.ffn, 0.5)),
    attention: cfg.layers.map((_, l) => l !== cfg.numLayers - 1 || cfg.numLayers === 1),
    ffnBlock: cfg.layers.map((_, l) => l !== 0),
  };
  return m;
}

async function hidden(config: Record<string, unknown>, tensors: Map<string, any>, input: Float32Array) {
  const model = await buildModel(config, tensors, 'test', []);
  const r = await model.extract(input, { layers: 'all' });
  model.dispose();
  return r.layers;
}

const s = suite('compact');

for (const [name, convToo] of [['tiny-w2v-group', true], ['tiny-hubert-layer-preln', false], ['tiny-w2v-layer-postln', false]] as const) {
  for (const seed of [1, 2, 3]) {
    s(`${name} seed ${seed}: masked dense == compacted (1e-5), and smaller`, async () => {
      const { config, tensors, input } = fixture(name);
      const masks = randomMasks(config, seed * 7919 + name.length, convToo);
      const masked = applyMasks(config, tensors, masks);
      const c = compact(config, tensors, masks);
      const cfg = parseConfig(c.config);
      assert.ok(cfg.pruned);
      assert.ok(countParams(cfg, c.tensors) < countParams(parseConfig(config), tensors));
      // the layout really is irregular
      const widths = new Set(cfg.layers.flatMap((L) => L.qkDims));
      assert.ok(widths.size > 1, `qk widths ${[...widths]}`);
      assert.ok(cfg.layers.some((L) => L.qkDims.includes(0)), 'some head with q/k width 0');
      assert.is(cfg.layers[0].ffn, 0);
      const a = await hidden(config, masked, input);
      const b = await hidden(c.config, c.tensors, input);
      assert.is(a.length, b.length);
      a.forEach((x, i) => assert.is(closeTo(`hidden ${i}`, b[i], x, 1e-5), ''));
      // and the masks matter: the unmasked dense model differs
      const d = await hidden(config, tensors, input);
      assert.ok(closeTo('dense', d[d.length - 1], a[a.length - 1], 1e-3) !== '');
    });
  }
}

s('pruning the last conv layer keeps the projection LayerNorm exact (virtual zero channels)', async () => {
  const { config, tensors, input } = fixture('tiny-w2v-group');
  const cfg = parseConfig(config);
  const last = cfg.conv.length - 1;
  const masks: KeepMasks = { conv: cfg.conv.map((l, i) => (i === last ? Array.from({ length: l.dim }, (_, c) => c % 3 !== 1) : undefined)) };
  const c = compact(config, tensors, masks);
  assert.is(c.config.feat_proj_layer_norm_size, cfg.conv[last].dim);
  const a = await hidden(config, applyMasks(config, tensors, masks), input);
  const b = await hidden(c.config, c.tensors, input);
  a.forEach((x, i) => assert.is(closeTo(`hidden ${i}`, b[i], x, 1e-5), ''));
  // without the recorded size the function would change
  const naive = { ...c.config };
  delete naive.feat_proj_layer_norm_size;
  const n = await hidden(naive, c.tensors, input);
  assert.ok(closeTo('naive', n[0], a[0], 1e-3) !== '');
  // DPHuBERT-style slicing: no extensions written, close to but not equal to the masked model
  const d = compact(config, tensors, masks, { exactLastConv: false });
  assert.is(d.config.feat_proj_layer_norm_size, undefined);
  assert.not.ok(d.tensors.has('feature_projection.pruned_channel_weight'));
  assert.ok(d.notes.some((x) => x.includes('sliced')));
  const e = await hidden(d.config, d.tensors, input);
  assert.ok(closeTo('sliced', e[0], a[0], 1e-5) !== '');
});

s('refuses inexact compactions unless asked', () => {
  const { config, tensors } = fixture('tiny-w2v-layer-postln');
  const cfg = parseConfig(config);
  const masks: KeepMasks = { conv: [Array.from({ length: cfg.conv[0].dim }, (_, c) => c !== 2)] };
  try {
    compact(config, tensors, masks);
    assert.unreachable('should refuse');
  } catch (err) {
    assert.instance(err, SlimwavError);
    assert.match((err as Error).message, /LayerNorm/);
  }
  const c = compact(config, tensors, masks, { allowInexact: true });
  assert.is((c.config.conv_dim as number[])[0], cfg.conv[0].dim - 1);
});

s('bad masks are refused with the layer named', () => {
  const { config, tensors } = fixture('tiny-w2v-group');
  assert.throws(() => compact(config, tensors, { ffn: [[true, false]] }), /layer 0 FFN units: mask has 2 entries, expected 80/);
  assert.throws(() => compact(config, tensors, { conv: [new Array(18).fill(false)] }), /conv layer 0: every channel is masked/);
});

s.run();
