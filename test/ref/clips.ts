// Deterministic 1.5 s WAV clips for the pruner's tests: per clip a chirp, a tone and uniform noise, so that a
// teacher's features vary between clips. Each suite keeps its own constants (and so its own data).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../../src/format/wav.js';

export interface ClipRecipe {
  count: number;
  /** file name prefix: `${prefix}${i}.wav` */
  prefix: string;
  /** noise generator: s ← (a·s + c) mod 2³², starting at i·seedStep + seed0 */
  lcg: [a: number, c: number];
  seedStep: number;
  seed0: number;
  /** amplitude, start frequency (+ per clip), sweep rate of the chirp f·(1 + sweep·t) */
  chirp: [amp: number, f0: number, df: number, sweep: number];
  /** amplitude, frequency (+ per clip) of the tone */
  tone: [amp: number, f0: number, df: number];
  noise: number;
}

export function writeClips(dir: string, r: ClipRecipe): void {
  const [a, c] = r.lcg, [ca, cf, cd, sweep] = r.chirp, [ta, tf, td] = r.tone;
  for (let f = 0; f < r.count; f++) {
    const x = new Float32Array(24000);
    let s = f * r.seedStep + r.seed0;
    for (let i = 0; i < x.length; i++) {
      s = (Math.imul(s, a) + c) >>> 0;
      const t = i / 16000;
      x[i] = ca * Math.sin(2 * Math.PI * (cf + cd * f) * t * (1 + sweep * t)) + ta * Math.sin(2 * Math.PI * (tf + td * f) * t)
        + r.noise * ((s / 4294967296) * 2 - 1);
    }
    writeFileSync(join(dir, `${r.prefix}${f}.wav`), encodeWav(x, 16000, { bitDepth: 16 }));
  }
}
