// How fast audio input is resampled to the models' 16 kHz (src/format/resample.ts, Kaiser-windowed sinc), for the
// common source rates. Reports the best of the runs and the real-time factor (processing time / audio duration).
//   npx tsx bench/resample.ts [--seconds 10]
import { best } from '../src/cli/bench.js';
import { resample } from '../src/format/resample.js';

const i = process.argv.indexOf('--seconds');
const seconds = i > 0 ? Number(process.argv[i + 1]) : 10;
console.log(`resampling ${seconds} s of audio to 16 kHz (one thread, best of 10)`);
console.log('| from | ms | RTF |\n| --- | ---: | ---: |');
for (const rate of [44100, 48000, 22050, 8000]) {
  const n = Math.round(seconds * rate);
  const x = new Float32Array(n);
  for (let t = 0; t < n; t++) x[t] = 0.5 * Math.sin((2 * Math.PI * 440 * t) / rate) + 0.1 * Math.sin(t * 0.37);
  const ms = await best(() => {
    if (resample(x, rate, 16000).length !== seconds * 16000) throw new Error('wrong output length');
  }, 10, 2);
  console.log(`| ${rate} Hz | ${ms.toFixed(1)} | ${(ms / 1000 / seconds).toFixed(4)} |`);
}
