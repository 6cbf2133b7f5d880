// createWorkerModel() in headless Chromium: the model runs in the worker slimwav ships (dist/src/worker.js), called
// from a page's main thread with no worker code of the page's own.
//   - cross-origin isolated: 2 threads inside the worker; every hidden state matches the torchaudio reference
//   - errors keep their code across the worker boundary (E_IO for a missing model, E_AUDIO for empty audio)
//   - a worker that throws mid-call, that cannot be loaded, or that is disposed mid-call rejects with E_WORKER,
//     never hangs (each case races a 20 s timer that would report 'hang')
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

  /** Run `body` in the page with slimwav/browser as `sw`; a rejection comes back as { code, message }. */
  async function inPage<T>(body: string): Promise<T | { code: string; message: string } | 'hang'> {
    return page.evaluate(async (src) => {
      const sw = await import(new URL('../../dist/src/browser.js', location.href).href);
      const fixture = new URL('../fixtures/tiny-w2v-group/', location.href).href;
      const fn = new Function('sw', 'fixture', `return (async () => { ${src} })();`);
      const hang = new Promise((resolve) => setTimeout(() => resolve('hang'), 20_000));
      try {
        return await Promise.race([fn(sw, fixture), hang]);
      } catch (err) {
        return { code: (err as { code?: string }).code ?? 'none', message: String((err as Error).message) };
      }
    }, body) as Promise<T | { code: string; message: string } | 'hang'>;
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
