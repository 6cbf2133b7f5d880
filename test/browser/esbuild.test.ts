// The bundler example (examples/esbuild/): esbuild bundles an app that imports 'slimwav/browser' plus slimwav's
// worker, with no configuration beyond copying the .wasm files; the bundle then runs the tiny fixture in headless
// Chromium on 2 threads and must agree with slimwav under Node on the same input. Skipped without Chromium.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, skipReason, ROOT, type Browser } from './chromium.js';
import { load } from '../../src/model.js';
import { FIXTURES, closeTo } from '../ref/fixtures.js';

const s = suite('esbuild example (chromium)');
const skip = skipReason();
if (skip) {
  console.log(`esbuild example test skipped: ${skip}`);
} else {
  let browser: Browser;
  let outdir: string;
  s.before(async () => {
    const example = await import('../../examples/esbuild/build.js' as string) as { bundle(dir?: string): Promise<string> };
    [browser, outdir] = await Promise.all([launch(), example.bundle()]);
  });
  s.after(async () => { await browser?.close(); });

  s('the bundle imports nothing (no node: or package import left for the browser to fail on)', () => {
    const files = readdirSync(outdir).sort();
    assert.ok(files.includes('app.js') && files.includes('worker.js') && files.some((f) => f.endsWith('.wasm')), files.join(' '));
    for (const f of ['app.js', 'worker.js']) {
      const code = readFileSync(join(outdir, f), 'utf8');
      assert.not.match(code, /\bimport\s*\(\s*["'`](?!\.)|\bfrom\s*["'](?!\.)|^import\s*["'](?!\.)/m, `${f} imports a package or a node: module`);
    }
  });

  s('the bundled app runs the fixture in slimwav\'s worker on 2 threads and matches Node', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${browser.server.origin}/coi/examples/esbuild/index.html?model=/coi/test/fixtures/tiny-w2v-group/`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 30_000 });
      const r = await page.evaluate(() => (window as unknown as { __result: Promise<unknown> }).__result) as
        { error?: string; frames: number; dim: number; threads: number; kernels: string; last: number[] };
      assert.is(r.error, undefined, r.error);
      assert.is(r.threads, 2);
      assert.ok(r.kernels.endsWith('-shared'), r.kernels);
      assert.match(await page.textContent('#out') ?? '', new RegExp(`^${r.frames} frames × ${r.dim} in [\\d.]+ ms on 2 thread`));
      const model = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 });
      const pcm = new Float32Array(16000).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 220 * i) / 16000));
      const ref = (await model.extract(pcm, { layers: 'last' })).layers[0];
      model.dispose();
      assert.is(closeTo('bundle vs Node', new Float32Array(r.last), ref), '');
    } finally {
      await page.close();
    }
  });
}

s.run();
