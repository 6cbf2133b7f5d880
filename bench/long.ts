// Long audio in linear time: real-time factor of --minutes of audio (chunked, the default windows) against 10 s in
// one pass, on the dense base shape (random weights, as `slimwav demo`), and the peak RSS. A timing: run it on a
// quiet machine.
//   npx tsx bench/long.ts [--minutes 60] [--threads 2] [--chunk 20] [--context 1.5] [--layers last|all]
//   npx tsx bench/long.ts --steady [--windows 20:1.5,15:1.5,30:1.5,10:1.5] [--rounds 5] [--threads 2]
// --steady: the long-run RTF without the machine's drift. The cost per window does not grow with the input's length,
// so the RTF of an hour is that of one window in its middle: each window (chunk + 2 × context seconds) runs as one
// pass, its time divided by the chunk's seconds, interleaved with one pass over 10 s, fastest of --rounds.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildModel } from '../src/model.js';
import { parseConfig } from '../src/arch/config.js';
import { randomTensors } from '../src/arch/random-model.js';
import { readAudioFile } from '../src/format/audio.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' }, threads: { type: 'string', default: '2' },
    chunk: { type: 'string' }, context: { type: 'string' }, layers: { type: 'string', default: 'last' },
    steady: { type: 'boolean' }, windows: { type: 'string', default: '20:1.5,15:1.5,30:1.5,10:1.5' }, rounds: { type: 'string', default: '5' },
  },
});
const dir = new URL('../models/', import.meta.url).pathname;
const cfgJson = JSON.parse(readFileSync(dir + 'wav2vec2-base-random/config.json', 'utf8')) as Record<string, unknown>;
const cfg = parseConfig(cfgJson, 'base shape');
const model = await buildModel(cfgJson, randomTensors(cfg, cfgJson.slimwav_init_seed as number), 'base shape', [], { threads: Number(values.threads) });
const clip = await readAudioFile(dir + 'speech.wav');
const repeat = (seconds: number) => {
  const x = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < x.length; i += clip.length) x.set(clip.subarray(0, Math.min(clip.length, x.length - i)), i);
  return x;
};
const layers = values.layers === 'all' ? 'all' as const : 'last' as const;
if (values.steady) {
  const cases = [{ c: 10, x: 0 }, ...values.windows!.split(',').map((w) => { const [c, x] = w.split(':').map(Number); return { c, x }; })]
    .map((k) => ({ ...k, pcm: repeat(k.c + 2 * k.x), best: Infinity }));
  for (const k of cases) await model.extract(k.pcm, { layers, chunk: 'off' });
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const k of cases) {
      const t0 = performance.now();
      await model.extract(k.pcm, { layers, chunk: 'off' });
      k.best = Math.min(k.best, performance.now() - t0);
    }
  }
  const rtf10 = cases[0].best / 1000 / 10;
  console.log(`base shape, ${model.threads} thread(s), ${model.info.kernels}; one pass over 10 s: RTF ${rtf10.toFixed(3)}`);
  for (const k of cases.slice(1)) {
    const rtf = k.best / 1000 / k.c;
    console.log(`chunk ${k.c} s + ${k.x} s each side: ${(k.c + 2 * k.x).toFixed(2)} s window in ${k.best.toFixed(0)} ms → RTF ${rtf.toFixed(3)} per kept second, ${(rtf / rtf10).toFixed(3)}× the 10 s RTF`);
  }
  model.dispose();
  process.exit(0);
}
const opts = {
  layers,
  ...(values.chunk !== undefined ? { chunk: values.chunk === 'off' ? 'off' as const : Number(values.chunk) } : {}),
  ...(values.context !== undefined ? { context: Number(values.context) } : {}),
};
let peak = 0;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 200);
const time = async (x: Float32Array, o: object) => {
  const t0 = performance.now();
  await model.extract(x, o);
  return (performance.now() - t0) / 1000;
};
const short = repeat(10);
await time(short, { layers }); // warm-up: plans the arena
const t10 = Math.min(await time(short, { layers }), await time(short, { layers }));
const seconds = Number(values.minutes) * 60;
const long = repeat(seconds);
const tl = await time(long, opts);
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
const rtf10 = t10 / 10, rtfL = tl / seconds;
console.log(`base shape, ${model.threads} thread(s), ${model.info.kernels}; layers ${layers}; options ${JSON.stringify(opts)}`);
console.log(`10 s one pass: ${t10.toFixed(2)} s, RTF ${rtf10.toFixed(3)}`);
console.log(`${values.minutes} min: ${tl.toFixed(1)} s, RTF ${rtfL.toFixed(3)} (${(rtfL / rtf10).toFixed(2)}× the 10 s RTF); peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
model.dispose();
