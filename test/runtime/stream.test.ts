// Streaming (src/stream.ts): the frames pushed out, concatenated, are bit for bit the chunked extraction of the
// whole signal with the same chunk and context, whatever the block sizes; bad input has a defined answer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { load, SlimwavError, type Model } from '../../src/index.js';
import { FIXTURES } from '../ref/fixtures.js';
import { signal } from '../ref/signal.js';

const s = suite('stream');

/** push `x` in blocks of the sizes `next()` gives, flush; frames concatenated per layer, checked contiguous */
async function streamAll(m: Model, x: Float32Array, next: () => number, opts: { chunk: number; context: number }) {
  const st = m.stream({ layers: 'all', ...opts });
  const parts: Float32Array[][] = [];
  let frames = 0;
  const take = (r: { first: number; frames: number; layers: Float32Array[] }) => {
    assert.is(r.first, frames, 'frames arrive in order, none missing');
    frames += r.frames;
    if (r.frames) parts.push(r.layers);
  };
  const pending = [];
  for (let i = 0; i < x.length;) {
    const n = Math.min(next(), x.length - i);
    pending.push(st.push(x.subarray(i, i + n)).then(take)); // not awaited one by one: order must still hold
    i += n;
  }
  await Promise.all(pending);
  take(await st.flush());
  const D = m.config.hidden;
  const layers = parts[0].map((_, j) => {
    const out = new Float32Array(frames * D);
    let o = 0;
    for (const p of parts) { out.set(p[j], o); o += p[j].length; }
    return out;
  });
  return { frames, layers };
}

for (const fixture of ['tiny-w2v-group', 'wavlm-ragged-a']) {
  s(`${fixture}: stream == chunked extraction of the whole signal, bit for bit, for blocks of 1, 100, 16000 and random sizes`, async () => {
    const m = await load(join(FIXTURES, fixture), { threads: 1 });
    const x = signal(16000 * 3 + 555, 7);
    const opts = { chunk: 0.5, context: 0.15 };
    const ref = await m.extract(x, { layers: 'all', ...opts });
    let seed = 42;
    const sizes: [string, () => number][] = [
      ['1', () => 1], ['100', () => 100], ['16000', () => 16000],
      ['random', () => { seed = (seed * 69069 + 1) % 4294967296; return 1 + (seed % 5000); }],
    ];
    for (const [name, next] of sizes) {
      const got = await streamAll(m, x, next, opts);
      assert.is(got.frames, ref.frames, `blocks of ${name}: frames`);
      ref.layers.forEach((l, i) => assert.equal(got.layers[i], l, `blocks of ${name}, hidden ${i}`));
    }
    // context 0 too (a window then waits for one frame more, to know it is not the last)
    const ref0 = await m.extract(x, { layers: 'all', chunk: 0.4, context: 0 });
    const got0 = await streamAll(m, x, () => 3000, { chunk: 0.4, context: 0 });
    ref0.layers.forEach((l, i) => assert.equal(got0.layers[i], l, `context 0, hidden ${i}`));
    m.dispose();
  });
}

s('a stream shorter than one chunk gives the one-pass result at flush; frames come back chunk + context after their audio', async () => {
  const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
  const x = signal(16000, 9);
  const full = await m.extract(x, { layers: 'last', chunk: 'off' });
  const st = m.stream({ chunk: 2, context: 0.5 });
  assert.is((await st.push(x)).frames, 0);
  const r = await st.flush();
  assert.equal(r.layers[0], full.layers[0]);
  // latency: the first chunk (1 s) is final once 1 s + 0.25 s of audio (and the conv receptive field) is in
  const st2 = m.stream({ chunk: 1, context: 0.25 });
  const y = signal(16000 * 3, 9);
  assert.is((await st2.push(y.subarray(0, 16000 + 3900))).frames, 0);
  const got = await st2.push(y.subarray(16000 + 3900, 16000 + 4400));
  assert.ok(got.frames > 0 && got.first === 0, `first chunk final after 1.25 s (got ${got.frames} frames)`);
  m.dispose();
});

s('bad input: push after flush, zero-length and NaN blocks, wrong rate, wrong type — defined answers', async () => {
  const m = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
  const x = signal(16000 * 2, 11);
  const opts = { chunk: 0.5, context: 0.1 };
  const ref = await m.extract(x, { layers: 'last', ...opts });
  const st = m.stream(opts);
  const code = async (p: Promise<unknown>, c: string, re: RegExp) => {
    try {
      await p;
      assert.unreachable(re.source);
    } catch (err) {
      assert.instance(err, SlimwavError);
      assert.is((err as SlimwavError).code, c);
      assert.match((err as Error).message, re);
      assert.not.match((err as Error).message, /\n/);
    }
  };
  const empty = await st.push(new Float32Array(0));
  assert.is(empty.frames, 0);
  assert.is(st.samples, 0);
  const parts: Float32Array[] = [];
  const take = (r: { layers: Float32Array[] }) => { if (r.layers[0].length) parts.push(r.layers[0]); };
  take(await st.push(x.subarray(0, 10000)));
  const bad = x.slice(10000, 11000);
  bad[17] = NaN;
  await code(st.push(bad), 'E_AUDIO', /stream\.push\(\): sample 17 of this block is NaN; samples must be finite \(the block was not taken\)/);
  await code(st.push({ samples: x.subarray(10000, 11000), sampleRate: 44100 }), 'E_AUDIO', /the stream takes 16 kHz blocks, found sampleRate 44100/);
  await code(st.push([1, 2, 3] as never), 'E_ARGS', /stream\.push\(\) needs a Float32Array or Int16Array/);
  // refused blocks were not taken: the stream carries on as if they were never pushed
  take(await st.push({ samples: x.subarray(10000, 20000), sampleRate: 16000 }));
  take(await st.push(x.subarray(20000)));
  take(await st.flush());
  const D = m.config.hidden, got = new Float32Array(ref.frames * D);
  let o = 0;
  for (const p of parts) { got.set(p, o); o += p.length; }
  assert.equal(got, ref.layers[0]);
  await code(st.push(x), 'E_ARGS', /stream\.push\(\) after flush\(\); the stream is closed/);
  await code(st.flush(), 'E_ARGS', /flush\(\) called twice/);
  assert.throws(() => m.stream({ chunk: 'off' as never }), /a stream always runs in windows/);
  assert.throws(() => m.stream({ chunk: -1 }), /chunk must be a number of seconds > 0/);
  // Int16 blocks are scaled by 1/32768, as extract() does
  const i16 = Int16Array.from(x, (v) => Math.round(v * 32767));
  const st16 = m.stream(opts);
  const a16 = await st16.push(i16);
  const b16 = await st16.flush();
  const e16 = await m.extract({ samples: i16, sampleRate: 16000 }, { layers: 'last', ...opts });
  assert.is(a16.frames + b16.frames, e16.frames);
  const D16 = m.config.hidden;
  assert.equal(b16.layers[0], e16.layers[0].subarray(a16.frames * D16));
  m.dispose();
  await code(Promise.resolve().then(() => m.stream(opts)), 'E_ARGS', /disposed/);
});

s.run();
