// features --out-dir: a corpus in, one output per input; killed and rerun = one run; shards partition; failures counted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { decodeNpy } from '../../src/format/npy.js';
import { encodeWav } from '../../src/format/wav.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { toFloat32 } from '../../src/format/tensor.js';
import { readAudioFile } from '../../src/format/audio.js';
import { FIXTURES } from '../ref/fixtures.js';
import { BIN, slimwav, fails } from '../ref/cli.js';
import { Progress } from '../../src/cli/features.js';

const TINY = join(FIXTURES, 'tiny-w2v-group');
const work = mkdtempSync(join(tmpdir(), 'slimwav-corpus-'));
const corpus = join(work, 'corpus');

/** every file under `dir`, '/'-separated relative paths, sorted */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

const isTemp = (f: string) => /\.tmp-(slimwav-)?\d+/.test(f);
const npy = (p: string) => decodeNpy(new Uint8Array(readFileSync(p)), p);

// 24 speech clips of 1–2 s in nested folders; two folders hold the same basename
const names: string[] = [];
const s = suite('corpus');

s.before(async () => {
  const speech = await readAudioFile(join(FIXTURES, 'audio', 'speech22k.wav'));
  for (let i = 0; i < 24; i++) {
    const dir = ['a', 'b', 'a/deep', 'c'][i % 4];
    const name = `${dir}/clip${String(Math.floor(i / 4)).padStart(2, '0')}.wav`;
    const len = 16000 + 1000 * i, x = new Float32Array(len);
    for (let j = 0; j < len; j++) x[j] = speech[(j + 997 * i) % speech.length] * (0.5 + i / 48);
    mkdirSync(join(corpus, dir), { recursive: true });
    writeFileSync(join(corpus, name), encodeWav(x, 16000, { bitDepth: 16 }));
    names.push(name);
  }
  names.sort();
});

const expected = () => names.map((n) => n.replace(/\.wav$/, '.npy')).sort();

s('one run: one output per input, paths mirrored, each equal to the single-file command', () => {
  const out = join(work, 'ref');
  const r = slimwav('features', TINY, corpus, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 0, r.err);
  assert.equal(files(out), expected());
  assert.ok(files(out).includes('a/clip00.npy') && files(out).includes('b/clip00.npy'), 'same basename in two folders: both kept');
  assert.match(r.err, /24 written, 0 already there, 0 failed/);
  for (const n of ['a/deep/clip01.wav', 'c/clip05.wav']) {
    const single = join(work, 'single.npy');
    const r1 = slimwav('features', TINY, join(corpus, n), '--out', single, '--threads', '1');
    assert.is(r1.code, 0, r1.err);
    assert.ok(readFileSync(single).equals(readFileSync(join(out, n.replace('.wav', '.npy')))), `${n}: corpus output = single-file output`);
  }
  const again = slimwav('features', TINY, corpus, '--out-dir', out, '--threads', '1');
  assert.is(again.code, 0, again.err);
  assert.match(again.err, /0 to compute, 24 already/);
});

s('killed with SIGKILL mid-way, then rerun: byte-identical to one run, never a half file', async () => {
  const ref = join(work, 'ref'), out = join(work, 'killed');
  const child = spawn(process.execPath, [BIN, 'features', TINY, corpus, '--out-dir', out, '--threads', '1'], { stdio: 'ignore' });
  const exited = new Promise((res) => child.on('exit', res));
  let seen = 0;
  for (let t = 0; t < 60_000 && child.exitCode === null; t += 5) {
    seen = files(out).filter((f) => f.endsWith('.npy')).length;
    if (seen >= 3) break;
    await new Promise((res) => setTimeout(res, 5));
  }
  child.kill('SIGKILL');
  await exited;
  const after = files(out);
  const done = after.filter((f) => f.endsWith('.npy'));
  assert.ok(done.length > 0 && done.length < names.length, `killed mid-way (${done.length} of ${names.length} written)`);
  for (const f of done) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), `${f}: complete and identical`);
  // stale temp files of ours, under both naming schemes, as a kill during a write leaves them
  // and one of a writer that still runs (this test process): left alone
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  for (const d of ['b', 'c']) mkdirSync(join(out, d), { recursive: true });
  writeFileSync(join(out, 'c', `clip05.npy.tmp-${dead}`), 'half');
  writeFileSync(join(out, 'b', `.clip03.npy.tmp-slimwav-${dead}-0123456789abcdef`), 'half');
  const alive = join(out, 'b', `.clip03.npy.tmp-slimwav-${process.pid}-fedcba9876543210`);
  writeFileSync(alive, 'in flight');
  const r = slimwav('features', TINY, corpus, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`${names.length - done.length} to compute, ${done.length} already`));
  assert.equal(files(out).filter(isTemp), [`b/.clip03.npy.tmp-slimwav-${process.pid}-fedcba9876543210`], 'no temp files left but the live writer\'s');
  rmSync(alive);
  assert.equal(files(out), files(ref));
  for (const f of files(ref)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), `${f}: identical after the rerun`);
});

s('SIGINT: the current file is finished, a summary printed, exit 130; the rerun completes', async () => {
  const ref = join(work, 'ref'), out = join(work, 'sigint');
  const child = spawn(process.execPath, [BIN, 'features', TINY, corpus, '--out-dir', out, '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  for (let t = 0; t < 60_000 && child.exitCode === null && files(out).filter((f) => f.endsWith('.npy')).length < 2; t += 5) {
    await new Promise((res) => setTimeout(res, 5));
  }
  child.kill('SIGINT');
  assert.is(await exited, 130, err);
  const done = files(out);
  assert.ok(done.length >= 2 && done.length < names.length, `stopped mid-way (${done.length})`);
  assert.equal(done.filter(isTemp), [], 'no temp file: the file in progress was finished');
  for (const f of done) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))));
  assert.match(err, /interrupted: \d+ written, 0 already there, 0 failed, \d+ not started \(rerun to continue\)/);
  const r = slimwav('features', TINY, corpus, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 0, r.err);
  assert.equal(files(out), files(ref));
});

s('--shard i/N: the shards partition the inputs exactly, deterministically, and match one run', () => {
  const ref = join(work, 'ref');
  for (const N of [2, 3]) {
    const seen: string[] = [];
    for (let i = 0; i < N; i++) {
      const out = join(work, `shard-${N}-${i}`);
      const r = slimwav('features', TINY, corpus, '--out-dir', out, '--threads', '1', '--shard', `${i}/${N}`);
      assert.is(r.code, 0, r.err);
      const got = files(out);
      assert.equal(got, expected().filter((_, k) => k % N === i), `shard ${i}/${N} takes every ${N}th sorted input`);
      for (const f of got) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))));
      seen.push(...got);
    }
    assert.equal(seen.sort(), expected(), `${N} shards: every input exactly once`);
  }
  for (const bad of ['2/2', '0/0', '-1/2', 'a/b', '1']) {
    const r = slimwav('features', TINY, corpus, '--out-dir', join(work, 'never'), '--shard', bad);
    fails(r, '--shard');
    assert.is(r.err.trim().split('\n').length, 1, 'one line');
  }
  assert.not.ok(existsSync(join(work, 'never')));
});

s('bad files in the middle are reported, the rest written, exit ≠ 0', () => {
  const dir = join(work, 'mixed'), out = join(work, 'mixed-out');
  mkdirSync(join(dir, 'x'), { recursive: true });
  for (const n of ['1.wav', 'x/3.wav', 'x/5.wav']) writeFileSync(join(dir, n), readFileSync(join(corpus, names[0])));
  writeFileSync(join(dir, '2.wav'), 'not audio at all');
  writeFileSync(join(dir, 'x/4.wav'), readFileSync(join(corpus, names[0])).subarray(0, 30)); // truncated header
  symlinkSync(join(dir, 'gone.wav'), join(dir, 'x/dangling.wav'));
  const r = slimwav('features', TINY, dir, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 1, r.err);
  assert.equal(files(out), ['1.npy', 'x/3.npy', 'x/5.npy']);
  assert.match(r.err, /3 written, 0 already there, 3 failed/);
  for (const n of ['2.wav', '4.wav', 'dangling.wav']) assert.match(r.err, new RegExp(`failed: .*${n.replace('.', '\\.')}`));
  const last = r.err.trim().split('\n').pop()!;
  assert.match(last, /^slimwav: 3 of 6 input\(s\) failed/);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  // the rerun retries only the failures
  const again = slimwav('features', TINY, dir, '--out-dir', out, '--threads', '1');
  assert.is(again.code, 1);
  assert.match(again.err, /3 to compute, 3 already/);
});

s('symlink loops are not followed; an output folder inside the input folder is not read as input', () => {
  const dir = join(work, 'loopy');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'a.wav'), readFileSync(join(corpus, names[1])));
  symlinkSync(dir, join(dir, 'sub', 'back')); // sub/back → dir: a loop
  const out = join(dir, 'feats');
  mkdirSync(out);
  writeFileSync(join(out, 'planted.wav'), readFileSync(join(corpus, names[2]))); // audio inside the output folder
  const r = slimwav('features', TINY, dir, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /symlink loop/);
  assert.equal(files(out), ['planted.wav', 'sub/a.npy']);
  const again = slimwav('features', TINY, dir, '--out-dir', out, '--threads', '1');
  assert.is(again.code, 0, again.err);
  assert.match(again.err, /1 input\(s\): 0 to compute, 1 already/);
});

s('duplicates onto one output are refused up front; loose files mirror their common folder', () => {
  const r = slimwav('features', TINY, join(corpus, 'a'), join(corpus, 'b'), '--out-dir', join(work, 'dup'));
  fails(r, 'clip00.wav', 'would both write');
  assert.not.ok(existsSync(join(work, 'dup', 'clip00.npy')));
  const out = join(work, 'loose');
  const ok = slimwav('features', TINY, join(corpus, 'a', 'clip00.wav'), join(corpus, 'b', 'clip00.wav'), '--out-dir', out, '--threads', '1');
  assert.is(ok.code, 0, ok.err);
  assert.equal(files(out), ['a/clip00.npy', 'b/clip00.npy']);
});

s('manifest: paths relative to it, a missing file counted as a failure', () => {
  const m = join(corpus, 'list.txt');
  writeFileSync(m, `# two clips and one that is not there\n${names[3]}\n\n${join(corpus, names[7])}\nnope/missing.wav\n`);
  const out = join(work, 'manifest-out');
  const r = slimwav('features', TINY, m, '--out-dir', out, '--threads', '1');
  assert.is(r.code, 1);
  assert.equal(files(out), [names[3], names[7]].map((n) => n.replace('.wav', '.npy')).sort());
  assert.match(r.err, /failed: .*missing\.wav: cannot read: no such file/);
  rmSync(m);
  // nothing to read is an error; a shard that happens to get no inputs is not
  mkdirSync(join(work, 'empty'));
  fails(slimwav('features', TINY, join(work, 'empty'), '--out-dir', join(work, 'empty-out')), 'no audio files', 'empty');
  assert.not.ok(existsSync(join(work, 'empty-out')), 'no output folder made for nothing');
  const none = slimwav('features', TINY, join(corpus, 'a', 'deep'), '--out-dir', join(work, 'few'), '--shard', '9/10');
  assert.is(none.code, 0, none.err);
  assert.match(none.err, /nothing to do: no inputs \(shard 9\/10 of 6 inputs\)/);
});

s('outputs never overwrite an input', () => {
  const dir = join(work, 'selfish');
  mkdirSync(dir);
  const input = join(dir, 'x.npy');
  writeFileSync(input, readFileSync(join(corpus, names[0])));
  const before = readFileSync(input);
  fails(slimwav('features', TINY, input, '--out-dir', dir), 'x.npy', 'input');
  fails(slimwav('features', TINY, input, '--out', input), '--out', 'input');
  fails(slimwav('features', TINY, input, '--out', join(dir, '.', 'x.npy')), 'input');
  assert.ok(readFileSync(input).equals(before), 'input untouched');
});

s('--pool mean, --layer-weights (softmax) and --format safetensors against the full hidden states', () => {
  const ref = npy(join(work, 'ref', 'c', 'clip03.npy'));
  const [L, T, D] = ref.shape;
  const input = join(corpus, 'c', 'clip03.wav');
  const out = join(work, 'shaped');
  // mean over frames
  let r = slimwav('features', TINY, input, '--out-dir', out, '--pool', 'mean', '--threads', '1');
  assert.is(r.code, 0, r.err);
  const pooled = npy(join(out, 'clip03.npy'));
  assert.equal(pooled.shape, [L, D]);
  for (let l = 0; l < L; l++) {
    for (let d = 0; d < D; d++) {
      let m = 0;
      for (let t = 0; t < T; t++) m += ref.data[(l * T + t) * D + d];
      assert.ok(Math.abs(pooled.data[l * D + d] - m / T) <= 1e-5 * Math.max(1, Math.abs(m / T)), `mean ${l},${d}`);
    }
  }
  // weighted sum of layers 0 and 2 with softmax weights, as safetensors
  const w = join(work, 'w.json');
  writeFileSync(w, '[0.5, -1.25]');
  rmSync(out, { recursive: true });
  r = slimwav('features', TINY, input, '--out-dir', out, '--layers', '0,2', '--layer-weights', w, '--format', 'safetensors', '--threads', '1');
  assert.is(r.code, 0, r.err);
  const table = parseSafetensors(new Uint8Array(readFileSync(join(out, 'clip03.safetensors'))), 'x');
  const t = table.tensors.get('features')!;
  assert.equal(t.shape, [T, D]);
  assert.is(table.metadata.layers, '0,2');
  const got = toFloat32(t, 'features');
  const e0 = Math.exp(0.5), e1 = Math.exp(-1.25), w0 = e0 / (e0 + e1), w1 = e1 / (e0 + e1);
  for (let j = 0; j < T * D; j++) {
    const want = w0 * ref.data[j] + w1 * ref.data[2 * T * D + j];
    assert.ok(Math.abs(got[j] - want) <= 1e-5 * Math.max(1, Math.abs(want)), `weighted ${j}: ${got[j]} vs ${want}`);
  }
  // both: one vector
  const single = join(work, 'one.npy');
  r = slimwav('features', TINY, input, '--out', single, '--layers', '0,2', '--layer-weights', w, '--pool', 'mean');
  assert.is(r.code, 0, r.err);
  assert.equal(npy(single).shape, [D]);
  // weights that do not fit
  writeFileSync(w, '[1, 2, 3]');
  fails(slimwav('features', TINY, input, '--out', single, '--layers', '0,2', '--layer-weights', w), 'w.json', '3 layer weight');
  writeFileSync(w, '{"a": 1}');
  fails(slimwav('features', TINY, input, '--out', single, '--layer-weights', w), 'w.json', 'JSON array');
  fails(slimwav('features', TINY, input, '--out', single, '--pool', 'max'), '--pool');
  fails(slimwav('features', TINY, input, '--out-dir', out, '--format', 'wav'), '--format');
  assert.ok(statSync(single).size > 0);
});

s('progress: a bar with ETA on a terminal, plain lines when piped', () => {
  const tty: string[] = [];
  const bar = new Progress(4, { write: (x: string) => tty.push(x), isTTY: true, columns: 200 });
  bar.file(1, 'a.wav', true, true);
  bar.note('FAILED b.wav: bad');
  bar.file(2, 'FAILED b.wav: bad', false, false);
  bar.file(3, 'c.wav', true, true);
  bar.file(4, 'd.wav', true, true);
  assert.match(tty[0], /^\r\x1b\[K\[######\.{18}\] 1\/4 25% 0:00 elapsed, ETA 0:00  a\.wav$/);
  assert.is(tty[1], '\r\x1b[KFAILED b.wav: bad\n', 'a failure stays on screen above the bar');
  assert.match(tty.at(-1)!, /\[#{24}\] 4\/4 100% .*d\.wav\n$/, 'the finished bar ends its line');
  assert.is(tty.join('').split('\n').length - 1, 2, 'no other newlines: the bar redraws in place');
  const piped: string[] = [];
  const plain = new Progress(2, { write: (x: string) => piped.push(x) });
  plain.note('FAILED x.wav: bad');
  plain.file(1, 'FAILED x.wav: bad', false, false);
  plain.file(2, 'y.wav → y.npy', true, true);
  assert.equal(piped, ['[1/2] FAILED x.wav: bad\n', '[2/2] y.wav → y.npy\n']);
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
