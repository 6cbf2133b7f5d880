// The gated student: with all gates 1 it is the inference engine; with binary gates it is the compacted model; its
// backward matches finite differences of its forward for weights and continuous gates of every kind; the layer-wise
// functions compose to the full forward and their gradients add up to the full backward.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModel, parseConfig } from '../../src/index.js';
import { compact, applyMasks } from '../../src/prune/index.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { gateList } from '../../src/prune/gates.js';
import { Rng } from '../../src/util/rng.js';
import { Student, gateValues, gatesToMasks, trainingRuntime, type GateValues, type TrainingRuntime } from '../../src/prune/student.js';
import { distillLoss } from '../../src/prune/ops.js';
import { closeTo, fixtureModel } from '../ref/fixtures.js';

const FIX = ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'wavlm-ragged-a'];

const fixture = fixtureModel;

/** every hidden state of the inference engine, and the projection output */
async function engine(config: Record<string, unknown>, tensors: Map<string, RawTensor>, input: Float32Array) {
  const model = await buildModel(config, tensors, 'test', [], { threads: 1 });
  let proj: Float32Array | null = null;
  const r = await model.extract(input, { layers: 'all', capture: (stage, data) => { if (stage === 'proj') proj = data; } });
  model.dispose();
  return { hidden: r.layers, proj: proj! };
}

const allKeep = (L: number) => [-1, ...Array.from({ length: L + 1 }, (_, i) => i)];

/** random binary gates; compaction needs a channel per conv layer, WavLM keeps layer 0's bias alive */
function randomBinary(cfg: ReturnType<typeof parseConfig>, seed: number, pOn: number, convToo: boolean): GateValues {
  const r = new Rng(seed);
  const g = gateValues(cfg, 1);
  for (const a of gateList(g)) {
    if (a.kind === 'conv' && !convToo) continue;
    for (let j = 0; j < a.data.length; j++) a.data[j] = r.next() < pOn ? 1 : 0;
  }
  g.conv.forEach((c) => (c[0] = 1));
  if (cfg.modelType === 'wavlm' && cfg.layers[0].heads.length > 0) { g.attn[0] = 1; g.heads[0][0] = 1; g.v[0][0] = 1; }
  return g;
}

async function withRuntime<T>(threads: number, fn: (rt: TrainingRuntime) => Promise<T> | T): Promise<T> {
  const rt = await trainingRuntime(threads, threads > 1 ? 'release-shared' : 'release');
  try {
    return await fn(rt);
  } finally {
    rt.dispose();
  }
}

// =============================================================================================================
const parity = suite('student = engine, student with binary gates = compacted model');

for (const name of FIX) {
  parity(`${name}: all gates 1 = the inference engine (1e-5), and tensors() round-trips`, async () => {
    const { config, tensors, input, cfg } = fixture(name);
    const ref = await engine(config, tensors, input);
    await withRuntime(1, async (rt) => {
      const st = Student.create(config, tensors, rt.exec, rt.mem);
      const f = st.forward(input, gateValues(cfg, 1), allKeep(cfg.numLayers));
      assert.is(f.frames * cfg.hidden, ref.proj.length);
      assert.is(closeTo('projection', f.hidden[0], ref.proj, 1e-5), '');
      ref.hidden.forEach((h, i) => assert.is(closeTo(`hidden ${i}`, f.hidden[i + 1], h, 1e-5), ''));
      // the exported weights (folded pos conv, HF layouts) run the same in the engine
      const back = await engine(config, st.tensors(), input);
      back.hidden.forEach((h, i) => assert.is(closeTo(`tensors() hidden ${i}`, h, ref.hidden[i], 1e-5), ''));
      assert.ok(st.tensors().has('encoder.pos_conv_embed.conv.weight'));
    });
  });

  for (const seed of [1, 2]) {
    parity(`${name} seed ${seed}: random binary gates = compact(gatesToMasks) in the engine (1e-5)`, async () => {
      const { config, tensors, input, cfg } = fixture(name);
      const convToo = cfg.featExtractNorm === 'group';
      const g = randomBinary(cfg, seed * 101 + name.length, seed === 1 ? 0.7 : 0.5, convToo);
      const masks = gatesToMasks(config, g);
      const c = compact(config, tensors, masks);
      const ref = await engine(c.config, c.tensors, input);
      const masked = await engine(config, applyMasks(config, tensors, masks), input);
      await withRuntime(1, async (rt) => {
        const st = Student.create(config, tensors, rt.exec, rt.mem);
        const f = st.forward(input, g, allKeep(cfg.numLayers));
        ref.hidden.forEach((h, i) => assert.is(closeTo(`hidden ${i} vs compacted`, f.hidden[i + 1], h, 1e-5), ''));
        masked.hidden.forEach((h, i) => assert.is(closeTo(`hidden ${i} vs masked`, f.hidden[i + 1], h, 1e-5), ''));
        assert.is(closeTo('projection', f.hidden[0], ref.proj, 1e-5), '');
        // the gates matter
        const dense = st.forward(input, gateValues(cfg, 1), [cfg.numLayers]).hidden[0];
        assert.ok(closeTo('ungated', dense, f.hidden[cfg.numLayers + 1], 1e-3) !== '');
        // a student of the compacted model (virtual zero channels when the last conv layer lost some) = that model
        const st2 = Student.create(c.config, c.tensors, rt.exec, rt.mem);
        const f2 = st2.forward(input, gateValues(c.config, 1), allKeep(cfg.numLayers));
        ref.hidden.forEach((h, i) => assert.is(closeTo(`compacted student hidden ${i}`, f2.hidden[i + 1], h, 1e-5), ''));
        const back = await engine(c.config, st2.tensors(), input);
        back.hidden.forEach((h, i) => assert.is(closeTo(`compacted student tensors() hidden ${i}`, h, ref.hidden[i], 1e-5), ''));
      });
    });
  }
}

parity('2 threads = 1 thread (forward and gradients), ragged WavLM', async () => {
  const { config, tensors, input, cfg } = fixture('wavlm-ragged-a');
  const crop = input.subarray(0, 6000);
  const g = randomBinary(cfg, 5, 0.8, true);
  const run = (threads: number) => withRuntime(threads, (rt) => {
    const st = Student.create(config, tensors, rt.exec, rt.mem);
    const keep = allKeep(cfg.numLayers);
    const f = st.forward(crop, g, keep);
    const gg = gateValues(cfg, 0);
    st.backward(f.hidden.map((h) => h.map((_, i) => Math.sin(i * 0.37))), gg);
    return { hidden: f.hidden, grad: rt.mem.f32(st.flat.grad, st.flat.size).slice(), gates: gateList(gg).map((a) => a.data.slice()) };
  });
  const a = await run(1), b = await run(2);
  a.hidden.forEach((h, i) => assert.is(closeTo(`hidden ${i}`, b.hidden[i], h, 1e-6), ''));
  assert.is(closeTo('weight gradients', b.grad, a.grad, 1e-5), '');
  a.gates.forEach((x, i) => assert.is(closeTo(`gate gradients ${i}`, b.gates[i], x, 1e-5), ''));
});

parity.run();

// =============================================================================================================
// gradients: directional finite differences of a distillation loss through the whole student

interface Setup { st: Student; rt: TrainingRuntime; crop: Float32Array; keep: number[]; targets: Float32Array[]; gates: GateValues }

function lossOf(s: Setup, gates = s.gates): number {
  const f = s.st.forward(s.crop, gates, s.keep);
  let L = 0;
  f.hidden.forEach((h, i) => { L += distillLoss(h, s.targets[i], f.frames, s.st.hidden).loss; });
  return L;
}

function analytic(s: Setup): GateValues {
  const f = s.st.forward(s.crop, s.gates, s.keep);
  const dH = f.hidden.map((h, i) => {
    const g = new Float32Array(h.length);
    distillLoss(h, s.targets[i], f.frames, s.st.hidden, g);
    return g;
  });
  s.st.zeroGrad();
  const gg = gateValues(s.st.config, 0);
  s.st.backward(dH, gg);
  return gg;
}

/** central difference of lossOf along u on the values at ptr (restored afterwards) */
function fdParam(s: Setup, ptr: number, u: Float32Array, h: number): number {
  const w = s.rt.mem.f32(ptr, u.length).slice();
  const set = (k: number) => s.rt.mem.f32(ptr, u.length).set(w.map((x, j) => x + k * h * u[j]));
  set(1);
  const up = lossOf(s);
  set(-1);
  const dn = lossOf(s);
  s.rt.mem.f32(ptr, u.length).set(w);
  return (up - dn) / (2 * h);
}

function assertDirectional(what: string, an: number, fd: number, rel = 2e-2, abs = 2e-6): void {
  assert.ok(Math.abs(an - fd) <= rel * Math.max(Math.abs(an), Math.abs(fd)) + abs, `${what}: analytic ${an} vs finite difference ${fd}`);
}

/** a random direction scaled like the values (so every tensor moves by about the same relative amount) */
function direction(r: Rng, w: Float32Array): Float32Array {
  let ms = 0;
  for (const x of w) ms += x * x;
  const scale = Math.max(Math.sqrt(ms / Math.max(1, w.length)), 0.05);
  return Float32Array.from(w, () => (r.next() * 2 - 1) * scale);
}

const grads = suite('student gradients');

for (const name of FIX) {
  grads(`${name}: weights of every kind and continuous gates of every kind vs finite differences`, async () => {
    const { config, tensors, input, cfg } = fixture(name);
    await withRuntime(1, (rt) => {
      const st = Student.create(config, tensors, rt.exec, rt.mem);
      const crop = input.subarray(1000, 1000 + (cfg.modelType === 'wavlm' ? 3000 : 2600));
      const L = cfg.numLayers;
      const keep = [-1, Math.ceil(L / 2), L];
      const r = new Rng(name.length * 17 + 3);
      const T = st.frames(crop.length);
      // continuous gates in (0.4, 1): every kind gets a gradient that is not the binary special case
      const gates = gateValues(cfg, 1);
      for (const a of gateList(gates)) for (let j = 0; j < a.data.length; j++) a.data[j] = 0.4 + 0.6 * r.next();
      // targets at least 0.2 away from the student's states, so no |s − t| kink of the L1 term is crossed by a step
      const h0 = st.forward(crop, gates, keep).hidden;
      const targets = h0.map((h) => h.map((x) => { const n = r.next() * 2 - 1; return x + (n > 0 ? 0.5 : -0.5) + 0.3 * n; }));
      assert.is(T, h0[0].length / cfg.hidden);
      const s: Setup = { st, rt, crop, keep, targets, gates };
      const gg = analytic(s);
      const grad = rt.mem.f32(st.flat.grad, st.flat.size).slice();
      let checked = 0;
      for (const p of st.params()) {
        const w = rt.mem.f32(p.ptr, p.size).slice();
        const u = direction(r, w);
        const off = (p.grad - st.flat.grad) / 4;
        let an = 0;
        for (let j = 0; j < p.size; j++) an += grad[off + j] * u[j];
        const fd = fdParam(s, p.ptr, u, 1e-2);
        assertDirectional(`${name} ${p.name}`, an, fd);
        checked++;
      }
      assert.ok(checked >= 20, `${checked} parameters checked`);
      const gl = gateList(gates), gd = gateList(gg);
      gl.forEach((a, i) => {
        if (a.data.length === 0) return;
        const u = Float32Array.from(a.data, () => r.next() * 2 - 1);
        let an = 0;
        for (let j = 0; j < u.length; j++) an += gd[i].data[j] * u[j];
        const base = a.data.slice(), h = 1e-2;
        a.data.set(base.map((x, j) => x + h * u[j]));
        const up = lossOf(s);
        a.data.set(base.map((x, j) => x - h * u[j]));
        const dn = lossOf(s);
        a.data.set(base);
        assertDirectional(`${name} gate ${a.name}`, an, (up - dn) / (2 * h));
      });
    });
  });
}

grads.run();

// =============================================================================================================
const lw = suite('layer-wise functions');

for (const name of FIX) {
  lw(`${name}: front, pos conv and layers compose to the full forward; their gradients add up to the full backward`, async () => {
    const { config, tensors, input, cfg } = fixture(name);
    await withRuntime(1, (rt) => {
      const st = Student.create(config, tensors, rt.exec, rt.mem);
      const crop = input.subarray(500, 5500);
      const L = cfg.numLayers, D = cfg.hidden;
      const r = new Rng(name.length + 99);
      const gates = gateValues(cfg, 1);
      for (const a of gateList(gates)) for (let j = 0; j < a.data.length; j++) a.data[j] = 0.5 + 0.5 * r.next();
      const keep = allKeep(L);
      const full = st.forward(crop, gates, keep);
      const T = full.frames;
      const dH = keep.map(() => Float32Array.from({ length: T * D }, () => r.next() * 2 - 1));
      st.zeroGrad();
      const gFull = gateValues(cfg, 0);
      st.backward(dH, gFull);
      const wFull = rt.mem.f32(st.flat.grad, st.flat.size).slice();

      // forward composition
      const proj = st.forwardFront(crop, gates);
      assert.is(closeTo('front', proj, full.hidden[0], 1e-6), '');
      const h0 = st.forwardPos(proj);
      assert.is(closeTo('pos', h0, full.hidden[1], 1e-6), '');
      const outs: Float32Array[] = [];
      for (let l = 0; l < L; l++) {
        const o = st.forwardLayer(l, full.hidden[l + 1], gates);
        assert.is(closeTo(`layer ${l}`, o, full.hidden[l + 2], 1e-6), '');
        if (cfg.modelType === 'wavlm') {
          const o2 = st.forwardLayer(l, full.hidden[l + 1], gates, st.relativeBias(T));
          assert.is(closeTo(`layer ${l} with given bias`, o2, o, 1e-6), '');
          st.forwardLayer(l, full.hidden[l + 1], gates); // back to the student's own bias (its gradient is compared below)
        }
        outs.push(o);
      }
      // backward composition: the chain of layer-wise backwards = the full backward
      st.zeroGrad();
      const gLw = gateValues(cfg, 0);
      let d: Float32Array = dH[L + 1].slice();
      for (let l = L - 1; l >= 0; l--) {
        d = st.backwardLayer(l, d, gLw);
        for (let i = 0; i < d.length; i++) d[i] += dH[l + 1][i];
      }
      const dProj = st.backwardPos(d);
      for (let i = 0; i < dProj.length; i++) dProj[i] += dH[0][i];
      st.backwardFront(dProj, gLw);
      assert.is(closeTo('weight gradients', rt.mem.f32(st.flat.grad, st.flat.size).slice(), wFull, 1e-5), '');
      gateList(gFull).forEach((a, i) => assert.is(closeTo(`gate gradients ${a.name}`, gateList(gLw)[i].data, a.data, 1e-5), ''));

      // one layer on its own: ∂/∂input and ∂/∂weights by finite differences of a loss on its output
      let l = L - 1; // the last layer with heads (WavLM: its bias path too)
      while (l > 0 && cfg.layers[l].heads.length === 0) l--;
      const xin = full.hidden[l + 1];
      const target = st.forwardLayer(l, xin, gates).map((x) => { const n = r.next() * 2 - 1; return x + (n > 0 ? 0.5 : -0.5) + 0.3 * n; });
      const lossL = (x: Float32Array) => distillLoss(st.forwardLayer(l, x, gates), target, T, D).loss;
      const out = st.forwardLayer(l, xin, gates);
      const dOut = new Float32Array(T * D);
      distillLoss(out, target, T, D, dOut);
      st.zeroGrad();
      const gL = gateValues(cfg, 0);
      const dIn = st.backwardLayer(l, dOut, gL);
      const u = direction(r, xin), h = 1e-2;
      let an = 0;
      for (let i = 0; i < u.length; i++) an += dIn[i] * u[i];
      const fd = (lossL(xin.map((x, i) => x + h * u[i])) - lossL(xin.map((x, i) => x - h * u[i]))) / (2 * h);
      assertDirectional(`${name} layer ${l} input`, an, fd);
      const grad = rt.mem.f32(st.flat.grad, st.flat.size).slice();
      const mine = st.params().filter((p) => p.name.startsWith(`encoder.layers.${l}.`) || (cfg.modelType === 'wavlm' && p.name.includes('rel_attn_embed')));
      assert.ok(mine.length >= 6, `layer ${l} has its parameters`);
      for (const p of mine) {
        const w = rt.mem.f32(p.ptr, p.size).slice();
        const uu = direction(r, w);
        const off = (p.grad - st.flat.grad) / 4;
        let a = 0;
        for (let j = 0; j < p.size; j++) a += grad[off + j] * uu[j];
        const set = (k: number) => rt.mem.f32(p.ptr, p.size).set(w.map((x, j) => x + k * h * uu[j]));
        set(1);
        const up = lossL(xin);
        set(-1);
        const dn = lossL(xin);
        rt.mem.f32(p.ptr, p.size).set(w);
        assertDirectional(`${name} layer ${l} ${p.name}`, a, (up - dn) / (2 * h));
      }
      // a given bias is a constant: the embedding gets nothing
      if (cfg.modelType === 'wavlm') {
        const rel = st.params().find((p) => p.name.includes('rel_attn_embed'))!;
        st.forwardLayer(l, xin, gates, st.relativeBias(T));
        st.zeroGrad();
        st.backwardLayer(l, dOut, gateValues(cfg, 0));
        assert.ok(rt.mem.f32(rel.grad, rel.size).every((x) => x === 0), 'no gradient into rel_attn_embed with a given bias');
      }
    });
  });
}

lw.run();
