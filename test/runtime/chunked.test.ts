// Long audio in windows (src/runtime/chunking.ts): chunk 'off' and a chunk longer than the input are the one-pass
// run exactly, kept frames line up with the full run's, the frame count is the full run's, and the deviation of
// chunked features from full-context ones stays under the bound measured for this fixture.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { load, readAudioFile, SlimwavError } from '../../src/index.js';
import { encodeWav } from '../../src/format/wav.js';
import { decodeNpy } from '../../src/format/npy.js';
import { slimwav, fails } from '../ref/cli.js';
import { FIXTURES, maxDiff } from '../ref/fixtures.js';
import { signal } from '../ref/signal.js';
import { resolveChunking, windowAt, windowCount, framesOf, totalStride } from '../../src/runtime/chunking.js';
import { receptiveField } from '../../src/arch/config.js';
import { estimateArenaBytes, modelBudgets } from '../../src/runtime/budget.js';

const s = suite('chunked extraction');

s('chunk off, and a chunk longer than the input, give the one-pass result exactly; auto is one pass up to 40 s', async () => {
  const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
  const x = signal(16000 * 3);
  const full = await m.extract(x, { layers: 'all', chunk: 'off' });
  const long = await m.extract(x, { layers: 'all', chunk: 10 });
  const auto = await m.extract(x, { layers: 'all' });
  const windowed = await m.extract(x, { layers: 'all', chunk: 0.5, context: 0.1 });
  m.dispose();
  full.layers.forEach((l, i) => {
    assert.equal(long.layers[i], l, `chunk 10 s, hidden ${i}`);
    assert.equal(auto.layers[i], l, `auto, hidden ${i}`);
  });
  assert.is(windowed.frames, full.frames);
  assert.ok(maxDiff(windowed.layers[2], full.layers[2]).diff > 0, 'windows of 0.5 s do differ from the full context');
});

s('windows start on the total stride: with context covering the input, every kept frame equals the full run (layer-norm extractor)', async () => {
  // no waveform or GroupNorm statistics here, so only what a window sees matters: with context ≥ the input every
  // window sees every frame, and a kept frame can only equal the full run's if it is the same frame
  const m = await load(join(FIXTURES, 'tiny-hubert-layer-preln'), { threads: 1 });
  const x = signal(16000 * 2 + 777, 3);
  const full = await m.extract(x, { layers: 'all', chunk: 'off' });
  const c = await m.extract(x, { layers: 'all', chunk: 0.3, context: 5 });
  m.dispose();
  assert.is(c.frames, full.frames);
  full.layers.forEach((l, i) => assert.equal(c.layers[i], l, `hidden ${i}`));
});

s('frame count equals the full run for many lengths and window sizes', async () => {
  const m = await load(join(FIXTURES, 'ragged-w2v-a'), { threads: 1 });
  const cfg = m.config, S = totalStride(cfg), R = receptiveField(cfg);
  for (const n of [R, R + 1, R + S - 1, 5 * S + R, 16000, 16000 + 123, 41000]) {
    for (const [chunk, context] of [[0.05, 0], [0.1, 0.02], [0.37, 0.3]]) {
      const c = resolveChunking(cfg, { chunk, context }, 'test', n)!;
      const T = framesOf(cfg, n);
      let kept = 0;
      for (let k = 0; k < windowCount(c, T); k++) {
        const w = windowAt(cfg, c, k, T, n);
        assert.is(w.keepFrom, kept);
        assert.ok(w.start % S === 0 && w.end <= n && framesOf(cfg, w.end - w.start) >= w.keepTo - w.firstFrame);
        kept = w.keepTo;
      }
      assert.is(kept, T, `${n} samples, chunk ${chunk}`);
      if (n >= 16000) {
        const r = await m.extract(signal(n), { chunk, context, layers: 'last' });
        assert.is(r.frames, T);
        assert.is(r.layers[0].length, T * cfg.hidden);
      }
    }
  }
  m.dispose();
});

// measured with this fixture and signal (bench/chunking.ts does the same on the base shape): relative error
// max|chunked − full| / max|full| per hidden state 0.048, 0.065, 0.065 for 1 s chunks with 0.5 s context (0.074–0.105
// with 0.25 s, 0.023–0.027 with 1 s); the bound leaves 1.5× room
s('chunked deviation from full context stays under the measured bound (tiny-w2v-group, 8 s, chunk 1 s, context 0.5 s)', async () => {
  const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
  const x = signal(16000 * 8, 5);
  const full = await m.extract(x, { layers: 'all', chunk: 'off' });
  const c = await m.extract(x, { layers: 'all', chunk: 1, context: 0.5 });
  m.dispose();
  full.layers.forEach((l, i) => {
    const { diff, scale } = maxDiff(c.layers[i], l);
    assert.ok(diff / scale < BOUND, `hidden ${i}: relative error ${(diff / scale).toExponential(2)} ≥ ${BOUND}`);
  });
});
const BOUND = 0.1;

s('bad chunk options: one E_ARGS line', async () => {
  const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
  const x = signal(16000);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ chunk: 0 }, /chunk must be a number of seconds > 0, 'auto' or 'off', found 0/],
    [{ chunk: 'on' }, /chunk must be .* found "on"/],
    [{ chunk: 1, context: -1 }, /context must be a number of seconds ≥ 0, found -1/],
    [{ chunk: 'off', context: 1 }, /context needs chunking/],
    [{ chunk: 1, capture: () => undefined }, /capture needs one pass/],
    [{ signal: {} }, /signal must be an AbortSignal/],
  ];
  for (const [opts, re] of cases) {
    try {
      await m.extract(x, opts as never);
      assert.unreachable(JSON.stringify(opts));
    } catch (err) {
      assert.instance(err, SlimwavError);
      assert.is((err as SlimwavError).code, 'E_ARGS');
      assert.match((err as Error).message, re);
      assert.not.match((err as Error).message, /\n/);
    }
  }
  m.dispose();
});

s('memory is bounded by the window: under a cap that refuses 60 s in one pass, 60 s in 2 s windows runs within it', async () => {
  const path = join(FIXTURES, 'tiny-w2v-group');
  const probe = await load(path, { threads: 1 });
  const mb = modelBudgets.get(probe)!;
  const x = signal(16000 * 60, 23);
  const opts = { chunk: 2, context: 0.5 };
  const windowNeed = estimateArenaBytes(mb.cfg, (2 + 2 * 0.5 + 0.1) * 16000, mb.opts, mb.scratch);
  const fullNeed = estimateArenaBytes(mb.cfg, x.length, mb.opts, mb.scratch);
  const cap = Math.ceil((mb.top + windowNeed) / 65536) * 65536 + 4 * 65536;
  probe.dispose();
  assert.ok(mb.top + fullNeed > cap, 'the cap refuses the one-pass run');
  const m = await load(path, { threads: 1, maxMemory: cap });
  try {
    await m.extract(x, { chunk: 'off' });
    assert.unreachable('one pass should not fit');
  } catch (err) {
    assert.is((err as SlimwavError).code, 'E_MEMORY');
  }
  const r = await m.extract(x, { layers: 'last', ...opts });
  assert.is(r.frames, framesOf(m.config, x.length));
  assert.ok(modelBudgets.get(m)!.memory.buffer.byteLength <= cap, 'memory stayed under the cap');
  m.dispose();
  // a window that does not fit either: one E_MEMORY line saying the input runs in windows and what to change
  const small = await load(path, { threads: 1, maxMemory: Math.ceil((mb.top + estimateArenaBytes(mb.cfg, 0.5 * 16000, mb.opts, mb.scratch)) / 65536) * 65536 });
  try {
    await small.extract(x, { layers: 'last', ...opts });
    assert.unreachable('a 3 s window should not fit');
  } catch (err) {
    assert.is((err as SlimwavError).code, 'E_MEMORY');
    assert.match((err as Error).message, /^extract\(\) runs this 60\.0 s input in windows, and one window does not fit: .* of audio needs .*, or a smaller chunk$/);
    assert.not.match((err as Error).message, /\n/);
  }
  small.dispose();
});

s('CLI: features --chunk S --context S gives the API\'s windows; --chunk off one pass; bad values one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-chunk-'));
  try {
    const x = signal(16000 * 3, 21);
    const wav = join(dir, 'a.wav');
    writeFileSync(wav, encodeWav(x, 16000, { bitDepth: 32 }));
    const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
    const pcm = await readAudioFile(wav); // what the CLI reads
    for (const [flags, opts] of [[['--chunk', '0.5', '--context', '0.1'], { chunk: 0.5, context: 0.1 }], [['--chunk', 'off'], { chunk: 'off' as const }]] as const) {
      const out = join(dir, 'f.npy');
      const r = slimwav('features', join(FIXTURES, 'tiny-w2v-group'), wav, '--out', out, '--layers', 'last', '--threads', '1', ...flags);
      assert.is(r.code, 0, r.err);
      const npy = decodeNpy(readFileSync(out), out);
      const api = await m.extract(pcm, { layers: 'last', ...opts });
      assert.equal(npy.data, api.layers[0], flags.join(' '));
    }
    m.dispose();
    fails(slimwav('features', join(FIXTURES, 'tiny-w2v-group'), wav, '--out', join(dir, 'g.npy'), '--chunk', '0'), '--chunk must be a number of seconds > 0 or off, found "0"');
    fails(slimwav('features', join(FIXTURES, 'tiny-w2v-group'), wav, '--out', join(dir, 'g.npy'), '--context', 'x'), '--context must be a number of seconds ≥ 0');
    fails(slimwav('features', join(FIXTURES, 'tiny-w2v-group'), wav, '--out', join(dir, 'g.npy'), '--chunk', 'off', '--context', '1'), '--context means nothing with --chunk off');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
