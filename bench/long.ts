// Long audio in linear time: real-time factor of --minutes of audio (chunked, the default windows) against 10 s in
// one pass, on the dense base shape (random weights, as `slimwav demo`), and the peak RSS. A timing: run it on a
// quiet machine.
//   npx tsx bench/long.ts [--minutes 60] [--threads 2] [--chunk 20] [--context 1.5] [--layers last|all]
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
