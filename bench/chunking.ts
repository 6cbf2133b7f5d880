// Long audio: how far chunked features are from full-context ones, per hidden state, against chunk and context.
// Not a timing. The base shape (random weights, as `slimwav demo`) cut to --layers encoder layers, on the bundled
// clip repeated to --seconds; prints one row per (chunk, context, hidden state): max|chunked − full|, that over
// max|full|, and the cosine of chunked and full frames (mean and worst over frames).
//   npx tsx bench/chunking.ts [--seconds 60] [--layers 4] [--chunks 10,20] [--contexts 0.25,0.5,1,2] [--threads 1] [--markdown]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildModel } from '../src/model.js';
import { parseConfig } from '../src/arch/config.js';
import { randomTensors } from '../src/arch/random-model.js';
import { readAudioFile } from '../src/format/audio.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' }, layers: { type: 'string', default: '4' },
    chunks: { type: 'string', default: '10,20' }, contexts: { type: 'string', default: '0.25,0.5,1,2' },
    threads: { type: 'string', default: '1' }, markdown: { type: 'boolean', default: false },
  },
});
const nums = (s: string) => s.split(',').map(Number);
const dir = new URL('../models/', import.meta.url).pathname;
const cfgJson = JSON.parse(readFileSync(dir + 'wav2vec2-base-random/config.json', 'utf8')) as Record<string, unknown>;
const seed = cfgJson.slimwav_init_seed as number;
cfgJson.num_hidden_layers = Number(values.layers);
const cfg = parseConfig(cfgJson, 'base shape');
const model = await buildModel(cfgJson, randomTensors(cfg, seed), 'base shape', [], { threads: Number(values.threads) });
const clip = await readAudioFile(dir + 'speech.wav');
const n = Math.round(Number(values.seconds) * 16000);
const x = new Float32Array(n);
for (let i = 0; i < n; i += clip.length) x.set(clip.subarray(0, Math.min(clip.length, n - i)), i);

const full = await model.extract(x, { layers: 'all', chunk: 'off' });
const D = full.dim, T = full.frames;
console.log(`# base shape, ${cfg.numLayers} layers, random weights (seed ${seed}); bundled clip repeated to ${values.seconds} s (${T} frames)`);
console.log(values.markdown ? '| chunk s | context s | hidden | max abs | relative | cosine mean | cosine min |\n| --- | --- | --- | --- | --- | --- | --- |'
  : 'chunk\tcontext\thidden\tmax_abs\trelative\tcos_mean\tcos_min');
for (const chunk of nums(values.chunks!)) {
  for (const context of nums(values.contexts!)) {
    const c = await model.extract(x, { layers: 'all', chunk, context });
    if (c.frames !== T) throw new Error(`chunked gave ${c.frames} frames, full ${T}`);
    full.layers.forEach((f, h) => {
      const g = c.layers[h];
      let diff = 0, scale = 0, cosSum = 0, cosMin = 1;
      for (let t = 0; t < T; t++) {
        let ab = 0, aa = 0, bb = 0;
        for (let d = 0; d < D; d++) {
          const a = f[t * D + d], b = g[t * D + d];
          diff = Math.max(diff, Math.abs(a - b));
          scale = Math.max(scale, Math.abs(a));
          ab += a * b; aa += a * a; bb += b * b;
        }
        const cos = ab / Math.sqrt(aa * bb);
        cosSum += cos;
        cosMin = Math.min(cosMin, cos);
      }
      const row = [chunk, context, h, diff.toExponential(2), (diff / scale).toExponential(2), (cosSum / T).toFixed(6), cosMin.toFixed(6)];
      console.log(values.markdown ? `| ${row.join(' | ')} |` : row.join('\t'));
    });
  }
}
model.dispose();
