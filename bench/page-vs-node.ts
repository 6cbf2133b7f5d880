// The demo page's timing against Node's for the same models, build choice and threads: the wav2vec2-base shape and
// its 28% layout, built in the page from the same seed as here, the bundled 10 s clip, best of N runs each.
//   npx tsx bench/page-vs-node.ts [threads=2] [runs=5]
// Needs Debian's chromium (/usr/bin/chromium) and a build (npm run build). Prints one JSON line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, ROOT } from '../test/browser/chromium.js';
import { buildModel } from '../src/model.js';
import { parseSafetensors } from '../src/format/safetensors.js';
import { readAudioFile } from '../src/format/audio.js';

const threads = Number(process.argv[2] ?? 2), runs = Number(process.argv[3] ?? 5);
const b = await launch();
let page: Record<string, { ms: number; kernels: string; threads: number }> = {};
try {
  const p = await b.context.newPage();
  await p.goto(b.server.origin + '/coi/web/');
  await p.check('input[name=model][value=base]');
  await p.fill('#threads', String(threads));
  await p.fill('#runs', String(runs));
  await p.click('#sample');
  await p.waitForFunction(() => !(document.getElementById('run') as HTMLButtonElement).disabled, null, { timeout: 60_000 });
  await p.click('#run');
  await p.waitForFunction(() => /^done/.test(document.getElementById('status')!.textContent ?? '') || !document.getElementById('error')!.hidden, null, { timeout: 600_000 });
  const err = await p.textContent('#error');
  if (err) throw new Error(`page: ${err}`);
  page = await p.evaluate(() => Object.fromEntries((window as unknown as { slimwavDemo: { results: { label: string; ms: number; kernels: string; threads: number }[] } })
    .slimwavDemo.results.map((r) => [r.label, { ms: r.ms, kernels: r.kernels, threads: r.threads }])));
} finally {
  await b.close();
}
const web = await import('../web/models.js' as string) as { buildPair(c: unknown): Record<string, { config: Record<string, unknown>; weights: Uint8Array }> };
const pair = web.buildPair(JSON.parse(readFileSync(join(ROOT, 'models', 'wav2vec2-base-random', 'config.json'), 'utf8')));
const pcm = await readAudioFile(join(ROOT, 'models', 'speech.wav'));
const out: Record<string, unknown> = { threads, runs };
for (const label of Object.keys(page)) {
  const m = await buildModel(pair[label].config, parseSafetensors(pair[label].weights, label).tensors, label, [], { threads, simd: page[label].kernels.startsWith('relaxed') ? 'relaxed' : 'plain' });
  await m.extract(pcm, { layers: 'last' });
  let best = Infinity;
  for (let i = 0; i < runs; i++) { const t = performance.now(); await m.extract(pcm, { layers: 'last' }); best = Math.min(best, performance.now() - t); }
  out[label] = { page_ms: +page[label].ms.toFixed(1), node_ms: +best.toFixed(1), page_over_node: +(page[label].ms / best).toFixed(3), kernels: page[label].kernels, page_threads: page[label].threads };
  m.dispose();
}
console.log(JSON.stringify(out));
