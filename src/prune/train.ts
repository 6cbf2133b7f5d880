/**
 * The pruning run (docs/pruner.md): distillation from a frozen teacher with hard-concrete gates, a Lagrangian
 * sparsity target, AdamW, then deterministic masks → compaction → optional gate-free distillation → a model folder.
 *
 * Every step: one gate sample shared by the batch; for each crop the teacher's hidden states (fast inference engine)
 * and the student's forward/backward; then the size terms; then the optimiser steps for weights (lr), distillation
 * heads (lr), gate log α (gate lr) and λ (gradient ascent). Everything random comes from two seeded generators whose
 * states are checkpointed, so `--resume` continues exactly.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { parseConfig, receptiveField, type ModelConfig } from '../arch/config.js';
import { checkTensors, countMacs, countParams } from '../arch/tensors.js';
import { hasRelativeBias, TensorNames, unfoldWeightNorm } from '../arch/binding.js';
import { AdamRegion, SmallAdam } from './optim.js';
import { layoutMeta, sameLayout } from './param-layout.js';
import { openModelFiles } from '../arch/model-files.js';
import { parseSafetensors, serializeSafetensors } from '../format/safetensors.js';
import { writeFileAtomic, writeModelFolderAtomic } from '../format/fsutil.js';
import type { RawTensor, TensorTable } from '../format/tensor.js';
import { fromFloat32, numel, toFloat32 } from '../format/tensor.js';
import { buildModel, type Model } from '../model-core.js';
import { compact } from './compact.js';
import { loadAudioFolder, sampleBatch, validationCrops, type AudioSet } from './data.js';
import { gateArrays, gateList, gatesToMasks, Gates, leastGates, UNIT_KINDS, type GateArrays, type UnitKind } from './gates.js';
import { distillLoss } from './ops.js';
import { Rng } from '../util/rng.js';
import { expectedSize, sizeConstants, type SizeConstants } from './size.js';
import { Student, trainingRuntime, type TrainingRuntime } from './student.js';
import { resolvePruneOptions, type PruneInput } from './options.js';
import { calibrateOnModel, costTable, COST_SECONDS, expectedTime, type CostTable } from './cost.js';
import { foldGateScales } from './fold.js';
import { hashFill, initRule } from '../arch/random-init.js';

export interface PruneOptions {
  teacher: string;
  data: string;
  out: string;
  /**
   * An already pruned model to distil from the teacher without gates for `steps` steps (`prune --student`): no
   * gates, no compaction; `targetSparsity`, `targetMacs`, `units`, `finalSteps` and `mode` do not apply.
   */
  student?: string;
  /** fraction of the teacher's params to remove (ignored with `student`) */
  targetSparsity: number;
  /** optional fraction of the teacher's MACs to remove */
  targetMacs?: number;
  /**
   * Prune to a speed instead of a size: the written model's time on this machine's runtime (cost.ts) is the teacher's
   * divided by this (> 1); replaces `targetSparsity` (which must then be left out).
   */
  targetSpeedup?: number;
  /** folder for the cost model's measured table (default: the OS cache folder; null: measure every run, keep nothing) */
  costCache?: string | null;
  /** a cost table to use as it is (its constant part included) instead of measuring one (API only: tests, reuse) */
  costTable?: CostTable;
  /** the straight-through estimator (default); false: the hard-concrete relaxation alone (`--no-ste`, gates.ts) */
  ste: boolean;
  /**
   * `student` runs: 'given' distils the student's own weights; 'random' re-initialises them first (the same layout
   * trained from scratch: the distillation baseline of a pruned model's shape)
   */
  init: 'given' | 'random';
  steps: number;
  finalSteps: number;
  mode: 'full' | 'layerwise';
  resume: boolean;
  threads: number;
  units: UnitKind[];
  lr: number;
  gateLr: number;
  lambdaLr: number;
  /** fraction of the steps over which the target sparsity rises linearly from 0 */
  sparsityWarmup: number;
  /** fraction of the steps of linear learning-rate warmup (then linear decay to 0) */
  lrWarmup: number;
  cropSeconds: number;
  batchSeconds: number;
  seed: number;
  checkpointEvery: number;
  logEvery: number;
  validEvery: number;
  /** progress lines go here (stderr by default) */
  log?: (line: string) => void;
  /** stop early (tests of resume): behaves like Ctrl-C after this many steps in this process */
  stopAfter?: number;
}

export { PRUNE_DEFAULTS, resolvePruneOptions, type PruneInput } from './options.js';

export interface PruneResult {
  out: string;
  params: number;
  teacherParams: number;
  sparsity: number;
  macs: number;
  teacherMacs: number;
  steps: number;
  interrupted: boolean;
}

interface LogEntry {
  step: number;
  loss: number;
  l1: number;
  cos: number;
  expected_sparsity: number;
  target: number;
  lambda: number[];
  lr: number;
  seconds_per_step: number;
  valid_loss?: number;
}

/** Linear warmup over `warm` of the run, then linear decay to 0 at its end. */
export function lrFactor(step: number, total: number, warm: number): number {
  const w = Math.max(1, Math.round(total * warm));
  if (step < w) return (step + 1) / w;
  return Math.max(0, (total - step) / Math.max(1, total - w));
}

/** Distilled hidden states: −1 (projection output) and layers ⌈L/3⌉, ⌈2L/3⌉, L (4, 8, 12 for 12 layers). */
export function distillLayers(L: number): number[] {
  const s = new Set([-1, Math.max(1, Math.ceil(L / 3)), Math.max(1, Math.ceil((2 * L) / 3)), L].filter((i) => i <= L));
  return [...s].sort((a, b) => a - b);
}

function posConvParams(tensors: Map<string, RawTensor>): number {
  let n = 0;
  for (const [k, t] of tensors) if (k.startsWith(`${TensorNames.posConv}.`)) n += numel(t.shape);
  return n;
}

/**
 * Final binary gates: log α > 0, then units nearest the threshold are added or removed (cheapest in parameters
 * per unit of evidence first) until the compacted size is within 0.5% of the target; structural minimums kept.
 */
export function finalGates(cfg: ModelConfig, gates: Gates, consts: SizeConstants, targetParams: number, n0: number,
  measure?: (g: GateArrays) => { params: number; dParams: GateArrays }): GateArrays {
  const g = gates.deterministic();
  const list = gateList(g), la = gateList(gates.logAlpha);
  const enforce = () => {
    g.conv.forEach((c, i) => { if (!c.some((x) => x === 1)) c[argmax(gates.logAlpha.conv[i])] = 1; });
    if (hasRelativeBias(cfg)) {
      g.attn[0] = 1;
      if (!g.heads[0].some((x) => x === 1)) g.heads[0][argmax(gates.logAlpha.heads[0])] = 1;
      // the kept head of layer 0 needs a value dimension
      let o = 0;
      cfg.layers[0].heads.forEach((_, h) => {
        const w = cfg.layers[0].vDims[h];
        if (g.heads[0][h] === 1 && !g.v[0].subarray(o, o + w).some((x) => x === 1)) g.v[0][o + argmax(gates.logAlpha.v[0].subarray(o, o + w))] = 1;
        o += w;
      });
    }
  };
  enforce();
  // walk units in order of log α (lowest first when removing, highest first when adding) until the count crosses
  // the target, then keep whichever side of it is closer; far from the target, move in batches sized by the
  // size model's per-unit cost, recomputing the exact count between batches
  const units: { i: number; j: number; la: number }[] = [];
  list.forEach((a, i) => {
    if (!gates.isEnabled(i)) return;
    for (let j = 0; j < a.data.length; j++) units.push({ i, j, la: la[i].data[j] });
  });
  units.sort((a, b) => a.la - b.la);
  // what is walked to the target: parameters (default), or another exact measure with per-unit costs (the cost
  // model's time for --target-speedup)
  const size = () => (measure ? measure(g) : expectedSize(cfg, g, consts));
  let e = size();
  let single = false;
  const stuck = new Set<string>();
  for (let round = 0; round < 100000; round++) {
    const diff = e.params - targetParams;
    if (diff === 0 || (measure && Math.abs(diff) <= 1e-9 * Math.abs(targetParams))) break;
    const remove = diff > 0;
    const dp = gateList(e.dParams);
    // units whose flip moves the count toward the target without overshooting it by more than the gap
    const order = (remove ? units : [...units].reverse()).filter((u) => {
      const c = Math.abs(dp[u.i].data[u.j]);
      return (list[u.i].data[u.j] === 1) === remove && c !== 0 && c < 2 * Math.abs(diff) && !stuck.has(`${u.i}:${u.j}`);
    });
    if (order.length === 0) break;
    // far from the target: a batch whose estimated cost is up to half the gap; near it: one unit at a time
    const batch: typeof order = [];
    let moved = 0;
    for (const u of order) {
      if (batch.length > 0 && (single || moved + Math.abs(dp[u.i].data[u.j]) > Math.abs(diff) / 2)) break;
      batch.push(u);
      moved += Math.abs(dp[u.i].data[u.j]);
    }
    for (const u of batch) list[u.i].data[u.j] = remove ? 0 : 1;
    enforce();
    const next = size();
    const nd = next.params - targetParams;
    if (next.params === e.params) {
      for (const u of batch) stuck.add(`${u.i}:${u.j}`); // a structural minimum put it back
      continue;
    }
    if (nd !== 0 && Math.sign(nd) !== Math.sign(diff)) {
      // crossed the target: keep the closer side; then finish one unit at a time
      if (Math.abs(nd) >= Math.abs(diff)) {
        for (const u of batch) list[u.i].data[u.j] = remove ? 1 : 0;
        enforce();
        if (batch.length === 1) stuck.add(`${batch[0].i}:${batch[0].j}`);
        single = true;
        continue;
      }
      e = next;
      single = true;
      continue;
    }
    e = next;
  }
  void n0;
  return g;
}

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

/**
 * The cost model for `--target-speedup` (cost.ts): the kernels' table for the teacher's shapes (cached), its scale and
 * constant part calibrated on the teacher and a reduced layout of it timed in this run (calibrateOnModel); ms0 is the
 * teacher's predicted time. A target beyond what removing every prunable structure could reach is refused.
 */
async function speedModel(o: PruneOptions, files: ModelFiles, cfg: ModelConfig, log: (s: string) => void): Promise<{ table: CostTable; ms0: number }> {
  const table = o.costTable ?? (await calibrateOnModel(await costTable(cfg, { cacheDir: o.costCache, log }), files, { log })).table;
  const ms0 = expectedTime(cfg, gateArrays(cfg, 1), table).ms;
  // the most any mask can save: every unit of the pruned kinds gone but one channel per conv layer
  const most = ms0 / expectedTime(cfg, leastGates(cfg, o.units), table).ms;
  if (o.targetSpeedup! > 0.95 * most) {
    fail('E_ARGS', `--target-speedup ${o.targetSpeedup} is out of reach for ${o.teacher} on this machine: removing every prunable structure ` +
      `would make it only ${most.toFixed(2)}× faster (the positional conv, LayerNorms and the rest stay${keptWhole(o.units)}); ask for less than ${(0.95 * most).toFixed(2)}`);
  }
  return { table, ms0 };
}

/**
 * A size target beyond what removing every unit of the pruned kinds reaches is refused before the teacher and the
 * audio are loaded, not missed silently.
 */
function checkSizeReach(o: PruneOptions, cfg: ModelConfig, consts: SizeConstants, n0: number): void {
  const most = 1 - expectedSize(cfg, leastGates(cfg, o.units), consts).params / n0;
  if (o.targetSparsity > most) {
    fail('E_ARGS', `--target-sparsity ${o.targetSparsity} is out of reach for ${o.teacher} with --units ${o.units.join(',')}: removing every ` +
      `prunable structure leaves ${(100 * (1 - most)).toFixed(1)}% of its parameters${keptWhole(o.units)}; ask for at most ${Math.floor(100 * most) / 100}`);
  }
}

/** For the out-of-reach messages: the conv stack stays whole unless `--units` has conv. */
const keptWhole = (units: UnitKind[]) => (units.includes('conv') ? '' : '; the conv stack stays whole without conv in --units');

/** Teacher hidden states for the student's distillation targets (projection output = stage 'proj'). */
async function teacherTargets(teacher: Model, wave: Float32Array, keep: number[]): Promise<Float32Array[]> {
  const stages = new Map<string, Float32Array>();
  const hidden = keep.filter((k) => k >= 0);
  await teacher.extract(wave, {
    layers: hidden.length ? hidden : [0],
    capture: (stage, data) => { if (stage === 'proj' || stage.startsWith('hidden.')) stages.set(stage, data); },
  });
  return keep.map((k) => stages.get(k === -1 ? 'proj' : `hidden.${k}`)!);
}

/** A pruning run; options left out get their defaults (resolvePruneOptions, src/prune/options.ts). */
export async function prune(input: PruneInput): Promise<PruneResult> {
  const o = await resolvePruneOptions(input);
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  validate(o);
  if (o.student !== undefined) return distillStudent(o as PruneOptions & { student: string }, log);
  const ckptPath = join(o.out, 'checkpoint.safetensors');
  checkOut(o, ckptPath);

  // teacher, data, student
  const { files, cfg } = await openTeacher(o);
  const consts = sizeConstants(cfg, new Set(files.tensors.keys()), posConvParams(files.tensors));
  if (o.targetSpeedup === undefined) checkSizeReach(o, cfg, consts, countParams(cfg, files.tensors));
  const run = await startRun(o, files, cfg);
  const { teacher, rt, data, crop, perBatch, n0, macs0 } = run;
  try {
    const speed = o.targetSpeedup !== undefined ? await speedModel(o, files, cfg, log) : null;
    log(`prune: teacher ${o.teacher} (${cfg.modelType}, ${n0.toLocaleString('en-US')} params), ` +
      `${data.train.length} training clips (${data.seconds.toFixed(0)} s), ${data.valid.length} held out; ${o.mode} mode, ${o.steps} steps, ` +
      (speed ? `target speedup ${o.targetSpeedup} (predicted ${speed.ms0.toFixed(1)} ms → ${(speed.ms0 / o.targetSpeedup!).toFixed(1)} ms per ${COST_SECONDS} s of audio, one thread)` : `target sparsity ${o.targetSparsity}`) +
      (o.ste ? '' : '; no straight-through estimator'));
    const student = Student.create(files.config, files.tensors, rt.exec, rt.mem);
    const gateRng = new Rng(o.seed), dataRng = new Rng(o.seed ^ 0x9e3779b9);
    const gates = new Gates(cfg, o.units, gateRng, { ste: o.ste });
    const keep = o.mode === 'full' ? distillLayers(cfg.numLayers) : [];
    const D = cfg.hidden;

    // distillation heads (full mode): [projection head, encoder head], each W [D][D] identity, b [D] zero
    const heads = o.mode === 'full' ? 2 : 0;
    const headFloats = heads * (D * D + D);
    const headPtr = rt.mem.allocWeights(Math.max(1, headFloats)), headGrad = rt.mem.allocWeights(Math.max(1, headFloats));
    {
      const h = rt.mem.f32(headPtr, headFloats);
      h.fill(0);
      for (let k = 0; k < heads; k++) for (let d = 0; d < D; d++) h[k * (D * D + D) + d * D + d] = 1;
    }
    const headW = (k: number) => headPtr + k * (D * D + D) * 4, headB = (k: number) => headW(k) + D * D * 4;
    const headGW = (k: number) => headGrad + k * (D * D + D) * 4, headGB = (k: number) => headGW(k) + D * D * 4;
    // AdamW state of the student's flat parameter region and of the heads
    const flat = student.flat;
    const studentAdam = new AdamRegion(rt.mem, flat.ptr, flat.grad, flat.size);
    const headAdam = new AdamRegion(rt.mem, headPtr, headGrad, headFloats);
    const gateLists = gateList(gates.logAlpha);
    const gateAdam = gateLists.map((g) => new SmallAdam(g.data.length));
    const lambda = new Float64Array(4); // λ1, λ2 (params), λ3, λ4 (MACs)
    const lambdaAdam = new SmallAdam(4);

    const lossOfCrop = async (wave: Float32Array, z: GateArrays, dz: GateArrays | null, scale: number) => {
      let loss = 0, l1 = 0, cos = 0;
      if (o.mode === 'full') {
        const targets = await teacherTargets(teacher, wave, keep);
        const fwd = student.forward(wave, z, keep);
        const T = fwd.frames;
        const dHidden: Float32Array[] = [];
        fwd.hidden.forEach((h, i) => {
          const k = keep[i] === -1 ? 0 : 1;
          // head: y = h·Wᵀ + b, through the kernels
          const { hx, hy, dy, dx } = student.ops.ws.plan('distill', { hx: T * D, hy: T * D, dy: T * D, dx: T * D });
          rt.mem.f32(hx, T * D).set(h);
          student.ops.linearForward(T, D, D, hx, D, headW(k), headB(k), hy, D);
          const y = rt.mem.f32(hy, T * D).slice();
          const g = new Float32Array(T * D);
          const r = distillLoss(y, targets[i], T, D, dz ? g : undefined, { scale: scale / keep.length });
          loss += r.loss / keep.length;
          l1 += r.l1 / keep.length;
          cos += r.cos / keep.length;
          if (dz) {
            rt.mem.f32(dy, T * D).set(g);
            student.ops.linearBackward(T, D, D, hx, D, headW(k), dy, D, dx, D, headGW(k), headGB(k));
            dHidden.push(rt.mem.f32(dx, T * D).slice());
          }
        });
        if (dz) student.backward(dHidden, dz);
      } else {
        // layer-wise: the front (conv + projection) against the teacher's projection output, each layer against
        // the teacher's output of that layer given the teacher's input of that layer
        const L = cfg.numLayers;
        const targets = await teacherTargets(teacher, wave, [-1, ...Array.from({ length: L + 1 }, (_, i) => i)]);
        const T = targets[0].length / D;
        const parts = L + 1;
        const proj = student.forwardFront(wave, z);
        const gp = new Float32Array(T * D);
        const r0 = distillLoss(proj, targets[0], T, D, dz ? gp : undefined, { scale: scale / parts });
        if (dz) student.backwardFront(gp, dz);
        loss += r0.loss / parts; l1 += r0.l1 / parts; cos += r0.cos / parts;
        for (let l = 0; l < L; l++) {
          // WavLM: each layer uses the student's own rel_attn_embed, which so receives gradients
          const y = student.forwardLayer(l, targets[l + 1], z);
          const g = new Float32Array(T * D);
          const r = distillLoss(y, targets[l + 2], T, D, dz ? g : undefined, { scale: scale / parts });
          if (dz) student.backwardLayer(l, g, dz);
          loss += r.loss / parts; l1 += r.l1 / parts; cos += r.cos / parts;
        }
      }
      return { loss, l1, cos };
    };

    const valid = validationCrops(data.valid, crop);
    const validLoss = async () => {
      // the model the run would write now: kept units at 1, or without the estimator at their deterministic values
      const z = gates.deterministic();
      if (!o.ste) {
        const zh = gateList(gates.relaxedValues());
        gateList(z).forEach((g, i) => { for (let j = 0; j < g.data.length; j++) g.data[j] *= zh[i].data[j]; });
      }
      let s = 0;
      for (const w of valid) s += (await lossOfCrop(w, z, null, 1)).loss;
      return s / valid.length;
    };

    // the constrained quantity: sparsity 1 − E[params]/N0, or with a speed target the time saved 1 − E[ms]/ms0 (whose
    // target 1 − 1/X is the requested speedup X)
    const finalTarget = speed ? 1 - 1 / o.targetSpeedup! : o.targetSparsity;
    const target = (s: number) => finalTarget * Math.min(1, s / Math.max(1, Math.round(o.steps * o.sparsityWarmup)));
    const targetM = (s: number) => (o.targetMacs ?? 0) * Math.min(1, s / Math.max(1, Math.round(o.steps * o.sparsityWarmup)));
    const trainer: Trainer = {
      save(put, put64) {
        for (const [n, a] of Object.entries(studentAdam.state('student'))) put(n, a);
        if (headFloats) for (const [n, a] of Object.entries(headAdam.state('heads'))) put(n, a);
        gateLists.forEach((g, i) => {
          put(`gates.${g.name}`, g.data);
          put64(`gates.m.${g.name}`, gateAdam[i].m);
          put64(`gates.v.${g.name}`, gateAdam[i].v);
        });
        put64('lambda', lambda);
        put64('lambda.m', lambdaAdam.m);
        put64('lambda.v', lambdaAdam.v);
        // a speed run keeps its cost table, so that --resume continues with the same one (not a new measurement)
        return { mode: o.mode, teacherParams: n0, ...layoutMeta(student.layout), gateRng: gateRng.state, dataRng: dataRng.state, ...(speed ? { costTable: speed.table } : {}) };
      },
      restore(need, f64, meta) {
        if (meta.mode !== o.mode || meta.teacherParams !== n0 || !sameLayout(meta, student.layout)) {
          fail('E_ARGS', `${ckptPath}: this checkpoint is from a different run (mode ${meta.mode}, teacher ${meta.teacherParams} params); use the same --teacher and --mode`);
        }
        studentAdam.restore('student', need);
        if (headFloats) headAdam.restore('heads', need);
        gateLists.forEach((g, i) => {
          g.data.set(need(`gates.${g.name}`));
          gateAdam[i].m.set(f64(`gates.m.${g.name}`));
          gateAdam[i].v.set(f64(`gates.v.${g.name}`));
        });
        lambda.set(f64('lambda'));
        lambdaAdam.m.set(f64('lambda.m'));
        lambdaAdam.v.set(f64('lambda.v'));
        gateRng.state = meta.gateRng as number;
        dataRng.state = meta.dataRng as number;
        if (speed && meta.costTable) {
          speed.table = meta.costTable as CostTable;
          speed.ms0 = expectedTime(cfg, gateArrays(cfg, 1), speed.table).ms;
        }
      },
      step: async (step) => {
        const lrf = lrFactor(step, o.steps, o.lrWarmup);
        student.zeroGrad();
        headAdam.zeroGrad();
        gates.zeroGrad();
        const z = gates.sample(gateRng);
        const dz = gateArrays(cfg, 0);
        const batch = sampleBatch(data.train, crop, perBatch, dataRng);
        let loss = 0, l1 = 0, cos = 0;
        for (const wave of batch) {
          const r = await lossOfCrop(wave, z, dz, 1 / batch.length);
          loss += r.loss / batch.length; l1 += r.l1 / batch.length; cos += r.cos / batch.length;
        }
        // Lagrangian on the expected size
        const probs = gates.probs();
        const e = expectedSize(cfg, probs, consts);
        const et = speed ? expectedTime(cfg, probs, speed.table) : null;
        const [amount, dAmount, whole] = et ? [et.ms, et.dMs, speed!.ms0] : [e.params, e.dParams, n0];
        const sHat = 1 - amount / whole, t = target(step);
        const dProb = gateArrays(cfg, 0);
        const dS = lambda[0] + 2 * lambda[1] * (sHat - t); // ∂Lreg/∂ŝ
        gateList(dProb).forEach((g, i) => { const dp = gateList(dAmount)[i].data; for (let j = 0; j < g.data.length; j++) g.data[j] = -dS * dp[j] / whole; });
        const lamGrad = [sHat - t, (sHat - t) ** 2, 0, 0];
        let reg = lambda[0] * (sHat - t) + lambda[1] * (sHat - t) ** 2;
        if (o.targetMacs !== undefined) {
          const mHat = 1 - e.macs / macs0, tm = targetM(step);
          const dM = lambda[2] + 2 * lambda[3] * (mHat - tm);
          gateList(dProb).forEach((g, i) => { const dm = gateList(e.dMacs)[i].data; for (let j = 0; j < g.data.length; j++) g.data[j] += -dM * dm[j] / macs0; });
          lamGrad[2] = mHat - tm;
          lamGrad[3] = (mHat - tm) ** 2;
          reg += lambda[2] * (mHat - tm) + lambda[3] * (mHat - tm) ** 2;
        }
        gates.backward(dz, dProb);
        // optimiser steps (Adam step counter is 1-based)
        const n = step + 1;
        studentAdam.step(student.ops, n, o.lr * lrf);
        headAdam.step(student.ops, n, o.lr * lrf);
        gateLists.forEach((g, i) => { if (gates.isEnabled(i)) gateAdam[i].step(g.data, gateList(gates.grad)[i].data, n, o.gateLr * lrf); });
        lambdaAdam.step(lambda, lamGrad, n, o.lambdaLr * lrf, -1);
        return { step: step + 1, loss: loss + reg, l1, cos, expected_sparsity: sHat, target: t, lambda: Array.from(lambda), lr: o.lr * lrf, seconds_per_step: 0 };
      },
      validLoss,
      line: (e, avg, eta) => `step ${e.step}/${o.steps}  loss ${e.loss.toFixed(4)} (l1 ${e.l1.toFixed(4)}, cos ${e.cos.toFixed(4)})  ` +
        `${speed ? 'time saved' : 'sparsity'} ${e.expected_sparsity.toFixed(3)} → ${e.target.toFixed(3)}  λ ${e.lambda[0].toFixed(3)}/${e.lambda[1].toFixed(3)}  ${avg.toFixed(2)} s/step  ETA ${fmtTime(eta)}`,
    };
    const { stopped, step } = await trainLoop(o, run, trainer, o.steps, ckptPath, log);
    if (stopped) return stopped;

    // final structure → compaction
    const finalZ = speed
      ? finalGates(cfg, gates, consts, speed.ms0 / o.targetSpeedup!, n0, (g) => { const r = expectedTime(cfg, g, speed.table); return { params: r.ms, dParams: r.dMs }; })
      : finalGates(cfg, gates, consts, (1 - o.targetSparsity) * n0, n0);
    const masks = gatesToMasks(cfg, finalZ);
    log(`prune: final structure has ${expectedSize(cfg, finalZ, consts).params.toLocaleString('en-US')} params ` + (speed
      ? `and a predicted speedup of ${(speed.ms0 / expectedTime(cfg, finalZ, speed.table).ms).toFixed(3)} (target ${o.targetSpeedup})`
      : `(target ${Math.round((1 - o.targetSparsity) * n0).toLocaleString('en-US')})`));
    // without the estimator the student trained with fractional gates: keep each unit at its deterministic value
    const trained = o.ste ? student.tensors() : foldGateScales(cfg, student.tensors(), gates.relaxedValues());
    const c = compact(files.config, trained, masks, { exactLastConv: false, allowInexact: true });
    let outTensors = c.tensors;
    const pcfg = parseConfig(c.config);
    if (o.finalSteps > 0) {
      outTensors = await finalDistill(c.config, c.tensors, teacher, data, crop, perBatch, o, dataRng, log);
    }
    const written = await writeModelFolder(o.out, c.config, outTensors, files.source, files.tensors.has(TensorNames.posConvWeightG));
    const params = countParams(pcfg, written), macs = countMacs(pcfg, 16000).total;
    log(`prune: wrote ${o.out}: ${params.toLocaleString('en-US')} params (${(100 * (1 - params / n0)).toFixed(1)}% fewer than the teacher's ` +
      `${n0.toLocaleString('en-US')}), ${(macs / 1e9).toFixed(3)} GMACs per second of audio (${(100 * (1 - macs / macs0)).toFixed(1)}% fewer)`);
    return { out: o.out, params, teacherParams: n0, sparsity: 1 - params / n0, macs, teacherMacs: macs0, steps: step, interrupted: false };
  } finally {
    run.close();
  }
}

/**
 * Gate-free distillation of a compacted student (the `--final-steps` loop, and `prune --student`): hidden states at
 * the projection output and layers ⌈L/3⌉, ⌈2L/3⌉, L against the teacher's, L1 − cosine, no heads, AdamW (β
 * 0.9/0.98, ε 1e-6, no decay) at 0.5·lr with the run's warmup/decay schedule over `total` steps. The student and its
 * Adam moments live in `rt`'s memory; `state()`/`restore()` give them to a checkpoint.
 */
class GateFreeDistiller {
  readonly student: Student;
  private readonly adam: AdamRegion;
  private readonly keep: number[];
  private readonly ones: GateArrays;
  private readonly dz: GateArrays;

  constructor(config: Record<string, unknown>, tensors: Map<string, RawTensor>, rt: TrainingRuntime, private readonly teacher: Model,
    private readonly lr: number, private readonly lrWarmup: number) {
    this.student = Student.create(config, tensors, rt.exec, rt.mem);
    const cfg = this.student.config, flat = this.student.flat;
    this.keep = distillLayers(cfg.numLayers).filter((k) => k >= 0).concat([-1]).sort((a, b) => a - b);
    this.adam = new AdamRegion(rt.mem, flat.ptr, flat.grad, flat.size);
    this.ones = gateArrays(cfg, 1);
    this.dz = gateArrays(cfg, 0);
  }

  /** Distillation loss of one crop; with `grad`, its gradient (scaled) is accumulated into the student. */
  private async crop(wave: Float32Array, scale: number, grad: boolean): Promise<number> {
    const D = this.student.config.hidden, keep = this.keep;
    const targets = await teacherTargets(this.teacher, wave, keep);
    const fwd = this.student.forward(wave, this.ones, keep);
    const T = fwd.frames;
    let loss = 0;
    const dH = fwd.hidden.map((h, i) => {
      const g = new Float32Array(T * D);
      loss += distillLoss(h, targets[i], T, D, grad ? g : undefined, { scale: scale / keep.length }).loss / keep.length;
      return g;
    });
    if (grad) this.student.backward(dH, this.dz);
    return loss;
  }

  /** One optimiser step (0-based `s` of `total`) on a batch; returns the batch's mean loss. */
  async step(batch: Float32Array[], s: number, total: number): Promise<number> {
    this.student.zeroGrad();
    let loss = 0;
    for (const wave of batch) loss += (await this.crop(wave, 1 / batch.length, true)) / batch.length;
    this.adam.step(this.student.ops, s + 1, this.lrAt(s, total));
    return loss;
  }

  /** The learning rate of 0-based step `s` of `total`: half the run's lr, on its warmup/decay schedule. */
  lrAt(s: number, total: number): number {
    return this.lr * 0.5 * lrFactor(s, total, this.lrWarmup);
  }

  async validLoss(crops: Float32Array[]): Promise<number> {
    let s = 0;
    for (const w of crops) s += await this.crop(w, 1, false);
    return s / Math.max(1, crops.length);
  }

  state(): Record<string, Float32Array> {
    return this.adam.state('student');
  }

  restore(get: (name: string) => Float32Array): void {
    this.adam.restore('student', get);
  }
}

/** Distil the compacted model without gates (the `--final-steps` loop; `rng` continues the run's data sampler). */
export async function finalDistill(config: Record<string, unknown>, tensors: Map<string, RawTensor>, teacher: Model, data: AudioSet, crop: number, perBatch: number,
  o: Pick<PruneOptions, 'threads' | 'lr' | 'lrWarmup' | 'finalSteps' | 'logEvery'>, rng: Rng, log: (s: string) => void): Promise<Map<string, RawTensor>> {
  const rt = await trainingRuntime(o.threads);
  try {
    const d = new GateFreeDistiller(config, tensors, rt, teacher, o.lr, o.lrWarmup);
    const t0 = performance.now();
    for (let s = 0; s < o.finalSteps; s++) {
      const loss = await d.step(sampleBatch(data.train, crop, perBatch, rng), s, o.finalSteps);
      if ((s + 1) % o.logEvery === 0 || s + 1 === o.finalSteps) {
        log(`final distillation ${s + 1}/${o.finalSteps}  loss ${loss.toFixed(4)}  ${((performance.now() - t0) / 1000 / (s + 1)).toFixed(2)} s/step`);
      }
    }
    return d.student.tensors();
  } finally {
    rt.dispose();
  }
}

/**
 * Fresh weights of the same shapes (`prune --student S --init random`: S's layout trained from scratch), deterministic
 * in `seed`: biases 0, LayerNorm/GroupNorm weights 1, every other weight uniform in ±1/√fan_in (PyTorch's default
 * scale for linear and conv layers; the fixture generator's rule, arch/random-init.ts, for the rest: WavLM's gate
 * constants and the positional conv's weight-norm g).
 */
export function randomWeights(tensors: Map<string, RawTensor>, seed: number): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    const data = new Float32Array(numel(t.shape));
    if (name.endsWith('.bias')) data.fill(0);
    else if (t.shape.length === 1 && name.endsWith('.weight')) data.fill(1);
    else {
      const r = initRule(name, t.shape);
      hashFill(data, name, seed >>> 0, r.scale, r.offset);
    }
    out.set(name, fromFloat32(data, t.shape));
  }
  return out;
}

/** Why `student` cannot be distilled from `teacher` (different skeleton), or null when it can. */
export function studentMismatch(teacher: ModelConfig, student: ModelConfig): string | null {
  const what = (name: string, s: unknown, t: unknown) => `${name} ${s} where the teacher has ${t}`;
  if (student.modelType !== teacher.modelType) return what('model type', student.modelType, teacher.modelType);
  if (student.hidden !== teacher.hidden) return what('hidden size', student.hidden, teacher.hidden);
  if (student.numLayers !== teacher.numLayers) return what('layer count', student.numLayers, teacher.numLayers);
  if (student.conv.length !== teacher.conv.length) return what('conv layer count', student.conv.length, teacher.conv.length);
  for (let i = 0; i < teacher.conv.length; i++) {
    const a = student.conv[i], b = teacher.conv[i];
    if (a.kernel !== b.kernel || a.stride !== b.stride) return what(`conv layer ${i} kernel/stride`, `${a.kernel}/${a.stride}`, `${b.kernel}/${b.stride}`);
  }
  if (student.preLayerNorm !== teacher.preLayerNorm) return what('do_stable_layer_norm', student.preLayerNorm, teacher.preLayerNorm);
  if (student.numHeads !== teacher.numHeads) return what('attention head count', student.numHeads, teacher.numHeads);
  return null;
}

/**
 * `prune --student`: gate-free distillation of an already pruned model from the teacher for `o.steps` steps (the
 * `--final-steps` loop started from that model), with prune's progress lines, checkpoints, `--resume`, Ctrl-C,
 * train-log.json and atomic output. Its data sampler starts from `o.seed` as prune's does.
 */
async function distillStudent(o: PruneOptions & { student: string }, log: (s: string) => void): Promise<PruneResult> {
  const ckptPath = join(o.out, 'checkpoint.safetensors');
  checkOut(o, ckptPath);
  const { files: tf, cfg: tcfg } = await openTeacher(o);
  const sf = await openModelFiles(o.student);
  const scfg = parseConfig(sf.config, o.student);
  checkTensors(scfg, sf.tensors, sf.source);
  const bad = studentMismatch(tcfg, scfg);
  if (bad) fail('E_ARGS', `${o.student}: cannot be distilled from ${o.teacher}: ${bad} (--student must be a pruned form of the teacher)`);
  const run = await startRun(o, tf, tcfg);
  const { teacher, rt, data, crop, perBatch, n0, macs0 } = run;
  try {
    const sParams = countParams(scfg, sf.tensors);
    log(`prune: distilling ${o.student} (${sParams.toLocaleString('en-US')} params) from ${o.teacher} (${n0.toLocaleString('en-US')} params) without gates, ` +
      `${data.train.length} training clips (${data.seconds.toFixed(0)} s), ${data.valid.length} held out; ${o.steps} steps`);
    const init = o.init === 'random' ? randomWeights(sf.tensors, o.seed) : sf.tensors;
    if (o.init === 'random') log(`prune: the student's weights are re-initialised at random (seed ${o.seed}); its layout is kept`);
    const d = new GateFreeDistiller(sf.config, init, rt, teacher, o.lr, o.lrWarmup);
    const rng = new Rng(o.seed ^ 0x9e3779b9);
    const valid = validationCrops(data.valid, crop);
    let initialValid = NaN;
    const trainer: Trainer = {
      save(put) {
        for (const [n, a] of Object.entries(d.state())) put(n, a);
        return { mode: 'student', teacherParams: n0, ...layoutMeta(d.student.layout), dataRng: rng.state, initialValid };
      },
      restore(need, _f64, meta) {
        if (meta.mode !== 'student' || meta.teacherParams !== n0 || !sameLayout(meta, d.student.layout)) {
          fail('E_ARGS', `${ckptPath}: this checkpoint is from a different run (${meta.mode === 'student' ? 'another student' : `mode ${meta.mode}`}); use the same --teacher and --student`);
        }
        d.restore(need);
        rng.state = meta.dataRng as number;
        initialValid = (meta.initialValid as number | undefined) ?? NaN;
      },
      async start() {
        if (!valid.length) return;
        initialValid = await d.validLoss(valid);
        log(`prune: validation loss of the student before distillation ${initialValid.toFixed(4)}`);
      },
      logExtra: () => ({ initial_valid_loss: initialValid }),
      async step(step) {
        const loss = await d.step(sampleBatch(data.train, crop, perBatch, rng), step, o.steps);
        return { step: step + 1, loss, l1: NaN, cos: NaN, expected_sparsity: 1 - sParams / n0, target: 1 - sParams / n0, lambda: [], lr: d.lrAt(step, o.steps), seconds_per_step: 0 };
      },
      validLoss: () => d.validLoss(valid),
      line: (e, avg, eta) => `distillation ${e.step}/${o.steps}  loss ${e.loss.toFixed(4)}  ${avg.toFixed(2)} s/step  ETA ${fmtTime(eta)}`,
    };
    const { stopped, step } = await trainLoop(o, run, trainer, o.steps, ckptPath, log);
    if (stopped) return stopped;
    const config = { ...sf.config, slimwav_distilled_from: tf.source, slimwav_distill_steps: o.steps };
    const written = await writeModelFolder(o.out, config, d.student.tensors(), String(sf.config.slimwav_pruned_from ?? sf.source),
      sf.tensors.has(TensorNames.posConvWeightG));
    const params = countParams(scfg, written), macs = countMacs(scfg, 16000).total;
    log(`prune: wrote ${o.out}: ${params.toLocaleString('en-US')} params (${(100 * (1 - params / n0)).toFixed(1)}% fewer than the teacher's ` +
      `${n0.toLocaleString('en-US')}) after ${o.steps} distillation steps`);
    return { out: o.out, params, teacherParams: n0, sparsity: 1 - params / n0, macs, teacherMacs: macs0, steps: step, interrupted: false };
  } finally {
    run.close();
  }
}

/**
 * What the one training loop drives (the gated pruner, the gate-free `--student` distillation): a step, a validation
 * loss, and its state for checkpoint.safetensors (tensors through put/put64, the rest as JSON) and back.
 */
interface Trainer {
  /** one optimiser step, 0-based `step`; the entry's step is the 1-based count after it (seconds filled by the loop) */
  step(step: number): Promise<LogEntry>;
  validLoss(): Promise<number>;
  save(put: (name: string, a: Float32Array) => void, put64: (name: string, a: Float64Array) => void): Record<string, unknown>;
  restore(need: (name: string) => Float32Array, f64: (name: string) => Float64Array, meta: Record<string, unknown>): void;
  /** after a fresh start (not on resume) */
  start?(): Promise<void>;
  /** the progress line of a logged step (the loop appends the validation loss) */
  line(entry: LogEntry, secondsPerStep: number, eta: number): string;
  /** more fields for train-log.json */
  logExtra?(): Record<string, unknown>;
}

/**
 * The training loop of both modes: resume from the checkpoint or start, then step until `total` with the log lines,
 * validation every `validEvery`, train-log.json and checkpoints, Ctrl-C and `stopAfter` (endOfStep); a last checkpoint
 * at the end. Returns the "stopped" result, or null and the final step count.
 */
async function trainLoop(o: PruneOptions, run: Run, t: Trainer, total: number, ckptPath: string, log: (s: string) => void): Promise<{ stopped: PruneResult | null; step: number }> {
  const history: LogEntry[] = [];
  let step = 0;
  if (o.resume) {
    const st = parseSafetensors(new Uint8Array(await readFile(ckptPath)), ckptPath);
    const meta = JSON.parse(st.metadata.state ?? '{}');
    const get = (n: string) => st.tensors.get(n) ?? fail('E_FORMAT', `${ckptPath}: checkpoint lacks ${n}`);
    t.restore((n) => toFloat32(get(n), n), (n) => new Float64Array(get(n).data.slice().buffer), meta);
    step = meta.step;
    history.push(...(meta.history ?? []));
    log(`prune: resumed from ${ckptPath} at step ${step}`);
  } else {
    await mkdir(o.out, { recursive: true });
    await t.start?.();
  }
  const saveCheckpoint = async () => {
    const table: TensorTable = { tensors: new Map(), metadata: {} };
    const meta = t.save(
      (n, a) => table.tensors.set(n, fromFloat32(a, [a.length])),
      (n, a) => table.tensors.set(n, { dtype: 'F64', shape: [a.length], data: new Uint8Array(a.slice().buffer) }),
    );
    table.metadata.state = JSON.stringify({ step, ...meta, history });
    await writeFileAtomic(ckptPath, serializeSafetensors(table));
    await writeFileAtomic(join(o.out, 'train-log.json'),
      new TextEncoder().encode(JSON.stringify({ options: publicOptions(o), ...t.logExtra?.(), history }, null, 1)));
  };
  let stepsThisRun = 0;
  const t0 = performance.now();
  while (step < total) {
    const ts = performance.now();
    const entry = await t.step(step);
    step++;
    stepsThisRun++;
    entry.seconds_per_step = (performance.now() - ts) / 1000;
    if (o.validEvery > 0 && (step % o.validEvery === 0 || step === total)) entry.valid_loss = await t.validLoss();
    history.push(entry);
    if (step % o.logEvery === 0 || step === total || step === 1) {
      const avg = (performance.now() - t0) / 1000 / stepsThisRun;
      log(t.line(entry, avg, avg * (total - step)) + (entry.valid_loss !== undefined ? `  valid ${entry.valid_loss.toFixed(4)}` : ''));
    }
    const stopped = await endOfStep(o, run, step, stepsThisRun, saveCheckpoint, ckptPath, log);
    if (stopped) return { stopped, step };
  }
  await saveCheckpoint();
  return { stopped: null, step };
}

/** A folder left by a run killed before its first checkpoint: empty, or only temp files of ours (fsutil.ts). */
function abandoned(dir: string): boolean {
  try {
    return readdirSync(dir).every((f) => f.includes('.tmp-slimwav-'));
  } catch {
    return false;
  }
}

/** The output folder must not exist (a fresh run; or be one abandoned before its first checkpoint) or must hold a checkpoint (--resume). */
function checkOut(o: PruneOptions, ckptPath: string): void {
  if (o.resume) {
    if (!existsSync(ckptPath)) fail('E_IO', `${o.out}: nothing to resume (no checkpoint.safetensors); run without --resume`);
  } else if (existsSync(o.out) && !abandoned(o.out)) {
    fail('E_IO', `${o.out} exists; choose another --out, remove it, or pass --resume to continue its run`);
  }
}

/**
 * The end of every step of both training loops (gated pruning, gate-free distillation): the periodic checkpoint, a
 * yield so that Ctrl-C is seen, then on Ctrl-C or after `stopAfter` steps of this run a last checkpoint and the
 * "stopped" result. null: go on.
 */
async function endOfStep(o: PruneOptions, run: Run, step: number, stepsThisRun: number, saveCheckpoint: () => Promise<void>,
  ckptPath: string, log: (s: string) => void): Promise<PruneResult | null> {
  if (step % o.checkpointEvery === 0) await saveCheckpoint();
  await new Promise((r) => setImmediate(r)); // let Ctrl-C be seen
  if (!run.interrupted() && (o.stopAfter === undefined || stepsThisRun < o.stopAfter)) return null;
  await saveCheckpoint();
  log(`prune: stopped at step ${step}; checkpoint saved in ${ckptPath} (continue with --resume)`);
  return { out: o.out, params: 0, teacherParams: run.n0, sparsity: 0, macs: 0, teacherMacs: run.macs0, steps: step, interrupted: true };
}

type ModelFiles = Awaited<ReturnType<typeof openModelFiles>>;

/** The teacher's files and config, checked against each other. */
async function openTeacher(o: PruneOptions): Promise<{ files: ModelFiles; cfg: ModelConfig }> {
  const files = await openModelFiles(o.teacher);
  const cfg = parseConfig(files.config, o.teacher);
  checkTensors(cfg, files.tensors, files.source);
  return { files, cfg };
}

/** What both training loops run on: the teacher model, the training runtime, the audio, Ctrl-C capture. */
interface Run {
  teacher: Model;
  rt: TrainingRuntime;
  data: AudioSet;
  /** samples per crop, crops per batch */
  crop: number;
  perBatch: number;
  /** the teacher's params and MACs per second of audio */
  n0: number;
  macs0: number;
  /** Ctrl-C was pressed */
  interrupted: () => boolean;
  /** stop capturing Ctrl-C, free the teacher and the runtime */
  close: () => void;
}

async function startRun(o: PruneOptions, files: ModelFiles, cfg: ModelConfig): Promise<Run> {
  const teacher = await buildModel(files.config, files.tensors, files.source, files.notes, { threads: o.threads });
  const rt = await trainingRuntime(o.threads);
  let interrupted = false;
  const onSigint = () => { interrupted = true; };
  process.on('SIGINT', onSigint);
  const close = () => {
    process.off('SIGINT', onSigint);
    teacher.dispose();
    rt.dispose();
  };
  try {
    const data = await loadAudioFolder(o.data, { minSamples: receptiveField(cfg) });
    return {
      teacher, rt, data,
      crop: Math.max(receptiveField(cfg), Math.round(o.cropSeconds * 16000)),
      perBatch: Math.max(1, Math.round(o.batchSeconds / o.cropSeconds)),
      n0: countParams(cfg, files.tensors), macs0: countMacs(cfg, 16000).total,
      interrupted: () => interrupted, close,
    };
  } catch (err) {
    close();
    throw err;
  }
}

/** config.json + model.safetensors into `out` (which holds the checkpoint and log); config.json lands last (fsutil.ts). */
async function writeModelFolder(out: string, config: Record<string, unknown>, tensors: Map<string, RawTensor>, source: string, weightNorm: boolean): Promise<Map<string, RawTensor>> {
  const cleaned = { ...config };
  for (const k of Object.keys(cleaned)) if (k.startsWith('slimwav_digest')) delete cleaned[k];
  cleaned.slimwav_pruned_from = source;
  const f32 = new Map<string, RawTensor>();
  for (const [k, t] of tensors) f32.set(k, t.dtype === 'F32' ? t : fromFloat32(toFloat32(t, k), t.shape));
  if (weightNorm) {
    // the student trains the positional conv as one folded weight; write it back in the teacher's weight-norm
    // spelling (g = ‖W[:,:,k]‖, v = W, so g·v/‖v‖ = W) so the output has the teacher's tensors and parameter count
    const name = `${TensorNames.posConv}.weight`;
    const w = f32.get(name);
    if (w) {
      const [co, ci, kw] = w.shape;
      const { g, v } = unfoldWeightNorm(toFloat32(w, name), kw);
      f32.delete(name);
      f32.set(TensorNames.posConvWeightG, fromFloat32(g, [1, 1, kw]));
      f32.set(TensorNames.posConvWeightV, fromFloat32(v, [co, ci, kw]));
    }
  }
  // validate before writing anything: the result must load
  checkTensors(parseConfig(cleaned, 'pruned config'), f32, 'pruned model');
  await writeModelFolderAtomic(out, [['model.safetensors', serializeSafetensors({ tensors: f32, metadata: { format: 'pt' } })],
    ['config.json', new TextEncoder().encode(JSON.stringify(cleaned, null, 2) + '\n')]], { into: true });
  return f32;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

function publicOptions(o: PruneOptions): Record<string, unknown> {
  const { log, stopAfter, ...rest } = o;
  void log; void stopAfter;
  return rest;
}

function validate(o: PruneOptions): void {
  const bad = (m: string): never => fail('E_ARGS', m);
  if (o.student !== undefined) {
    if (o.targetMacs !== undefined) bad('--target-macs cannot be combined with --student (it distils the given model without gates)');
    if (o.targetSpeedup !== undefined) bad('--target-speedup cannot be combined with --student (it distils the given model without gates)');
    if (!o.ste) bad('--no-ste cannot be combined with --student (it distils the given model without gates)');
    if (o.finalSteps !== 0) bad('--final-steps cannot be combined with --student (--steps sets the number of distillation steps)');
    if (o.mode !== 'full') bad('--mode cannot be combined with --student (it distils hidden states as --final-steps does)');
  } else if (o.targetSpeedup !== undefined) {
    if (!Number.isNaN(o.targetSparsity) && o.targetSparsity !== 0) bad('--target-speedup and --target-sparsity cannot be combined: choose a speed or a size');
    if (o.targetMacs !== undefined) bad('--target-speedup and --target-macs cannot be combined: choose a speed or a size');
    if (!(o.targetSpeedup > 1 && o.targetSpeedup <= 20)) bad(`--target-speedup must be a speed factor above 1 (at most 20), found ${o.targetSpeedup}`);
  } else if (!(o.targetSparsity > 0 && o.targetSparsity < 1)) bad(`--target-sparsity must be between 0 and 1 (exclusive), found ${o.targetSparsity}`);
  if (o.init !== 'given' && o.init !== 'random') bad(`--init must be given or random, found "${o.init}"`);
  if (o.init === 'random' && o.student === undefined) bad('--init random needs --student (the layout to train from scratch); a gated run starts from the teacher');
  if (o.targetMacs !== undefined && !(o.targetMacs > 0 && o.targetMacs < 1)) bad(`--target-macs must be between 0 and 1 (exclusive), found ${o.targetMacs}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) bad(`--steps must be a positive whole number, found ${o.steps}`);
  if (!(Number.isInteger(o.finalSteps) && o.finalSteps >= 0)) bad(`--final-steps must be a whole number ≥ 0, found ${o.finalSteps}`);
  if (o.mode !== 'full' && o.mode !== 'layerwise') bad(`--mode must be full or layerwise, found "${o.mode}"`);
  if (!(o.sparsityWarmup >= 0 && o.sparsityWarmup <= 1)) bad(`--sparsity-warmup must be a fraction of the steps from 0 to 1, found ${o.sparsityWarmup}`);
  if (!(o.gateLr > 0) || !(o.lambdaLr > 0)) bad(`--gate-lr and --lambda-lr must be > 0, found ${o.gateLr} and ${o.lambdaLr}`);
  if (!(o.cropSeconds > 0) || !(o.batchSeconds >= o.cropSeconds)) bad('--crop-seconds must be > 0 and --batch-seconds at least as long');
  if (o.units.length === 0) bad('--units is empty');
  for (const u of o.units) if (!UNIT_KINDS.includes(u)) bad(`unknown unit kind "${u}" in --units; choose from ${UNIT_KINDS.join(', ')}`);
}
