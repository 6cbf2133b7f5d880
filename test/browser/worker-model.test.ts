// createWorkerModel() in headless Chromium: the model runs in the worker slimwav ships (dist/src/worker.js), called
// from a page's main thread with no worker code of the page's own.
//   - cross-origin isolated: 2 threads inside the worker; every hidden state matches the torchaudio reference
//   - errors keep their code across the worker boundary (E_IO for a missing model, E_AUDIO for empty audio)
//   - a worker that throws mid-call, that cannot be loaded, or that is disposed mid-call rejects with E_WORKER,
//     never hangs (each case races a 20 s timer that would report 'hang')
//   - what Model has: chunk/context, stream() and AbortSignal give Model's numbers and Model's errors
// Skipped, with the reason printed, without Chromium.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launch, skipReason, type Browser } from './chromium.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

const s = suite('createWorkerModel (chromium)');
const skip = skipReason();
if (skip) {
  console.log(`worker-model test skipped: ${skip}`);
} else {
  let browser: Browser;
  let page: Page;
  s.before(async () => {
    browser = await launch();
    page = await browser.context.newPage();
    await page.goto(browser.server.origin + '/coi/test/browser/blank.html');
  });
  s.after(async () => { await browser?.close(); });

  /**
   * Run `body` in the page with slimwav/browser as `sw`; a rejection comes back as { code, message }, no answer within
   * `hangMs` as 'hang' (longer for the cases that run two models several times: the machine may be loaded).
   */
  async function inPage<T>(body: string, hangMs = 20_000): Promise<T | { code: string; message: string } | 'hang'> {
    return page.evaluate(async ([src, ms]) => {
      const sw = await import(new URL('../../dist/src/browser.js', location.href).href);
      const fixture = new URL('../fixtures/tiny-w2v-group/', location.href).href;
      const fn = new Function('sw', 'fixture', `return (async () => { ${src} })();`);
      const hang = new Promise((resolve) => setTimeout(() => resolve('hang'), ms));
      try {
        return await Promise.race([fn(sw, fixture), hang]);
      } catch (err) {
        return { code: (err as { code?: string }).code ?? 'none', message: String((err as Error).message) };
      }
    }, [body, hangMs] as const) as Promise<T | { code: string; message: string } | 'hang'>;
  }

  s('isolated page: 2 threads in slimwav\'s worker, every hidden state matches the reference', async () => {
    type R = { threads: number; kernels: string; warnings: string[]; indices: number[]; layers: number[][]; isolated: boolean; viaRateSame: boolean; badRate?: { code: string; message: string } };
    const r = await inPage<R>(`
      const refs = await fetch(fixture + 'ref.safetensors');
      const model = await sw.createWorkerModel(fixture, { threads: 2 });
      const ref = (await import(new URL('../../dist/src/format/safetensors.js', location.href).href)).parseSafetensors(new Uint8Array(await refs.arrayBuffer()), 'ref');
      const t = ref.tensors.get('input.speech');
      const pcm = new Float32Array(t.data.slice().buffer);
      const out = await model.extract(pcm, { layers: 'all' });
      // the Model's other input form, { samples, sampleRate }, resampled on the calling side (here a no-op rate)
      const viaRate = await model.extract({ samples: pcm, sampleRate: 16000 }, { layers: 'last' });
      let badRate;
      try { await model.extract({ samples: pcm, sampleRate: -1 }); } catch (e) { badRate = { code: e.code, message: e.message }; }
      model.dispose();
      return { threads: model.threads, kernels: model.info.kernels, warnings: model.warnings, indices: out.indices,
        layers: out.layers.map((l) => Array.from(l)), isolated: crossOriginIsolated,
        viaRateSame: viaRate.layers[0].every((v, i) => v === out.layers.at(-1)[i]), badRate };`) as R;
    assert.ok(!('code' in r) && r !== ('hang' as unknown), JSON.stringify(r).slice(0, 300));
    assert.is(r.isolated, true);
    assert.is(r.threads, 2);
    assert.ok(r.kernels.endsWith('-shared'), r.kernels);
    assert.equal(r.warnings, []);
    const refs = readRefs(join(FIXTURES, 'tiny-w2v-group', 'ref.safetensors'));
    assert.ok(r.indices.length > 1);
    const failures = r.indices.map((idx, i) => closeTo(`hidden ${idx}`, new Float32Array(r.layers[i]), refs.get(`hidden.speech.${idx}`).data)).filter(Boolean);
    assert.equal(failures, []);
    assert.ok(r.viaRateSame, '{ samples, sampleRate: 16000 } gives the Float32Array path\'s numbers');
    assert.is(r.badRate?.code, 'E_ARGS');
    assert.match(r.badRate!.message, /^extract\(\): sampleRate must be a positive number/);
  });

  s('errors keep their code: E_IO for a missing model, E_AUDIO for empty audio, E_ARGS after dispose', async () => {
    const missing = await inPage(`await sw.createWorkerModel('../nowhere/'); return 'loaded';`) as { code: string; message: string };
    assert.is(missing.code, 'E_IO');
    assert.match(missing.message, /nowhere\/(config\.json|model\.safetensors): HTTP 404/);
    const empty = await inPage(`const m = await sw.createWorkerModel(fixture, { threads: 1 }); try { await m.extract(new Float32Array(0)); return 'ran'; } finally { m.dispose(); }`) as { code: string; message: string };
    assert.is(empty.code, 'E_AUDIO');
    assert.is(empty.message, 'audio is empty (0 samples)');
    const after = await inPage(`const m = await sw.createWorkerModel(fixture, { threads: 1 }); m.dispose(); await m.extract(new Float32Array(16000)); return 'ran';`) as { code: string };
    assert.is(after.code, 'E_ARGS');
  });

  s('a worker that throws mid-call rejects the pending call with E_WORKER, no hang', async () => {
    const r = await inPage(`
      const m = await sw.createWorkerModel(fixture, { threads: 1, workerUrl: './crash-worker.js' });
      const pcm = new Float32Array(16000 * 60).map((_, i) => Math.sin(i / 9));
      await m.extract(pcm);
      return 'resolved';`) as { code: string; message: string };
    assert.is(r.code, 'E_WORKER');
    assert.match(r.message, /simulated crash in the worker/);
  });

  // the page's Model (loadFromUrl) and the worker model side by side; `x` 3 s + 555 samples, `frames(list)` joins
  // stream results per layer, checking they arrive in order
  const SLOW = 120_000;
  const BOTH = `
    const m = await sw.loadFromUrl(fixture, { threads: 1 });
    const w = await sw.createWorkerModel(fixture, { threads: 1 });
    const x = new Float32Array(16000 * 3 + 555).map((_, i) => 0.5 * Math.sin(i / 9) + 0.2 * Math.sin(i * 0.37));
    const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
    const sameFeatures = (a, b) => a.frames === b.frames && a.layers.length === b.layers.length && a.layers.every((l, i) => same(l, b.layers[i]));
    const frames = (list) => {
      let n = 0;
      for (const r of list) { if (r.first !== n) throw new Error('frames out of order: ' + r.first + ' after ' + n); n += r.frames; }
      return { frames: n, layers: list[0].layers.map((_, j) => { const out = new Float32Array(n * m.config.hidden); let o = 0; for (const r of list) { out.set(r.layers[j], o); o += r.layers[j].length; } return out; }) };
    };
    const caught = async (p) => { try { await p; return 'resolved'; } catch (e) { return { code: e.code, name: e.name, message: e.message }; } };
    const thrown = (f) => { try { f(); return 'returned'; } catch (e) { return { code: e.code, message: e.message }; } };`;

  s('chunk/context and stream() in the worker: the numbers of Model, bit for bit, whatever the block sizes', async () => {
    type R = { chunked: boolean; chunkMatters: boolean; stream: boolean; streamIsChunked: boolean; frames: number; samples: number; pushed: number; indices: number[] };
    const r = await inPage<R>(`${BOTH}
      const opts = { layers: 'all', chunk: 0.5, context: 0.15 };
      const a = await m.extract(x, opts), b = await w.extract(x, opts);
      const whole = await w.extract(x, { layers: 'all', chunk: 'off' });
      // the same blocks (pseudo-random sizes, an Int16 one, a { samples, sampleRate } one) into both streams
      let seed = 7;
      const blocks = [];
      for (let i = 0; i < x.length;) {
        seed = (seed * 69069 + 1) % 4294967296;
        const n = Math.min(1 + (seed % 5000), x.length - i);
        const blk = x.slice(i, i + n);
        blocks.push(blocks.length === 3 ? Int16Array.from(blk, (v) => Math.round(v * 32767)) : blocks.length === 5 ? { samples: blk, sampleRate: 16000 } : blk);
        i += n;
      }
      const run = async (model) => {
        const st = model.stream({ layers: 'all', chunk: 0.5, context: 0.15 });
        const out = await Promise.all(blocks.map((b) => st.push(b))); // not awaited one by one: order must hold
        out.push(await st.flush());
        return { out, samples: st.samples };
      };
      const ms = await run(m), ws = await run(w);
      const mf = frames(ms.out), wf = frames(ws.out);
      // Int16 blocks differ from x: compare the worker's stream with the Model's (same blocks), and with extract when
      // every block is Float32
      const plain = blocks.map((b) => (b instanceof Float32Array ? b : b instanceof Int16Array ? Float32Array.from(b, (v) => v / 32768) : b.samples));
      const joined = new Float32Array(plain.reduce((n, b) => n + b.length, 0));
      plain.reduce((o, b) => { joined.set(b, o); return o + b.length; }, 0);
      const ref = await m.extract(joined, opts);
      m.dispose(); w.dispose();
      return { chunked: sameFeatures(a, b), chunkMatters: !sameFeatures(b, whole), indices: b.indices,
        stream: ws.out.length === ms.out.length && ws.out.every((r, i) => r.first === ms.out[i].first && r.frames === ms.out[i].frames) && sameFeatures(mf, wf),
        streamIsChunked: sameFeatures(wf, ref), frames: wf.frames, samples: ws.samples, pushed: joined.length };`, SLOW) as R;
    assert.ok(r !== ('hang' as unknown) && !('code' in r), JSON.stringify(r).slice(0, 300));
    assert.ok(r.chunked, 'extract with chunk/context: worker == Model');
    assert.ok(r.chunkMatters, 'chunk 0.5 s differs from one pass (the options reached the worker)');
    assert.ok(r.indices.length > 1);
    assert.ok(r.stream, 'stream: worker == Model, response by response');
    assert.ok(r.streamIsChunked, 'stream == chunked extract of the same samples');
    assert.ok(r.frames > 100, `${r.frames} frames`);
    assert.is(r.samples, r.pushed);
  });

  s('abort: rejects at once with the reason Model gives, the worker stays usable; aborted streams stay aborted', async () => {
    type E = { code?: string; name?: string; message: string };
    type R = { model: E; worker: E; before: E; custom: boolean; next: boolean; stream: E; later: E; afterStream: boolean; bad: E };
    const r = await inPage<R>(`${BOTH}
      const long = new Float32Array(16000 * 30).map((_, i) => Math.sin(i / 7));
      const abortSoon = () => { const c = new AbortController(); setTimeout(() => c.abort(), 30); return c.signal; };
      const model = await caught(m.extract(long, { layers: 'all', signal: abortSoon() }));
      const worker = await caught(w.extract(long, { layers: 'all', signal: abortSoon() }));
      const before = await caught(w.extract(long, { signal: AbortSignal.abort() }));
      const c = new AbortController(), reason = new Error('stopped by the page');
      const p = w.extract(long, { signal: c.signal });
      c.abort(reason);
      let custom = false;
      try { await p; } catch (e) { custom = e === reason; }
      const next = sameFeatures(await w.extract(x, { layers: 'all' }), await m.extract(x, { layers: 'all' }));
      // a stream: the pending push and every later call reject with the reason
      const cs = new AbortController();
      const st = w.stream({ chunk: 0.5, context: 0.1, signal: cs.signal });
      await st.push(x.subarray(0, 8000));
      const pending = st.push(long);
      cs.abort();
      const stream = await caught(pending), later = await caught(st.flush());
      const afterStream = sameFeatures(await w.extract(x, { chunk: 0.5, context: 0.15 }), await m.extract(x, { chunk: 0.5, context: 0.15 }));
      const bad = await caught(w.extract(x, { signal: 'soon' }));
      m.dispose(); w.dispose();
      return { model, worker, before, custom, next, stream, later, afterStream, bad };`, SLOW) as R;
    assert.ok(r !== ('hang' as unknown) && !('code' in r && typeof (r as { code: unknown }).code === 'string'), JSON.stringify(r).slice(0, 300));
    assert.is(r.model.name, 'AbortError', JSON.stringify(r.model));
    for (const e of [r.worker, r.before, r.stream, r.later]) {
      assert.is(e.name, r.model.name, JSON.stringify(e));
      assert.is(e.code, r.model.code);
      assert.is(e.message, r.model.message);
    }
    assert.ok(r.custom, 'abort(reason) rejects with that reason');
    assert.ok(r.next, 'the next extract runs, with the numbers of Model');
    assert.ok(r.afterStream, 'and after an aborted stream too');
    assert.is(r.bad.code, 'E_ARGS');
    assert.match(r.bad.message, /^extract\(\): signal must be an AbortSignal/);
  });

  s('bad input to extract/stream in the worker: the code and line of Model', async () => {
    type E = { code: string; message: string } | 'resolved' | 'returned';
    type R = Record<string, [E, E]>;
    const r = await inPage<R>(`${BOTH}
      const pair = async (f) => [await caught(Promise.resolve().then(() => f(m))), await caught(Promise.resolve().then(() => f(w)))];
      const out = {
        chunkNegative: await pair((k) => k.extract(x, { chunk: -1 })),
        contextOff: await pair((k) => k.extract(x, { chunk: 'off', context: 1 })),
        layers: await pair((k) => k.extract(x, { layers: [99] })),
        streamChunk: [thrown(() => m.stream({ chunk: 0 })), thrown(() => w.stream({ chunk: 0 }))],
        streamLayers: [thrown(() => m.stream({ layers: 'none' })), thrown(() => w.stream({ layers: 'none' }))],
        streamSignal: [thrown(() => m.stream({ signal: {} })), thrown(() => w.stream({ signal: {} }))],
        // refused by Model.stream inside the worker: the first call on the stream says so
        streamOff: [thrown(() => m.stream({ chunk: 'off' })), await caught(w.stream({ chunk: 'off' }).push(x))],
      };
      for (const [name, f] of [
        ['nan', (st) => st.push(new Float32Array([0, NaN]))],
        ['rate', (st) => st.push({ samples: x, sampleRate: 8000 })],
        ['type', (st) => st.push([0.1, 0.2])],
        ['uncloneable', (st) => st.push({ samples: () => 0, sampleRate: 16000 })],
      ]) {
        const sm = m.stream({ chunk: 0.5 }), sw2 = w.stream({ chunk: 0.5 });
        out[name] = [await caught(f(sm)), await caught(f(sw2))];
        // the stream carries on after a refused block
        const goOn = [await sm.push(x), await sw2.push(x)];
        out[name + 'GoesOn'] = [{ code: String(goOn[0].frames), message: '' }, { code: String(goOn[1].frames), message: '' }];
        await sm.flush();
        await sw2.flush();
        out[name + 'Closed'] = [await caught(sm.push(x)), await caught(sw2.push(x))];
      }
      m.dispose(); w.dispose();
      return out;`, SLOW) as R;
    assert.ok(r !== ('hang' as unknown) && !('code' in r), JSON.stringify(r).slice(0, 300));
    const code = (e: E) => (typeof e === 'string' ? e : e.code);
    const line = (e: E) => (typeof e === 'string' ? e : e.message);
    for (const [name, [model, worker]] of Object.entries(r)) {
      if (name.endsWith('GoesOn')) {
        assert.ok(Number(code(model)) > 0 && code(model) === code(worker), `${name}: ${code(model)} vs ${code(worker)} frames`);
        continue;
      }
      assert.ok(typeof model === 'object' && typeof worker === 'object', `${name}: ${JSON.stringify([model, worker])}`);
      assert.is(code(worker), code(model), `${name}: ${JSON.stringify([model, worker])}`);
      assert.ok(['E_ARGS', 'E_AUDIO'].includes(code(worker)), `${name}: ${code(worker)}`);
      // the same line, except where the worker says why it could not send, or names the closed stream its own way
      if (name === 'uncloneable') assert.match(line(worker), /cannot be sent to the worker/);
      else if (name.endsWith('Closed')) assert.match(line(worker), /^stream\.push\(\) after flush\(\); the stream is closed/);
      else assert.is(line(worker), line(model), name);
    }
    assert.is(code(r.nan[0]), 'E_AUDIO');
    assert.is(code(r.rate[0]), 'E_AUDIO');
    assert.is(code(r.type[0]), 'E_ARGS');
  });

  s('a worker that dies mid-stream (crash, dispose) rejects the pending push with E_WORKER and every later call, no hang', async () => {
    type E = { code: string; message: string };
    const r = await inPage<{ crash: E; crashLater: E; crashExtract: E; disposed: E; disposedLater: E; ranBefore: number }>(`${BOTH}
      w.dispose();
      const c = await sw.createWorkerModel(fixture, { threads: 1, workerUrl: './crash-worker.js' });
      const st = c.stream({ chunk: 0.5, context: 0.1 });
      const first = await st.push(x.subarray(0, 16000)); // runs
      const crash = await caught(st.push(x.subarray(0, 4321)));
      const crashLater = await caught(st.flush());
      const crashExtract = await caught(c.extract(x));
      const d = await sw.createWorkerModel(fixture, { threads: 1 });
      const sd = d.stream({ chunk: 0.5, context: 0.1 });
      const p = sd.push(new Float32Array(16000 * 20).map((_, i) => Math.sin(i / 5)));
      d.dispose();
      const disposed = await caught(p), disposedLater = await caught(sd.push(x));
      m.dispose();
      return { crash, crashLater, crashExtract, disposed, disposedLater, ranBefore: first.frames };`, SLOW);
    assert.ok(r !== 'hang' && !('code' in r && typeof (r as { code: unknown }).code === 'string'), JSON.stringify(r));
    const v = r as Exclude<typeof r, 'hang' | { code: string; message: string }>;
    assert.ok(v.ranBefore > 0, 'the pushes before the crash ran');
    assert.is(v.crash.code, 'E_WORKER');
    assert.match(v.crash.message, /simulated crash in the worker mid-stream/);
    assert.is(v.crashLater.code, 'E_WORKER');
    assert.is(v.crashExtract.code, 'E_WORKER');
    assert.is(v.disposed.code, 'E_WORKER');
    assert.match(v.disposed.message, /disposed while a call was running/);
    assert.is(v.disposedLater.code, 'E_ARGS');
  });

  s('a worker that cannot be loaded rejects with E_WORKER', async () => {
    const r = await inPage(`await sw.createWorkerModel(fixture, { workerUrl: './no-such-worker.js' }); return 'loaded';`) as { code: string; message: string };
    assert.is(r.code, 'E_WORKER');
    assert.match(r.message, /no-such-worker\.js/);
  });

  s('disposed mid-call: the pending call rejects with E_WORKER', async () => {
    const r = await inPage(`
      const m = await sw.createWorkerModel(fixture, { threads: 1 });
      const p = m.extract(new Float32Array(16000 * 30).map((_, i) => Math.sin(i / 7)));
      m.dispose();
      await p;
      return 'resolved';`) as { code: string; message: string };
    assert.is(r.code, 'E_WORKER');
    assert.match(r.message, /disposed while a call was running/);
  });
}

s.run();
