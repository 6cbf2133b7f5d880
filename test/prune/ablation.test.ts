// The pruner's ablation switches: --units whole-head never leaves a partial head (fine-grained runs do); --no-ste
// changes the gate's gradient path as docs/pruner.md says (the forward pass sees the relaxed z, and the gradient is
// the true derivative of the loss: it equals finite differences of the loss in log α through the whole student,
// where the estimator's forward is flat in log α); the deterministic values fold into the weights exactly;
// --init random keeps the layout and replaces the weights; bad combinations are refused with one line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toFloat32 } from '../../src/format/tensor.js';
import { prune, PRUNE_DEFAULTS, randomWeights, type PruneOptions } from '../../src/prune/train.js';
import { BETA, gateArrays, gateList, Gates, LIMIT_L, LIMIT_R, UNIT_KINDS } from '../../src/prune/gates.js';
import { foldGateScales } from '../../src/prune/fold.js';
import { resolvePruneOptions, resolveUnits, UNIT_PRESETS } from '../../src/prune/options.js';
import { Student, trainingRuntime } from '../../src/prune/student.js';
import { pruneInput } from '../../src/cli/main.js';
import { Rng } from '../../src/util/rng.js';
import { writeClips } from '../ref/clips.js';
import { FIXTURES, closeTo, fixtureModel } from '../ref/fixtures.js';
import { rejectsCode, throwsCode } from '../ref/assert.js';

const TEACHER = join(FIXTURES, 'tiny-w2v-group');
const work = mkdtempSync(join(tmpdir(), 'slimwav-ablation-'));
const DATA = join(work, 'data');
mkdirSync(DATA);
writeClips(DATA, { count: 12, prefix: 'clip', lcg: [1103515245, 12345], seedStep: 4001, seed0: 9,
  chirp: [0.3, 160, 45, 0.25], tone: [0.2, 700, 89], noise: 0.1 });
const quiet = () => undefined;
// full mode without final steps: short runs on one target for the whole model, so the structure the gates chose is
// what the assertions see (the default recipe's layer-wise targets and final distillation are not what is tested)
const opts = (out: string, more: Partial<PruneOptions> = {}): PruneOptions => ({
  ...PRUNE_DEFAULTS, mode: 'full', finalSteps: 0, units: [...PRUNE_DEFAULTS.units], threads: 1, teacher: TEACHER, data: DATA, out: join(work, out), targetSparsity: 0.6,
  steps: 40, gateLr: 0.25, cropSeconds: 0.5, batchSeconds: 1, checkpointEvery: 100, logEvery: 1000, validEvery: 40, log: quiet, ...more,
});
const configOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

const fixture = fixtureModel;

const units = suite('--units');
units('presets: fine is every kind (the default), whole-head leaves out the q/k and value dimensions', () => {
  assert.equal(resolveUnits('fine'), [...UNIT_KINDS]);
  assert.equal([...PRUNE_DEFAULTS.units], [...UNIT_KINDS]);
  assert.equal(resolveUnits('whole-head'), ['conv', 'head', 'attn', 'ffn', 'ffnblock']);
  assert.equal(resolveUnits('head, ffn'), ['head', 'ffn']);
  throwsCode(() => resolveUnits('partial-head'), 'E_ARGS', 'unknown unit kind "partial-head"', 'whole-head');
});
units('whole-head mode never produces partial heads on a real run; fine mode does on the same run', async () => {
  const teacher = configOf(TEACHER);
  const hd = teacher.hidden_size / teacher.num_attention_heads;
  const whole = await prune(opts('whole', { units: UNIT_PRESETS['whole-head'] }));
  const wc = configOf(whole.out);
  assert.ok(Math.abs(whole.sparsity - 0.6) <= 0.01, `sparsity ${whole.sparsity}`);
  const kept = wc.layer_heads.flat().length;
  assert.ok(kept > 0 && kept < teacher.num_hidden_layers * teacher.num_attention_heads, `${kept} heads kept: some removed, some left`);
  for (const l of [...wc.layer_head_qk_dims.flat(), ...wc.layer_head_v_dims.flat()]) assert.is(l, hd, 'every kept head keeps its full widths');
  const fine = await prune(opts('fine'));
  const fc = configOf(fine.out);
  assert.ok([...fc.layer_head_qk_dims.flat(), ...fc.layer_head_v_dims.flat()].some((w: number) => w < hd), 'fine-grained run has partial heads');
  // without conv in --units the same run keeps every conv channel and still meets the target with fine-grained heads
  const noConv = await prune(opts('noconv', { units: ['head', 'qk', 'v', 'attn', 'ffn', 'ffnblock'] }));
  const nc = configOf(noConv.out);
  assert.equal(nc.conv_dim, teacher.conv_dim, 'the conv stack stays whole');
  assert.ok(Math.abs(noConv.sparsity - 0.6) <= 0.01, `sparsity ${noConv.sparsity}`);
  assert.ok([...nc.layer_head_qk_dims.flat()].some((w: number) => w < hd), 'fine-grained heads');
});
units.run();

const ste = suite('--no-ste');
ste('without the estimator the forward sees the relaxed z; P(z > 0) is the size model\'s probability', () => {
  const { cfg } = fixture('tiny-w2v-group');
  const a = new Gates(cfg, ['ffn'], new Rng(3), { ste: false }), b = new Gates(cfg, ['ffn'], new Rng(3));
  const la = a.logAlpha.ffn[0];
  la.forEach((_, j) => (la[j] = b.logAlpha.ffn[0][j] = -2 + (4 * j) / la.length));
  const za = a.sample(new Rng(11)).ffn[0], zb = b.sample(new Rng(11)).ffn[0];
  const u = new Rng(11);
  for (let j = 0; j < la.length; j++) {
    const uu = 1e-6 + (1 - 2e-6) * u.next();
    const z = Math.min(1, Math.max(0, (1 / (1 + Math.exp(-(Math.log(uu) - Math.log(1 - uu) + la[j]) / BETA))) * (LIMIT_R - LIMIT_L) + LIMIT_L));
    assert.ok(Math.abs(za[j] - z) < 1e-6, `relaxed z ${za[j]} vs ${z}`);
    assert.is(zb[j], z > 0.5 ? 1 : 0, 'the estimator\'s forward is binary');
  }
  // Monte Carlo: the fraction of samples with z > 0 (no estimator) / z_b = 1 (estimator) is the probability used
  const n = 4000, on = new Float64Array(la.length), onB = new Float64Array(la.length);
  const r = new Rng(5), rb = new Rng(5);
  for (let s = 0; s < n; s++) {
    a.sample(r).ffn[0].forEach((z, j) => (on[j] += z > 0 ? 1 : 0));
    b.sample(rb).ffn[0].forEach((z, j) => (onB[j] += z));
  }
  const pa = a.probs().ffn[0], pb = b.probs().ffn[0];
  for (let j = 0; j < la.length; j++) {
    const sd = (p: number) => Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(on[j] / n - pa[j]) < 4 * sd(pa[j]) + 1e-3, `P(z > 0) ${on[j] / n} vs ${pa[j]}`);
    assert.ok(Math.abs(onB[j] / n - pb[j]) < 4 * sd(pb[j]) + 1e-3, `P(z_b = 1) ${onB[j] / n} vs ${pb[j]}`);
  }
  assert.ok(pa[0] > pb[0] + 0.2, 'P(z > 0) > σ(log α): the relaxed gate is absent less often than the binary one is off');
});

ste('the gradient in log α is the derivative of the loss through the student without the estimator, not with it', async () => {
  const { config, tensors, input, cfg } = fixture('tiny-w2v-group');
  const rt = await trainingRuntime(1, 'release');
  try {
    const st = Student.create(config, tensors, rt.exec, rt.mem);
    const crop = input.subarray(0, 6000);
    const keep = [-1, cfg.numLayers];
    const w = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));
    // L = Σ w·hidden: linear in the outputs, so ∂L/∂hidden = w
    const loss = (g: ReturnType<Gates['sample']>) => {
      const f = st.forward(crop, g, keep);
      return f.hidden.reduce((s, h, k) => { const c = w(h.length, k); let x = 0; for (let i = 0; i < h.length; i++) x += c[i] * h[i]; return s + x; }, 0);
    };
    for (const useSte of [false, true]) {
      const gates = new Gates(cfg, ['ffn', 'v', 'qk', 'head', 'conv'], new Rng(1), { ste: useSte });
      // log α spread around the region where z is neither clamped nor thresholded for the chosen draw
      for (const g of gateList(gates.logAlpha)) for (let j = 0; j < g.data.length; j++) g.data[j] = 0.3 * Math.sin(j * 1.7 + g.data.length);
      const z = gates.sample(new Rng(77));
      const f = st.forward(crop, z, keep);
      st.zeroGrad();
      const dz = gateArrays(cfg, 0);
      st.backward(f.hidden.map((h, k) => w(h.length, k)), dz);
      gates.zeroGrad();
      gates.backward(dz, null);
      // finite differences in log α of a few units of each kind, the same u (same seed) for every sample
      let checked = 0;
      for (const [kind, arr, grad] of [['ffn', gates.logAlpha.ffn[1], gates.grad.ffn[1]], ['v', gates.logAlpha.v[0], gates.grad.v[0]],
        ['qk', gates.logAlpha.qk[1], gates.grad.qk[1]], ['conv', gates.logAlpha.conv[2], gates.grad.conv[2]]] as const) {
        for (const j of [0, 1, 2, 3, 5]) {
          if (j >= arr.length) continue;
          const h = 1e-2, x0 = arr[j];
          arr[j] = x0 + h; const up = loss(gates.sample(new Rng(77)));
          arr[j] = x0 - h; const dn = loss(gates.sample(new Rng(77)));
          arr[j] = x0;
          const fd = (up - dn) / (2 * h);
          if (useSte) {
            // the forward is flat in log α (a sample is 0 or 1 either side) while the estimator reports a slope
            if (up === dn && grad[j] !== 0) checked++;
          } else {
            assert.ok(Math.abs(fd - grad[j]) <= 0.03 * Math.max(Math.abs(fd), 1e-3 * Math.abs(up)), `${kind}[${j}]: finite difference ${fd} vs gradient ${grad[j]}`);
            if (grad[j] !== 0) checked++;
          }
        }
      }
      assert.ok(checked >= 6, `${useSte ? 'STE' : 'no-STE'}: only ${checked} units checked`);
    }
  } finally {
    rt.dispose();
  }
});

ste('folding the deterministic gate values into the weights: the ungated student computes the gated one', async () => {
  const { config, tensors, input, cfg } = fixture('ragged-w2v-a');
  const rt = await trainingRuntime(1, 'release');
  try {
    const z = gateArrays(cfg, 1);
    const r = new Rng(9);
    for (const g of gateList(z)) {
      if (g.name === `conv.${cfg.conv.length - 1}`) continue; // not folded (its channels feed a LayerNorm)
      for (let j = 0; j < g.data.length; j++) g.data[j] = 0.3 + 0.7 * r.next();
    }
    const keep = [-1, ...Array.from({ length: cfg.numLayers + 1 }, (_, i) => i)];
    const crop = input.subarray(0, 6000);
    const a = Student.create(config, tensors, rt.exec, rt.mem).forward(crop, z, keep).hidden.map((h) => h.slice());
    const folded = foldGateScales(cfg, tensors, z);
    const b = Student.create(config, folded, rt.exec, rt.mem).forward(crop, gateArrays(cfg, 1), keep).hidden;
    a.forEach((h, i) => assert.is(closeTo(`hidden ${keep[i]}`, b[i], h, 1e-5), ''));
    assert.not.ok(closeTo('the gates matter', Student.create(config, tensors, rt.exec, rt.mem).forward(crop, gateArrays(cfg, 1), keep).hidden.at(-1)!, a.at(-1)!, 1e-3) === '');
  } finally {
    rt.dispose();
  }
});

ste('a --no-ste run prunes to its target and writes a model', async () => {
  const r = await prune(opts('nste', { ste: false }));
  assert.ok(Math.abs(r.sparsity - 0.6) <= 0.01, `sparsity ${r.sparsity}`);
  const log = JSON.parse(readFileSync(join(r.out, 'train-log.json'), 'utf8'));
  assert.is(log.options.ste, false);
});
ste.run();

const init = suite('--init random');
init('same names and shapes, new values: biases 0, norms 1, weights within ±1/√fan_in, deterministic in the seed', () => {
  const { tensors } = fixture('ragged-w2v-a');
  const a = randomWeights(tensors, 7), b = randomWeights(tensors, 7), c = randomWeights(tensors, 8);
  assert.equal([...a.keys()], [...tensors.keys()]);
  let differ = 0;
  for (const [name, t] of tensors) {
    const x = toFloat32(a.get(name)!, name), old = toFloat32(t, name);
    assert.equal(a.get(name)!.shape, t.shape);
    assert.ok(Buffer.from(a.get(name)!.data).equals(Buffer.from(b.get(name)!.data)), `${name}: same seed, same values`);
    if (name.endsWith('.bias')) assert.ok(x.every((v) => v === 0), name);
    else if (t.shape.length === 1) assert.ok(x.every((v) => v === 1), name);
    else if (!name.includes('weight_g') && !name.includes('gru_rel_pos_const')) {
      const bound = 1 / Math.sqrt(x.length / t.shape[0]);
      assert.ok(x.every((v) => Math.abs(v) <= bound * (1 + 1e-6)), `${name} within ±${bound}`);
      assert.not.ok(Buffer.from(a.get(name)!.data).equals(Buffer.from(c.get(name)!.data)), `${name}: another seed, other values`);
      if (x.some((v, i) => v !== old[i])) differ++;
    }
  }
  assert.ok(differ > 5);
});
init.run();

const refuse = suite('bad combinations');
const base = { teacher: TEACHER, data: DATA, out: join(work, 'never') };
const flags = ['--teacher', 't/', '--data', 'd/', '--out', 'o/'];
refuse('the command line refuses each with one line', () => {
  throwsCode(() => pruneInput([...flags, '--student', 's/', '--no-ste']), 'E_ARGS', '--no-ste cannot be combined with --student');
  throwsCode(() => pruneInput([...flags, '--student', 's/', '--target-speedup', '2']), 'E_ARGS', '--target-speedup cannot be combined with --student');
  throwsCode(() => pruneInput([...flags, '--target-sparsity', '0.5', '--target-speedup', '2']), 'E_ARGS', 'cannot be combined');
  throwsCode(() => pruneInput([...flags, '--target-sparsity', '0.5', '--init', 'random']), 'E_ARGS', '--init needs --student');
  throwsCode(() => pruneInput([...flags, '--student', 's/', '--init', 'zeros']), 'E_ARGS', '--init must be given or random', 'zeros');
  throwsCode(() => pruneInput([...flags, '--target-sparsity', '0.5', '--units', 'heads']), 'E_ARGS', 'unknown unit kind "heads"');
  throwsCode(() => pruneInput([...flags]), 'E_ARGS', 'prune needs --target-sparsity (or --target-speedup)');
});
refuse('the API refuses the same', async () => {
  await rejectsCode(prune({ ...base, targetSparsity: 0.5, init: 'random' }), 'E_ARGS', '--init random needs --student');
  await rejectsCode(prune({ ...base, targetSparsity: 0.5, targetSpeedup: 2 }), 'E_ARGS', '--target-speedup and --target-sparsity cannot be combined');
  await rejectsCode(prune({ ...base, targetSpeedup: 0.5 }), 'E_ARGS', '--target-speedup must be a speed factor above 1', '0.5');
  await rejectsCode(prune({ ...base, student: TEACHER, ste: false }), 'E_ARGS', '--no-ste cannot be combined with --student');
});
refuse('CLI = API for the new flags', async () => {
  const cases: [string[], Record<string, unknown>][] = [
    [['--target-speedup', '2.5', '--units', 'whole-head', '--no-ste'], { targetSpeedup: 2.5, units: 'whole-head', ste: false }],
    [['--student', 's/', '--init', 'random'], { student: 's/', init: 'random' }],
  ];
  for (const [args, api] of cases) {
    const cli = await resolvePruneOptions(pruneInput([...flags, ...args]));
    assert.equal(cli, await resolvePruneOptions({ teacher: 't/', data: 'd/', out: 'o/', ...api }), args.join(' '));
  }
});
refuse.run();
