// slimwav prune end to end on a tiny teacher: targets reached, resume equals an uninterrupted run, Ctrl-C saves,
// and bad invocations are refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, parseConfig } from '../../src/index.js';
import { countParams } from '../../src/arch/tensors.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { prune, PRUNE_DEFAULTS, type PruneOptions } from '../../src/prune/train.js';
import { writeClips } from '../ref/clips.js';
import { FIXTURES } from '../ref/fixtures.js';
import { rejectsCode } from '../ref/assert.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEACHER = join(FIXTURES, 'tiny-w2v-group');
const work = mkdtempSync(join(tmpdir(), 'slimwav-prune-'));
const DATA = join(work, 'data');
mkdirSync(DATA);
// 12 deterministic 1.5 s clips: chirps, harmonics and noise, so the teacher's features vary
writeClips(DATA, { count: 12, prefix: 'clip', lcg: [1103515245, 12345], seedStep: 7919, seed0: 1,
  chirp: [0.3, 150, 40, 0.3], tone: [0.2, 900, 113], noise: 0.1 });
const quiet = () => undefined;
const opts = (out: string, more: Partial<PruneOptions> = {}): PruneOptions => ({
  ...PRUNE_DEFAULTS, mode: 'full', finalSteps: 0, threads: 1, teacher: TEACHER, data: DATA, out: join(work, out), targetSparsity: 0.5, steps: 40,
  gateLr: 0.25, cropSeconds: 0.5, batchSeconds: 1, checkpointEvery: 10, logEvery: 1000, validEvery: 20, log: quiet, ...more,
});

const s = suite('prune');

for (const target of [0.3, 0.5, 0.72]) {
  s(`target sparsity ${target}: the written model lands within ±1% and runs`, async () => {
    const r = await prune(opts(`t${target}`, { targetSparsity: target, steps: 60 }));
    assert.ok(Math.abs(r.sparsity - target) <= 0.01, `sparsity ${r.sparsity}`);
    const m = await load(r.out);
    assert.is(m.info.params, r.params);
    assert.ok(m.config.pruned);
    const out = await m.extract(new Float32Array(8000).map((_, i) => Math.sin(i / 9)), { layers: 'all' });
    m.dispose();
    assert.ok(out.layers.every((l) => l.every(Number.isFinite)));
    // the training log and the checkpoint sit beside the model
    const logJson = JSON.parse(readFileSync(join(r.out, 'train-log.json'), 'utf8'));
    assert.is(logJson.history.length, 60);
    assert.ok(logJson.history.some((h: { valid_loss?: number }) => h.valid_loss !== undefined));
  });
}

s('layer-wise mode prunes too', async () => {
  const r = await prune(opts('lw', { mode: 'layerwise', targetSparsity: 0.5, steps: 30 }));
  assert.ok(Math.abs(r.sparsity - 0.5) <= 0.01, `sparsity ${r.sparsity}`);
  const m = await load(r.out);
  m.dispose();
});

s('resume after a stop gives exactly the uninterrupted result', async () => {
  const a = await prune(opts('straight', { steps: 24, finalSteps: 4 }));
  const stopped = await prune(opts('resumed', { steps: 24, finalSteps: 4, stopAfter: 9 }));
  assert.ok(stopped.interrupted);
  assert.ok(existsSync(join(work, 'resumed', 'checkpoint.safetensors')));
  assert.not.ok(existsSync(join(work, 'resumed', 'model.safetensors')));
  const b = await prune(opts('resumed', { steps: 24, finalSteps: 4, resume: true }));
  assert.is(b.steps, 24);
  const ta = parseSafetensors(new Uint8Array(readFileSync(join(a.out, 'model.safetensors'))), 'a').tensors;
  const tb = parseSafetensors(new Uint8Array(readFileSync(join(b.out, 'model.safetensors'))), 'b').tensors;
  assert.equal([...ta.keys()].sort(), [...tb.keys()].sort());
  for (const [k, t] of ta) assert.ok(Buffer.from(t.data).equals(Buffer.from(tb.get(k)!.data)), `${k} differs`);
  assert.equal(JSON.parse(readFileSync(join(a.out, 'config.json'), 'utf8')).layer_heads, JSON.parse(readFileSync(join(b.out, 'config.json'), 'utf8')).layer_heads);
});

s('Ctrl-C saves a checkpoint and exits 130; --resume finishes', async () => {
  const out = join(work, 'sigint');
  const args = ['prune', '--teacher', TEACHER, '--data', DATA, '--target-sparsity', '0.4', '--out', out, '--steps', '400',
    '--crop-seconds', '0.5', '--batch-seconds', '1', '--threads', '1', '--log-every', '1'];
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'slimwav.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let sent = false;
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (!sent && /step 5\/400/.test(err)) { sent = true; child.kill('SIGINT'); }
    });
    child.on('exit', (c) => resolve(c));
  });
  assert.is(code, 130, err);
  assert.match(err, /checkpoint saved/);
  assert.ok(existsSync(join(out, 'checkpoint.safetensors')));
  const ckpt = parseSafetensors(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))), 'ckpt');
  const step = JSON.parse(ckpt.metadata.state).step;
  assert.ok(step >= 5 && step < 400, `stopped at ${step}`);
});

s('bad invocations are refused with one line', async () => {
  await rejectsCode(prune(opts('x1', { targetSparsity: 1.2 })), 'E_ARGS', 'target-sparsity');
  await rejectsCode(prune(opts('x2', { steps: 0 })), 'E_ARGS', '--steps');
  await rejectsCode(prune(opts('x3', { mode: 'half' as never })), 'E_ARGS', '--mode');
  await rejectsCode(prune(opts('x4', { units: ['heads' as never] })), 'E_ARGS', 'heads');
  // a size target the pruned kinds cannot reach is refused before any training, not missed silently (on this tiny
  // teacher the conv stack is a third of the parameters: without it 72% is out of reach; it landed at 65% before)
  await rejectsCode(prune(opts('x7', { targetSparsity: 0.72, units: ['head', 'qk', 'v', 'attn', 'ffn', 'ffnblock'] })),
    'E_ARGS', 'out of reach', 'ask for at most 0.6', 'conv stack stays whole');
  assert.not.ok(existsSync(join(work, 'x7')), 'nothing written for a refused target');
  await rejectsCode(prune(opts('t0.5')), 'E_IO', 'exists');
  await rejectsCode(prune(opts('never', { resume: true })), 'E_IO', 'nothing to resume');
  const empty = join(work, 'empty');
  mkdirSync(empty);
  await rejectsCode(prune(opts('x5', { data: empty })), 'E_IO', 'no WAV files');
  await rejectsCode(prune(opts('x6', { teacher: join(work, 'nope') })), 'E_IO', 'nope');
  void parseConfig;
  void countParams;
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
