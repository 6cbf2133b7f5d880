// slimwav/browser in a real browser (Debian's /usr/bin/chromium, headless, driven by playwright-core; no browser is
// ever downloaded). The tiny fixture is loaded with loadFromUrl and compared with the torchaudio reference:
//   (a) a Web Worker of a cross-origin isolated page, 2 threads (nested Blob-URL workers over shared memory)
//   (b) a page that is not cross-origin isolated: one thread and the one-line warning that says why
//   (c) the main thread of an isolated page: one thread and the warning to use a Worker
// Set SLIMWAV_BROWSER_DEBUG=1 to print each case's result.
// Skipped, with the reason printed, where /usr/bin/chromium is absent (SLIMWAV_CHROMIUM=/nowhere shows it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { launch, skipReason, type Browser } from './chromium.js';
import { NOT_ISOLATED_WARNING, MAIN_THREAD_WARNING } from '../../src/runtime/threads.js';

interface CaseResult {
  error?: string; layers?: number; threads?: number; kernels?: string; isolated?: boolean; worker?: boolean;
  worst?: number; failures?: string[]; warnings: string[];
}

const s = suite('browser (chromium)');

const skip = skipReason();
if (skip) {
  console.log(`browser test skipped: ${skip}`);
} else {
  let browser: Browser;
  s.before(async () => { browser = await launch(); });
  s.after(async () => { await browser?.close(); });

  async function run(path: string): Promise<{ result: CaseResult; console: string[] }> {
    const page = await browser.context.newPage();
    const lines: string[] = [];
    page.on('console', (m) => { if (m.type() === 'warning') lines.push(m.text()); });
    try {
      await page.goto(browser.server.origin + path);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 30_000 });
      const result = await page.evaluate(() => (window as unknown as { __result: Promise<unknown> }).__result, null) as CaseResult;
      if (process.env.SLIMWAV_BROWSER_DEBUG) console.log(path, JSON.stringify(result), lines);
      return { result, console: lines };
    } finally {
      await page.close();
    }
  }

  function matchesReference(r: CaseResult): void {
    assert.is(r.error, undefined, r.error);
    assert.equal(r.failures, [], (r.failures ?? []).join('\n'));
    assert.ok((r.layers ?? 0) > 1, 'every hidden state came back');
  }

  s('(a) cross-origin isolated page, Web Worker, 2 threads: matches the reference', async () => {
    const { result } = await run('/coi/test/browser/page.html?mode=worker&threads=2');
    matchesReference(result);
    assert.is(result.isolated, true);
    assert.is(result.worker, true);
    assert.is(result.threads, 2);
    assert.ok(/-shared$/.test(result.kernels ?? ''), `shared-memory kernels, found ${result.kernels}`);
    assert.equal(result.warnings, []);
  });

  s('(a′) the same with plain SIMD128 kernels (what Safari runs): matches the reference', async () => {
    const { result } = await run('/coi/test/browser/page.html?mode=worker&threads=2&simd=plain');
    matchesReference(result);
    assert.is(result.threads, 2);
    assert.is(result.kernels, 'release-shared');
  });

  s('(b) page that is not cross-origin isolated: one thread, one warning line that says why, same result', async () => {
    const { result, console: lines } = await run('/test/browser/page.html?mode=page&threads=2');
    matchesReference(result);
    assert.is(result.isolated, false);
    assert.is(result.threads, 1);
    assert.equal(result.warnings, [NOT_ISOLATED_WARNING]);
    assert.equal(lines, [NOT_ISOLATED_WARNING]);
  });

  s('(c) main thread of an isolated page: one thread, the warning says to use a Web Worker', async () => {
    const { result } = await run('/coi/test/browser/page.html?mode=page&threads=2');
    matchesReference(result);
    assert.is(result.isolated, true);
    assert.is(result.threads, 1);
    assert.equal(result.warnings, [MAIN_THREAD_WARNING]);
  });
}

s.run();
