// Cancellation: extract() and streams take an AbortSignal; an abort stops the run at the next layer boundary with
// the signal's reason, and the model gives the right numbers afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { load } from '../../src/index.js';
import { FIXTURES } from '../ref/fixtures.js';
import { signal } from '../ref/signal.js';

const s = suite('abort');
const FIX = join(FIXTURES, 'tiny-w2v-group');

const isAbort = (err: unknown) => err instanceof Error && err.name === 'AbortError';

s('aborted before the start: rejects with the AbortError, nothing runs', async () => {
  const m = await load(FIX, { threads: 1 });
  const ac = new AbortController();
  ac.abort();
  const stages: string[] = [];
  try {
    await m.extract(signal(16000), { signal: ac.signal, capture: (st) => stages.push(st) });
    assert.unreachable();
  } catch (err) {
    assert.ok(isAbort(err), String(err));
  }
  assert.equal(stages, []);
  // the caller's own reason is what comes back
  const ac2 = new AbortController();
  const why = new Error('user pressed stop');
  ac2.abort(why);
  try {
    await m.extract(signal(16000), { signal: ac2.signal });
    assert.unreachable();
  } catch (err) {
    assert.is(err, why);
  }
  m.dispose();
});

s('aborted during a layer: no later layer runs (stops within one layer)', async () => {
  const m = await load(join(FIXTURES, 'wavlm-ragged-a'), { threads: 1 });
  const ac = new AbortController();
  const stages: string[] = [];
  try {
    await m.extract(signal(16000 * 2), {
      layers: 'all', signal: ac.signal,
      capture: (st) => { stages.push(st); if (st === 'hidden.1') ac.abort(); },
    });
    assert.unreachable();
  } catch (err) {
    assert.ok(isAbort(err), String(err));
  }
  assert.ok(stages.includes('hidden.1') && !stages.includes('hidden.2'), stages.join(' '));
  m.dispose();
});

s('aborted mid-way from a timer (chunked long input), then the model gives the right numbers', async () => {
  const m = await load(FIX, { threads: 1 });
  const x = signal(16000 * 40, 13);
  const opts = { layers: 'all' as const, chunk: 0.5, context: 0.1 };
  const ref = await m.extract(x, opts);
  const ac = new AbortController();
  const run = m.extract(x, { ...opts, signal: ac.signal });
  setTimeout(() => ac.abort(), 1);
  // a concurrent call waits its turn and is not disturbed
  const other = m.extract(x.subarray(0, 16000 * 3), { layers: 'last', chunk: 'off' });
  try {
    await run;
    assert.unreachable('the run finished before the timer fired');
  } catch (err) {
    assert.ok(isAbort(err), String(err));
  }
  const again = await m.extract(x, opts);
  ref.layers.forEach((l, i) => assert.equal(again.layers[i], l, `hidden ${i} after the abort`));
  const o = await other;
  const o2 = await m.extract(x.subarray(0, 16000 * 3), { layers: 'last', chunk: 'off' });
  assert.equal(o.layers[0], o2.layers[0]);
  m.dispose();
});

s('a stream takes a signal: an abort rejects the pending push and every later call', async () => {
  const m = await load(FIX, { threads: 1 });
  const ac = new AbortController();
  const st = m.stream({ chunk: 0.25, context: 0.05, signal: ac.signal });
  const x = signal(16000 * 20, 17);
  const p = st.push(x);
  setTimeout(() => ac.abort(), 1);
  try {
    await p;
    assert.unreachable();
  } catch (err) {
    assert.ok(isAbort(err), String(err));
  }
  for (const q of [st.push(x.subarray(0, 100)), st.flush()]) {
    try {
      await q;
      assert.unreachable();
    } catch (err) {
      assert.ok(isAbort(err), String(err));
    }
  }
  // the model is fine
  const a = await m.extract(x.subarray(0, 16000), { chunk: 'off' });
  const m2 = await load(FIX, { threads: 1 });
  const b = await m2.extract(x.subarray(0, 16000), { chunk: 'off' });
  assert.equal(a.layers[0], b.layers[0]);
  m.dispose();
  m2.dispose();
});

s('disposed while a run waits between layers: E_ARGS, no hang', async () => {
  const m = await load(FIX, { threads: 1 });
  const ac = new AbortController();
  const run = m.extract(signal(16000 * 40), { chunk: 0.5, signal: ac.signal });
  setTimeout(() => m.dispose(), 1);
  try {
    await run;
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /disposed/);
  }
});

s('without a signal the run happens within the call, as before (timing loops call extract without awaiting)', async () => {
  const m = await load(FIX, { threads: 1 });
  const stages: string[] = [];
  const p = m.extract(signal(16000), { layers: 'all', capture: (st) => stages.push(st) });
  assert.ok(stages.includes('hidden.2'), 'every layer ran before extract() returned its promise');
  await p;
  m.dispose();
});

s.run();
