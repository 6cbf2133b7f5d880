// slimwav prune --student: gate-free distillation of a given pruned student from the teacher. The loss goes down, the
// result is exactly what prune's own --final-steps loop gives from the same start, resume is exact, and students
// that do not fit the teacher (or gate options) are refused with one line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, parseConfig, receptiveField } from '../../src/index.js';
import { openModelFiles } from '../../src/arch/model-files.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { toFloat32, type RawTensor } from '../../src/format/tensor.js';
import { loadAudioFolder } from '../../src/prune/data.js';
import { Rng } from '../../src/util/rng.js';
import { finalDistill, prune, PRUNE_DEFAULTS, type PruneOptions } from '../../src/prune/train.js';
import { writeClips } from '../ref/clips.js';
import { FIXTURES } from '../ref/fixtures.js';
import { rejectsCode } from '../ref/assert.js';
import { fails, slimwav } from '../ref/cli.js';

const TEACHER = join(FIXTURES, 'tiny-w2v-group');
const work = mkdtempSync(join(tmpdir(), 'slimwav-distill-'));
const DATA = join(work, 'data');
mkdirSync(DATA);
writeClips(DATA, { count: 10, prefix: 'clip', lcg: [1103515245, 12345], seedStep: 7919, seed0: 3,
  chirp: [0.3, 170, 37, 0.3], tone: [0.15, 800, 97], noise: 0.1 });
const quiet = () => undefined;
const base = (out: string, more: Partial<PruneOptions> = {}): PruneOptions => ({
  ...PRUNE_DEFAULTS, mode: 'full', finalSteps: 0, threads: 1, teacher: TEACHER, data: DATA, out: join(work, out), targetSparsity: 0.6, steps: 30, gateLr: 0.25,
  cropSeconds: 0.5, batchSeconds: 1, checkpointEvery: 10, logEvery: 1000, validEvery: 10, log: quiet, ...more,
});
const STUDENT = join(work, 'student');
const distill = (out: string, more: Partial<PruneOptions> = {}) => base(out, { student: STUDENT, targetSparsity: 0, steps: 30, lr: 2e-3, seed: 7, ...more });
const tensorsOf = (dir: string) => parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), dir).tensors;
const logOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'train-log.json'), 'utf8'));

const s = suite('prune --student');

s.before(async () => {
  // a pruned student: 30 gated steps, no final distillation, so it has a lot left to learn
  await prune(base('student'));
});

s('the student moves toward the teacher: validation loss goes down, weights change, shape kept', async () => {
  const r = await prune(distill('d1'));
  assert.not.ok(r.interrupted);
  const log = logOf(r.out);
  assert.is(log.history.length, 30);
  assert.ok(log.initial_valid_loss > log.history[29].valid_loss, `valid ${log.initial_valid_loss} → ${log.history[29].valid_loss}`);
  const a = tensorsOf(STUDENT), b = tensorsOf(r.out);
  assert.equal([...a.keys()].sort(), [...b.keys()].sort());
  let changed = 0;
  for (const [k, t] of a) {
    assert.equal(b.get(k)!.shape, t.shape, k);
    if (!Buffer.from(t.data).equals(Buffer.from(b.get(k)!.data))) changed++;
  }
  assert.ok(changed > a.size / 2, `${changed} of ${a.size} tensors changed`);
  const cs = JSON.parse(readFileSync(join(STUDENT, 'config.json'), 'utf8')), cd = JSON.parse(readFileSync(join(r.out, 'config.json'), 'utf8'));
  for (const k of ['conv_dim', 'layer_heads', 'layer_head_qk_dims', 'layer_head_v_dims', 'layer_intermediate_sizes']) assert.equal(cd[k], cs[k], k);
});

s('same result as the --final-steps loop started from the same student and data sampler', async () => {
  const r = await prune(distill('d2', { steps: 12 }));
  const sf = await openModelFiles(STUDENT), tf = await openModelFiles(TEACHER);
  const tcfg = parseConfig(tf.config);
  const teacher = await buildModel(tf.config, tf.tensors, tf.source, tf.notes, { threads: 1 });
  let ref: Map<string, RawTensor>;
  try {
    const data = await loadAudioFolder(DATA, { minSamples: receptiveField(tcfg) });
    const o = distill('unused', { steps: 12 });
    ref = await finalDistill(sf.config, sf.tensors, teacher, data, Math.round(o.cropSeconds * 16000), 2,
      { threads: 1, lr: o.lr, lrWarmup: o.lrWarmup, finalSteps: 12, logEvery: 1000 }, new Rng(o.seed ^ 0x9e3779b9), quiet);
  } finally {
    teacher.dispose();
  }
  const got = tensorsOf(r.out);
  let compared = 0;
  for (const [k, t] of ref) {
    const g = got.get(k);
    if (!g) continue; // the positional conv is written back in weight-norm spelling
    assert.equal(Array.from(toFloat32(g, k)), Array.from(toFloat32(t, k)), k);
    compared++;
  }
  assert.ok(compared >= ref.size - 1, `${compared} of ${ref.size}`);
});

s('resume after a stop gives exactly the uninterrupted result', async () => {
  const a = await prune(distill('straight', { steps: 16 }));
  const stopped = await prune(distill('resumed', { steps: 16, stopAfter: 7 }));
  assert.ok(stopped.interrupted);
  assert.not.ok(existsSync(join(work, 'resumed', 'model.safetensors')));
  await prune(distill('resumed', { steps: 16, resume: true }));
  const ta = tensorsOf(a.out), tb = tensorsOf(join(work, 'resumed'));
  for (const [k, t] of ta) assert.ok(Buffer.from(t.data).equals(Buffer.from(tb.get(k)!.data)), `${k} differs`);
  // a gated run's checkpoint is not a --student checkpoint
  await rejectsCode(prune(distill('student', { resume: true })), 'E_ARGS', 'different run');
});

s('students that do not fit the teacher and gate options are refused with one line', async () => {
  await rejectsCode(prune(distill('x1', { student: join(FIXTURES, 'tiny-w2v-layer-postln') })), 'E_ARGS', 'hidden size 36', 'teacher has 48');
  await rejectsCode(prune(distill('x2', { student: join(FIXTURES, 'tiny-hubert-layer-preln') })), 'E_ARGS', 'model type hubert');
  await rejectsCode(prune(distill('x3', { student: join(FIXTURES, 'ragged-w2v-a') })), 'E_ARGS', 'layer count 3');
  await rejectsCode(prune(distill('x4', { targetMacs: 0.5 })), 'E_ARGS', '--target-macs', '--student');
  await rejectsCode(prune(distill('x5', { finalSteps: 10 })), 'E_ARGS', '--final-steps');
  await rejectsCode(prune(distill('x6', { mode: 'layerwise' })), 'E_ARGS', '--mode');
  await rejectsCode(prune(distill('x7', { student: join(work, 'nope') })), 'E_IO', 'nope');
  assert.not.ok(existsSync(join(work, 'x1')));
  // the command line: gate options with --student, one line
  const cli = (student: string, ...more: string[]) => slimwav('prune', '--teacher', TEACHER, '--student', student, '--data', DATA, '--out', join(work, 'cli'), ...more);
  fails(cli(STUDENT, '--target-sparsity', '0.5'), '--target-sparsity', '--student');
  fails(cli(STUDENT, '--units', 'ffn'), '--units', '--student');
  fails(cli(join(FIXTURES, 'tiny-w2v-layer-postln'), '--steps', '2'), 'tiny-w2v-layer-postln', 'hidden size');
  assert.not.ok(existsSync(join(work, 'cli')));
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
