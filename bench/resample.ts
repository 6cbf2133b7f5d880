// How fast audio input is resampled to the models' 16 kHz (src/format/resample.ts, Kaiser-windowed sinc), for the
// common source rates. Reports the best of the runs and the real-time factor (processing time / audio duration).
//   npx tsx bench/resample.ts [--seconds 10]
import { Bench } from 'tinybench';
import { resample } from '../src/format/resample.js';

const i = process.argv.indexOf('--seconds');
const seconds = i > 0 ? Number(process.argv[i + 1]) : 10;
const rates = [44100, 48000, 22050, 8000];
const bench = new Bench({ iterations: 10, warmupIterations: 2, time: 0, warmupTime: 0 });
for (const rate of rates) {
  const n = Math.round(seconds * rate);
  const x = new Float32Array(n);
  for (let t = 0; t < n; t++) x[t] = 0.5 * Math.sin((2 * Math.PI * 440 * t) / rate) + 0.1 * Math.sin(t * 0.37);
  bench.add(`${rate} Hz → 16 kHz`, () => {
    if (resample(x, rate, 16000).length !== seconds * 16000) throw new Error('wrong output length');
  });
}
await bench.run();
console.log(`resampling ${seconds} s of audio to 16 kHz (one thread, best of 10)`);
console.log('| from | ms | RTF |\n| --- | ---: | ---: |');
for (const t of bench.tasks) {
  const r = t.result as unknown as { latency?: { min: number }; error?: Error };
  if (!r.latency) throw r.error ?? new Error(`${t.name} did not run`);
  const ms = r.latency.min;
  console.log(`| ${t.name.split(' ')[0]} Hz | ${ms.toFixed(1)} | ${(ms / 1000 / seconds).toFixed(4)} |`);
}
