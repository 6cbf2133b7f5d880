#!/usr/bin/env node
// Gate-free distillation of an already pruned student from the dense teacher, with slimwav's own training code:
// the "+ distillation" half of the magnitude baseline.
//
//   node eval/distill.mjs --teacher <dense> --student <pruned> --data <folder-of-audio> --out <folder>
//        [--steps N] [--threads N] [--lr X] [--seed N] [--crop-seconds S] [--batch-seconds S]
//
// This is the loop of `slimwav prune --final-steps` (src/prune/train.ts finalDistill) step for step, started from a
// given student instead of the pruner's own compacted model (the CLI has no option for that): the same Student,
// kernels, data sampler (src/prune/data.ts), hidden states (projection output and layers ⌈L/3⌉, ⌈2L/3⌉, L), L1 −
// cosine loss (distillLoss), AdamW (β 0.9/0.98, ε 1e-6, no decay) at 0.5·lr with the same warmup/decay schedule, and
// the same defaults (PRUNE_DEFAULTS). The positional conv is written back in weight-norm spelling as prune does.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(root, 'dist/src', p));
const { buildModel, parseConfig, countParams, receptiveField } = await imp('index.js');
const { openModelFiles } = await imp('format/model-files.js');
const { serializeSafetensors } = await imp('format/safetensors.js');
const { fromFloat32, toFloat32 } = await imp('format/tensor.js');
const { Student, trainingRuntime } = await imp('prune/student.js');
const { distillLayers, lrFactor, PRUNE_DEFAULTS } = await imp('prune/train.js');
const { distillLoss } = await imp('prune/ops.js');
const { gateArrays, Rng } = await imp('prune/gates.js');
const { loadAudioFolder, sampleBatch } = await imp('prune/data.js');

const argv = process.argv.slice(2);
const opt = {};
for (let i = 0; i < argv.length; i += 2) {
  if (!argv[i].startsWith('--') || argv[i + 1] === undefined) { process.stderr.write(`distill: bad argument ${argv[i]}\n`); process.exit(2); }
  opt[argv[i].slice(2)] = argv[i + 1];
}
for (const k of ['teacher', 'student', 'data', 'out']) if (!opt[k]) { process.stderr.write(`distill: --${k} is required\n`); process.exit(2); }
const steps = Number(opt.steps ?? 2500), threads = Number(opt.threads ?? 2);
const lr = Number(opt.lr ?? PRUNE_DEFAULTS.lr), seed = Number(opt.seed ?? PRUNE_DEFAULTS.seed);
const cropSeconds = Number(opt['crop-seconds'] ?? PRUNE_DEFAULTS.cropSeconds);
const batchSeconds = Number(opt['batch-seconds'] ?? PRUNE_DEFAULTS.batchSeconds);

const tf = await openModelFiles(opt.teacher), sf = await openModelFiles(opt.student);
const tcfg = parseConfig(tf.config, opt.teacher);
const teacher = await buildModel(tf.config, tf.tensors, tf.source, tf.notes, { threads });
const rt = await trainingRuntime(threads);
try {
  const data = await loadAudioFolder(opt.data, { minSamples: receptiveField(tcfg) });
  const crop = Math.max(receptiveField(tcfg), Math.round(cropSeconds * 16000));
  const perBatch = Math.max(1, Math.round(batchSeconds / cropSeconds));
  const rng = new Rng(seed ^ 0x9e3779b9);
  const student = Student.create(sf.config, sf.tensors, rt.exec, rt.mem);
  const cfg = student.config, D = cfg.hidden;
  const keep = distillLayers(cfg.numLayers).filter((k) => k >= 0).concat([-1]).sort((a, b) => a - b);
  const flat = student.flat;
  const m = rt.mem.allocWeights(flat.size), v = rt.mem.allocWeights(flat.size);
  rt.mem.f32(m, flat.size).fill(0);
  rt.mem.f32(v, flat.size).fill(0);
  const ones = gateArrays(cfg, 1), dz = gateArrays(cfg, 0);
  process.stderr.write(`distill: ${opt.student} (${countParams(parseConfig(sf.config), sf.tensors).toLocaleString('en-US')} params) from ${opt.teacher}, ${steps} steps, ${data.train.length} clips\n`);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    student.zeroGrad();
    let loss = 0;
    const batch = sampleBatch(data.train, crop, perBatch, rng);
    for (const wave of batch) {
      const stages = new Map();
      const hidden = keep.filter((k) => k >= 0);
      await teacher.extract(wave, {
        layers: hidden.length ? hidden : [0],
        capture: (stage, d) => { if (stage === 'proj' || stage.startsWith('hidden.')) stages.set(stage, d); },
      });
      const targets = keep.map((k) => stages.get(k === -1 ? 'proj' : `hidden.${k}`));
      const fwd = student.forward(wave, ones, keep);
      const T = fwd.frames;
      const dH = fwd.hidden.map((h, i) => {
        const g = new Float32Array(T * D);
        loss += distillLoss(h, targets[i], T, D, g, { scale: 1 / (keep.length * batch.length) }).loss / (keep.length * batch.length);
        return g;
      });
      student.backward(dH, dz);
    }
    student.ops.adamw(flat.size, flat.ptr, flat.grad, m, v, s + 1, lr * 0.5 * lrFactor(s, steps, PRUNE_DEFAULTS.lrWarmup), 0.9, 0.98, 1e-6, 0);
    if ((s + 1) % 50 === 0 || s + 1 === steps) {
      const sps = (performance.now() - t0) / 1000 / (s + 1);
      process.stderr.write(`distill ${s + 1}/${steps}  loss ${loss.toFixed(4)}  ${sps.toFixed(2)} s/step  ETA ${Math.round(sps * (steps - s - 1))} s\n`);
    }
  }
  const out = student.tensors();
  const pc = out.get('encoder.pos_conv_embed.conv.weight');
  if (pc && tf.tensors.has('encoder.pos_conv_embed.conv.weight_g')) {
    const W = toFloat32(pc, 'pos conv'), [co, ci, kw] = pc.shape;
    const g = new Float64Array(kw);
    for (let i = 0; i < co * ci; i++) for (let k = 0; k < kw; k++) g[k] += W[i * kw + k] ** 2;
    out.delete('encoder.pos_conv_embed.conv.weight');
    out.set('encoder.pos_conv_embed.conv.weight_g', fromFloat32(Float32Array.from(g, Math.sqrt), [1, 1, kw]));
    out.set('encoder.pos_conv_embed.conv.weight_v', fromFloat32(W, [co, ci, kw]));
  }
  const dir = resolve(opt.out);
  mkdirSync(dir, { recursive: true });
  const config = { ...sf.config, slimwav_note: `${opt.student} + ${steps} gate-free distillation steps from ${opt.teacher} (eval/distill.mjs)` };
  writeFileSync(join(dir, 'model.safetensors.tmp'), serializeSafetensors({ tensors: out, metadata: { format: 'pt' } }));
  renameSync(join(dir, 'model.safetensors.tmp'), join(dir, 'model.safetensors'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  process.stderr.write(`distill: wrote ${dir} (${countParams(parseConfig(config), out).toLocaleString('en-US')} params) in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
} finally {
  teacher.dispose();
  rt.dispose();
}
