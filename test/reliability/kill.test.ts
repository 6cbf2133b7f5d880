// kill -9 at random points of `features`, `convert` (folder and single file) and `prune`, then the plain rerun (or
// `prune --resume`): the outputs are byte-identical to an uninterrupted run, no half-written output is ever visible
// under its real name, and no temp file survives the rerun. KILL_ROUNDS=50 npx tsx test/reliability/kill.test.ts is
// the longer run (docs/reliability.md); npm test does 3 rounds per command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../ref/cli.js';
import { FIXTURES } from '../ref/fixtures.js';
import { writeClips } from '../ref/clips.js';

const ROUNDS = Number(process.env.KILL_ROUNDS ?? 3);
const TINY = join(FIXTURES, 'tiny-w2v-group');
const AUDIO = join(FIXTURES, 'audio', 'speech16k.wav');
const work = mkdtempSync(join(tmpdir(), 'slimwav-kill-'));
const DATA = join(work, 'data');
mkdirSync(DATA);
writeClips(DATA, { count: 6, prefix: 'clip', lcg: [1103515245, 12345], seedStep: 7919, seed0: 1,
  chirp: [0.3, 150, 40, 0.3], tone: [0.2, 900, 113], noise: 0.1 });

let seed = 20261204;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

/** Run the CLI; with `killAfter`, SIGKILL it after that many ms. Resolves with the exit code (null: killed). */
function run(args: string[], killAfter?: number): Promise<{ code: number | null; ms: number; err: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const timer = killAfter === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfter);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, ms: performance.now() - t0, err });
  }));
}

const temps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.tmp-')) : []);
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

/**
 * For one command: an uninterrupted reference run, then ROUNDS runs killed at random points of its duration, each
 * checked with `visible` (what a killed run may leave under the real names) and completed by `rerun`.
 */
async function killRounds(name: string, args: (out: string) => string[], outName: string, files: string[],
  rerun: (out: string) => string[] = args): Promise<void> {
  const refDir = join(work, `${name}-ref`);
  mkdirSync(refDir);
  const ref = join(refDir, outName);
  const r0 = await run(args(ref));
  assert.is(r0.code, 0, r0.err);
  for (let round = 0; round < ROUNDS; round++) {
    const dir = join(work, `${name}-${round}`);
    mkdirSync(dir);
    const out = join(dir, outName);
    const delay = Math.floor(rnd() * r0.ms);
    const killed = await run(args(out), delay);
    // whatever is visible under the real names is complete: byte-identical to the reference
    for (const f of files) {
      const p = f ? join(out, f) : out;
      if (existsSync(p) && (f !== 'model.safetensors' || existsSync(join(out, 'config.json')))) {
        assert.ok(same(p, f ? join(ref, f) : ref), `${name} killed at ${delay} ms: ${p} is not the complete output`);
      }
    }
    if (killed.code === 0) continue; // it finished before the kill
    const again = await run(existsSync(join(out, 'checkpoint.safetensors')) ? rerun(out) : args(out));
    if (again.code !== 0 && !/exists/.test(again.err)) assert.unreachable(`${name} rerun after a kill at ${delay} ms failed: ${again.err}`);
    if (again.code !== 0) {
      // convert refuses an existing --out: only possible when the killed run had already renamed it into place
      for (const f of files) assert.ok(same(f ? join(out, f) : out, f ? join(ref, f) : ref));
    }
    for (const f of files) assert.ok(same(f ? join(out, f) : out, f ? join(ref, f) : ref), `${name} after a kill at ${delay} ms and a rerun: ${f || outName} differs`);
    assert.equal(temps(dir), [], `${name}: no temp entries beside the output after the rerun`);
    if (files.some(Boolean) && existsSync(out)) assert.equal(temps(out), [], `${name}: no temp files inside the output folder`);
  }
}

test(`features: kill -9 at ${ROUNDS} random points, rerun → identical .npy, no temp left`, async () => {
  await killRounds('features', (out) => ['features', TINY, AUDIO, '--out', out, '--threads', '1'], 'f.npy', ['']);
});

test(`convert (folder): kill -9 at ${ROUNDS} random points, rerun → identical folder, no temp folder left`, async () => {
  await killRounds('convert', (out) => ['convert', TINY, '--out', out, '--dtype', 'f16'], 'm', ['config.json', 'model.safetensors']);
});

test(`convert --single-file: kill -9 at ${ROUNDS} random points, rerun → identical file`, async () => {
  await killRounds('single', (out) => ['convert', TINY, '--out', out, '--single-file'], 'm.safetensors', ['']);
});

test(`prune: kill -9 at ${ROUNDS} random points, --resume (or a fresh run) → identical model`, async () => {
  const args = (out: string) => ['prune', '--teacher', TINY, '--data', DATA, '--target-sparsity', '0.5', '--out', out, '--steps', '24',
    '--final-steps', '4', '--checkpoint-every', '4', '--crop-seconds', '0.5', '--batch-seconds', '1', '--threads', '1'];
  await killRounds('prune', args, 'p', ['model.safetensors', 'config.json'], (out) => [...args(out), '--resume']);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
