/**
 * Soak: one long-lived model serving mixed-length extracts from concurrent callers; RSS must stay flat after warm-up.
 *   npm run soak                                   1,000 extracts from 16 callers (documented figures)
 *   npm run soak -- --extracts 200 --json          the short version npm test runs (test/reliability/soak.test.ts)
 * Options: --extracts N, --callers C (16), --threads T (1), --model <folder> (the tiny fixture), --seed S.
 * Every result is checked against the same input run alone before the soak (bit for bit). RSS is read after a
 * forced GC at the end of warm-up (the first 20% of extracts, at least 100 or half) and at the end; more than 10%
 * growth fails (exit 1).
 * Run with node --expose-gc (npm run soak does, through NODE_OPTIONS below) so that the readings are not noise.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { load } from '../src/index.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

if (typeof (globalThis as { gc?: () => void }).gc !== 'function') {
  // re-run with the GC exposed (npm run soak → tsx, which cannot take the flag itself)
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const root = join(fileURLToPath(import.meta.url), '..', '..');
const extracts = Number(arg('extracts', '1000'));
const callers = Number(arg('callers', '16'));
const threads = Number(arg('threads', '1'));
const modelPath = arg('model', join(root, 'test', 'fixtures', 'tiny-w2v-group'));
let seed = Number(arg('seed', '1'));
const json = process.argv.includes('--json');
const gc = (globalThis as unknown as { gc: () => void }).gc;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

// 8 input lengths from 0.3 s to 4 s; their solo results are the reference for every concurrent call
const lengths = [4800, 8000, 12345, 16000, 24000, 33333, 48000, 64000];
const inputs = lengths.map((n, k) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i * (0.01 + 0.003 * k)) + 0.1 * Math.sin(i * 0.37)));
const model = await load(modelPath, { threads });
const reference = [];
for (const x of inputs) reference.push(await model.extract(x, { layers: 'all' }));

let done = 0, mismatches = 0;
const warmAt = Math.max(Math.ceil(extracts * 0.2), Math.min(100, Math.floor(extracts / 2)));
const t0 = performance.now();
/** `callers` concurrent callers until `until` extracts are done in all */
async function phase(until: number): Promise<void> {
  const caller = async () => {
    while (done < until) {
      const k = Math.floor(rnd() * inputs.length);
      done++;
      const f = await model.extract(inputs[k], { layers: 'all' });
      const ref = reference[k];
      if (f.frames !== ref.frames || f.layers.some((l, i) => !Buffer.from(l.buffer).equals(Buffer.from(ref.layers[i].buffer)))) mismatches++;
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
}
/** RSS once every caller is idle, after two collections with a pause between (lets the allocator settle) */
async function quietRss(): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
  return process.memoryUsage().rss;
}
await phase(warmAt);
const warmRss = await quietRss();
await phase(extracts);
const endRss = await quietRss();
model.dispose();
const growth = endRss / warmRss - 1;
const result = {
  extracts, callers, threads, seconds: (performance.now() - t0) / 1000, mismatches,
  warm_rss_mb: +(warmRss / 2 ** 20).toFixed(1), end_rss_mb: +(endRss / 2 ** 20).toFixed(1), growth_percent: +(100 * growth).toFixed(2),
};
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else process.stderr.write(`soak: ${extracts} extracts from ${callers} callers in ${result.seconds.toFixed(1)} s; RSS ${result.warm_rss_mb} MB after warm-up → ` +
  `${result.end_rss_mb} MB at the end (${result.growth_percent}%); ${mismatches} results differing from the solo run\n`);
process.exitCode = mismatches === 0 && growth <= 0.1 ? 0 : 1;
