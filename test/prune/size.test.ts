// The size model: with binary gates it is the exact count of the compacted model; its gradients are right.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/index.js';
import { compact } from '../../src/prune/index.js';
import { countParams, countMacs } from '../../src/arch/tensors.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { numel } from '../../src/format/tensor.js';
import { gateArrays, gateList, gatesToMasks, Gates, type GateArrays } from '../../src/prune/gates.js';
import { Rng } from '../../src/util/rng.js';
import { expectedSize, sizeConstants } from '../../src/prune/size.js';
import { FIXTURES } from '../ref/fixtures.js';

function fixture(name: string) {
  const dir = join(FIXTURES, name);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), name).tensors;
  const cfg = parseConfig(config);
  let pos = 0;
  for (const [n, t] of tensors) if (n.startsWith('encoder.pos_conv_embed.')) pos += numel(t.shape);
  return { config, tensors, cfg, consts: sizeConstants(cfg, new Set(tensors.keys()), pos) };
}

function randomBinary(cfg: ReturnType<typeof parseConfig>, seed: number, pOn: number): GateArrays {
  const r = new Rng(seed);
  const g = gateArrays(cfg, 1);
  for (const a of gateList(g)) for (let j = 0; j < a.data.length; j++) a.data[j] = r.next() < pOn ? 1 : 0;
  g.conv.forEach((c) => (c[0] = 1)); // compaction needs one channel per conv layer
  if (cfg.modelType === 'wavlm') { g.attn[0] = 1; g.heads[0][0] = 1; g.v[0][0] = 1; } // keep WavLM's bias alive
  return g;
}

const s = suite('size model');
for (const name of ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'ragged-hubert-b', 'wavlm-dense', 'wavlm-ragged-a']) {
  s(`${name}: all gates on = the model's own count`, () => {
    const f = fixture(name);
    const e = expectedSize(f.cfg, gateArrays(f.cfg, 1), f.consts);
    assert.is(e.params, countParams(f.cfg, f.tensors));
    assert.is(e.macs, countMacs(f.cfg, 16000).total);
  });
  for (const seed of [1, 2, 3, 4]) {
    s(`${name} seed ${seed}: binary gates = count of the compacted model`, () => {
      const f = fixture(name);
      const g = randomBinary(f.cfg, seed * 31 + name.length, [0.9, 0.6, 0.4, 0.75][seed - 1]);
      const c = compact(f.config, f.tensors, gatesToMasks(f.cfg, g), { exactLastConv: false, allowInexact: true });
      const pc = parseConfig(c.config);
      const e = expectedSize(f.cfg, g, f.consts);
      assert.is(e.params, countParams(pc, c.tensors));
      assert.is(e.macs, countMacs(pc, 16000).total);
    });
  }
  s(`${name}: gradients match finite differences`, () => {
    const f = fixture(name);
    const r = new Rng(9);
    const p = gateArrays(f.cfg, 1);
    for (const a of gateList(p)) for (let j = 0; j < a.data.length; j++) a.data[j] = 0.2 + 0.6 * r.next();
    const e = expectedSize(f.cfg, p, f.consts);
    const lists = gateList(p), dP = gateList(e.dParams), dM = gateList(e.dMacs);
    for (let i = 0; i < lists.length; i++) {
      for (const j of [0, lists[i].data.length - 1]) {
        if (lists[i].data.length === 0) continue;
        const x = lists[i].data[j], h = 1e-3;
        lists[i].data[j] = x + h;
        const up = expectedSize(f.cfg, p, f.consts);
        lists[i].data[j] = x - h;
        const dn = expectedSize(f.cfg, p, f.consts);
        lists[i].data[j] = x;
        const fdP = (up.params - dn.params) / (2 * h), fdM = (up.macs - dn.macs) / (2 * h);
        assert.ok(Math.abs(fdP - dP[i].data[j]) <= 1e-3 * Math.max(1, Math.abs(fdP)), `${lists[i].name}[${j}] params: ${dP[i].data[j]} vs ${fdP}`);
        assert.ok(Math.abs(fdM - dM[i].data[j]) <= 1e-3 * Math.max(1, Math.abs(fdM)), `${lists[i].name}[${j}] macs: ${dM[i].data[j]} vs ${fdM}`);
      }
    }
  });
}
s.run();

// ---
const g = suite('hard-concrete gates');
g('init, sampling frequency = σ(log α), straight-through gradient, deterministic masks', () => {
  const f = fixture('tiny-w2v-group');
  const gates = new Gates(f.cfg, ['conv', 'head', 'qk', 'v', 'attn', 'ffn', 'ffnblock'], new Rng(1));
  // every unit kind starts at the same, almost-always-on probability (docs/pruner.md: one init for all kinds)
  const p = gates.probs();
  assert.ok(Math.abs(p.attn[0] - 0.99) < 0.005, `${p.attn[0]}`);
  assert.ok(Math.abs(p.ffn[0][0] - 0.99) < 0.005, `${p.ffn[0][0]}`);
  assert.ok(Math.abs(p.qk[1][3] - 0.99) < 0.005, `${p.qk[1][3]}`);
  gates.logAlpha.ffn[0].fill(0.4);
  const rng = new Rng(5);
  let on = 0, n = 0;
  for (let t = 0; t < 400; t++) {
    const z = gates.sample(rng);
    for (const x of z.ffn[0]) { on += x; n++; assert.ok(x === 0 || x === 1); }
  }
  const expect = 1 / (1 + Math.exp(-0.4));
  assert.ok(Math.abs(on / n - expect) < 0.01, `${on / n} vs ${expect}`);
  // gradient: dL/dz = 1 on every unit → dL/dlogα ≥ 0 and zero where the sample was clamped
  gates.zeroGrad();
  gates.sample(rng);
  const ones = gateArrays(f.cfg, 1);
  gates.backward(ones, null);
  for (const x of gates.grad.ffn[0]) assert.ok(x >= 0 && x <= 1.2 * 0.25 / (2 / 3) + 1e-6);
  // size gradient goes through p(1 − p)
  gates.zeroGrad();
  gates.backward(null, ones);
  assert.ok(Math.abs(gates.grad.ffn[0][0] - expect * (1 - expect)) < 1e-6);
  const det = gates.deterministic();
  assert.ok(det.ffn[0].every((x) => x === 1));
  gates.logAlpha.ffn[0][3] = -0.1;
  assert.is(gates.deterministic().ffn[0][3], 0);
  // disabled kinds always pass
  const only = new Gates(f.cfg, ['ffn'], new Rng(2));
  const z = only.sample(new Rng(3));
  assert.ok(z.heads.every((h) => h.every((x) => x === 1)));
  assert.throws(() => new Gates(f.cfg, ['bogus' as never], new Rng(1)), /unknown unit kind/);
});
g.run();
