// The demo page (web/) in headless Chromium, driven through its UI as a person would: pick a WAV (the first 2 s of
// models/speech.wav, to keep the test short) with the file input, press Run, read what the page shows. The small dense and pruned models are rebuilt here under Node from
// the same seed (web/models.js) and run on the same file, and the page's hidden states must match them within
// 1e-5·max(1, max|node|): on 2 threads in a cross-origin isolated page (served under /coi/), on one thread with the
// page's fallback sentence without isolation; a file that is not audio gets a one-sentence error on the page.
// A screenshot goes to test-artifacts/demo.png (gitignored). Skipped, with the reason printed, without Chromium.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launch, skipReason, ROOT, type Browser } from './chromium.js';
import { buildModel } from '../../src/model.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { readAudioFile, decodeAudio } from '../../src/format/audio.js';
import { encodeWav } from '../../src/format/wav.js';
import { closeTo, FIXTURES } from '../ref/fixtures.js';
import { load } from '../../src/model.js';

const s = suite('demo page (chromium)');
const SPEECH = join(ROOT, 'models', 'speech.wav');
let clip: Buffer; // 3 s of speech.wav as a 16-bit WAV: what the page is given and what Node decodes
const NOT_ISOLATED = 'This page is not cross-origin isolated, so slimwav runs on one thread: serve it with COOP/COEP headers (npm run web) for threads.';

interface Shown { label: string; threads: number; kernels: string; frames: number; dim: number; last: number[]; text: Record<string, string> }

/** The dense and pruned small models' last hidden state, computed by slimwav under Node. */
async function nodeFeatures(): Promise<Map<string, Float32Array>> {
  type Pair = Record<'dense' | 'pruned', { config: Record<string, unknown>; weights: Uint8Array }>;
  const web = await import('../../web/models.js' as string) as { buildPair(c: unknown): Pair; smallConfig(c: unknown): unknown };
  const base = JSON.parse(readFileSync(join(ROOT, 'models', 'wav2vec2-base-random', 'config.json'), 'utf8'));
  const pair = web.buildPair(web.smallConfig(base));
  clip = Buffer.from(encodeWav((await readAudioFile(SPEECH)).subarray(0, 2 * 16000), 16000, { bitDepth: 16 }));
  const pcm = await decodeAudio(clip, 'clip.wav');
  const out = new Map<string, Float32Array>();
  for (const label of ['dense', 'pruned'] as const) {
    const { tensors } = parseSafetensors(pair[label].weights, label);
    const model = await buildModel(pair[label].config, tensors, label, [], { threads: 1 });
    out.set(label, (await model.extract(pcm, { layers: 'last' })).layers[0]);
    model.dispose();
  }
  return out;
}

async function runDemo(page: Page, threads: number): Promise<Shown[]> {
  await page.fill('#threads', String(threads));
  await page.setInputFiles('#audio-file', { name: 'clip.wav', mimeType: 'audio/wav', buffer: clip });
  await page.waitForFunction(() => !(document.getElementById('run') as HTMLButtonElement).disabled, null, { timeout: 15_000 });
  await page.click('#run');
  await page.waitForFunction(() => /^done/.test(document.getElementById('status')!.textContent ?? '') || !document.getElementById('error')!.hidden, null, { timeout: 60_000 });
  assert.is(await page.textContent('#error'), '', 'no error on the page');
  return page.evaluate(() => {
    type R = { label: string; threads: number; kernels: string; features: { frames: number; dim: number; layers: Float32Array[] } };
    const results = (window as unknown as { slimwavDemo: { results: R[] } }).slimwavDemo.results;
    return results.map((r) => {
      const card = document.querySelector(`.card[data-model="${r.label}"]`)!;
      const text = Object.fromEntries(Array.from(card.querySelectorAll('[data-k]'), (e) => [(e as HTMLElement).dataset.k!, e.textContent!.trim()]));
      return { label: r.label, threads: r.threads, kernels: r.kernels, frames: r.features.frames, dim: r.features.dim, last: [...r.features.layers.at(-1)!], text };
    });
  });
}

function assertMatchesNode(shown: Shown[], node: Map<string, Float32Array>): void {
  assert.equal(shown.map((r) => r.label), ['dense', 'pruned']);
  for (const r of shown) {
    const ref = node.get(r.label)!;
    assert.is(r.last.length, ref.length, `${r.label}: ${r.frames}×${r.dim} values`);
    assert.is(closeTo(`${r.label}: page vs Node`, new Float32Array(r.last), ref, 1e-5), '');
    let sum = 0, sq = 0;
    for (let i = 0; i < ref.length; i++) {
      sum += ref[i];
      sq += ref[i] * ref[i];
    }
    // the numbers printed on the page (7 significant digits) are Node's too
    const close = (shownText: string, want: number, what: string) =>
      assert.ok(Math.abs(Number(shownText) - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${r.label} ${what}: page shows ${shownText}, Node ${want}`);
    close(r.text.mean, sum / ref.length, 'mean');
    close(r.text.rms, Math.sqrt(sq / ref.length), 'rms');
    r.text.first.split(' ').forEach((v, i) => close(v, ref[i], `value ${i}`));
    assert.is(r.text.shape, `${ref.length / 256} frames × 256`);
    assert.ok(Number(r.text.ms.replace(/,/g, '')) > 0, `a time is shown: ${r.text.ms}`);
  }
}

const skip = skipReason();
if (skip) {
  console.log(`demo page test skipped: ${skip}`);
} else {
  let browser: Browser;
  let node: Map<string, Float32Array>;
  s.before(async () => { [browser, node] = await Promise.all([launch(), nodeFeatures()]); });
  s.after(async () => { await browser?.close(); });

  s('cross-origin isolated: 2 threads in slimwav\'s worker, dense and pruned match Node, screenshot saved', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(browser.server.origin + '/coi/web/');
      assert.match(await page.textContent('#env') ?? '', /^Cross-origin isolated/);
      const shown = await runDemo(page, 2);
      assertMatchesNode(shown, node);
      for (const r of shown) {
        assert.is(r.threads, 2, `${r.label} ran on 2 threads`);
        assert.ok(r.kernels.endsWith('-shared'), r.kernels);
      }
      assert.match(await page.textContent('#speedup') ?? '', /^pruned: \d+% of the parameters, [\d.]+× faster than dense$/);
      assert.ok(await page.locator('#structure svg rect').count() >= 2 * 2 * 4, 'a bar per layer and model in the structure SVG');
      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'test-artifacts', 'demo.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  let plain: Page; // the page without isolation, reused by the bad-file case
  s('not isolated: the page says it runs on one thread, and does, with the same numbers', async () => {
    plain = await browser.context.newPage();
    await plain.goto(browser.server.origin + '/web/');
    assert.is(await plain.textContent('#env'), NOT_ISOLATED);
    const shown = await runDemo(plain, 2);
    assertMatchesNode(shown, node);
    for (const r of shown) assert.is(r.threads, 1, `${r.label} fell back to 1 thread`);
  });

  s('files that are not audio: one sentence on the page naming the file, Run stays off', async () => {
    const page = plain ?? await browser.context.newPage();
    if (!plain) await page.goto(browser.server.origin + '/web/');
    try {
      const cases: [string, string, RegExp][] = [
        // not a WAV: the browser's decoder refuses it
        ['notes.mp3', 'these are notes, not audio', /^notes\.mp3 could not be decoded as audio \(.+\): pick a WAV, MP3, OGG or FLAC file\.$/],
        // a WAV header with no format chunk: slimwav's WAV decoder says what is wrong
        ['broken.wav', 'RIFF\x10\x00\x00\x00WAVEjunkjunkjunk', /^broken\.wav: .+\.$/],
      ];
      for (const [name, body, want] of cases) {
        await page.setInputFiles('#audio-file', { name, mimeType: 'audio/wav', buffer: Buffer.from(body, 'latin1') });
        await page.waitForFunction(() => !document.getElementById('error')!.hidden, null, { timeout: 15_000 });
        const msg = await page.textContent('#error') ?? '';
        assert.match(msg, want);
        assert.not.match(msg, /\n/);
        assert.ok(await page.isDisabled('#run'));
      }
    } finally {
      if (page !== plain) await page.close();
    }
  });

  s('a browser without WebAssembly SIMD: one sentence saying so, Run stays off', async () => {
    const page = await browser.context.newPage();
    try {
      // what an engine without SIMD answers: it validates no module that uses v128
      await page.addInitScript(() => { WebAssembly.validate = () => false; });
      await page.goto(browser.server.origin + '/coi/web/');
      assert.is(await page.textContent('#error'), 'This browser has no WebAssembly SIMD, which slimwav needs: use a current Chrome, Edge, Firefox or Safari (16.4+).');
      assert.ok(await page.isVisible('#error'));
      await page.setInputFiles('#audio-file', { name: 'clip.wav', mimeType: 'audio/wav', buffer: clip });
      await page.waitForFunction(() => /clip\.wav: /.test(document.getElementById('audio-info')!.textContent ?? ''), null, { timeout: 15_000 });
      assert.ok(await page.isDisabled('#run'));
      assert.match(await page.textContent('#error') ?? '', /^This browser has no WebAssembly SIMD/, 'the sentence stays after a file is picked');
    } finally {
      await page.close();
    }
  });

  s('a model picked from disk (config.json + model.safetensors): one card, Node\'s numbers', async () => {
    const page = plain ?? await browser.context.newPage();
    if (!plain) await page.goto(browser.server.origin + '/web/');
    try {
      const dir = join(FIXTURES, 'tiny-w2v-group');
      await page.setInputFiles('#model-files', [join(dir, 'config.json'), join(dir, 'model.safetensors')]);
      assert.ok(await page.isChecked('input[value=disk]'), 'picking files selects "from disk"');
      const shown = await runDemo(page, 1);
      assert.equal(shown.map((r) => r.label), ['model']);
      const model = await load(dir, { threads: 1 });
      const ref = (await model.extract(await decodeAudio(clip, 'clip.wav'), { layers: 'last' })).layers[0];
      model.dispose();
      assert.is(closeTo('disk model: page vs Node', new Float32Array(shown[0].last), ref, 1e-5), '');
      assert.is(await page.textContent('#speedup'), '');
    } finally {
      await page.close();
    }
  });
}

s.run();
