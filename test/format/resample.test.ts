import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SlimwavError } from '../../src/errors.js';
import * as rs from '../../src/format/resample.js';
import { resample, resampledLength } from '../../src/format/resample.js';

function sine(freq: number, rate: number, n: number, phase = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return x;
}

/** Max |y[j] − sin(2π f j / rate)| over j in [skip, len − skip). */
function maxErr(y: Float32Array, freq: number, rate: number, skip: number, phase = 0): number {
  let e = 0;
  for (let j = skip; j < y.length - skip; j++) e = Math.max(e, Math.abs(y[j] - Math.sin((2 * Math.PI * freq * j) / rate + phase)));
  return e;
}

function rms(x: Float32Array, skip = 0): number {
  let s = 0;
  for (let i = skip; i < x.length - skip; i++) s += x[i] * x[i];
  return Math.sqrt(s / (x.length - 2 * skip));
}

/** What a naive resampler does; used to prove the alias test can tell the difference. */
function linearInterp(x: Float32Array, from: number, to: number): Float32Array {
  const y = new Float32Array(resampledLength(x.length, from, to));
  for (let j = 0; j < y.length; j++) {
    const p = (j * from) / to, i = Math.floor(p), f = p - i;
    y[j] = (1 - f) * x[i] + f * (x[Math.min(i + 1, x.length - 1)]);
  }
  return y;
}

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  assert.type(rs.resample, 'function');
  assert.type(rs.resampledLength, 'function');
});
exportsSuite.run();

// ---

const acc = suite('resample accuracy');

acc('a 1 kHz sine matches the analytic sine at 16 kHz (max error < 1e-3 away from the edges)', () => {
  for (const from of [44100, 22050, 48000, 8000, 11025, 32000, 16001, 44100.5]) {
    const y = resample(sine(1000, from, Math.round(from * 0.5)), from, 16000);
    const e = maxErr(y, 1000, 16000, 200);
    assert.ok(e < 1e-3, `${from} → 16000: max error ${e}`);
  }
});

acc('upsampling and arbitrary ratios keep a 3 kHz tone (both code paths)', () => {
  for (const [from, to] of [[16000, 44100], [16000, 48000], [8000, 44100], [44100, 16001], [16000, 22050.25], [12345, 16000]]) {
    const y = resample(sine(3000, from, Math.round(from * 0.3), 0.3), from, to);
    const e = maxErr(y, 3000, to, 300, 0.3);
    assert.ok(e < 1e-3, `${from} → ${to}: max error ${e}`);
  }
});

acc('a tone above the new Nyquist is attenuated ≥ 60 dB (linear interpolation is not)', () => {
  for (const [from, freq] of [[44100, 10000], [48000, 8800], [22050, 9000], [44100, 12000]]) {
    const x = sine(freq, from, from);
    const ratioDb = 20 * Math.log10(rms(resample(x, from, 16000), 100) / rms(x));
    assert.ok(ratioDb <= -60, `${freq} Hz from ${from}: ${ratioDb.toFixed(1)} dB`);
  }
  const x = sine(10000, 44100, 44100);
  const naiveDb = 20 * Math.log10(rms(linearInterp(x, 44100, 16000), 100) / rms(x));
  assert.ok(naiveDb > -30, `the test must be able to fail: linear interpolation gives ${naiveDb.toFixed(1)} dB`);
});

acc('a tone inside the passband keeps its level (0.85 of the new Nyquist, within 0.01 dB)', () => {
  const x = sine(6800, 44100, 44100);
  const db = 20 * Math.log10(rms(resample(x, 44100, 16000), 200) / rms(x, 200));
  assert.ok(Math.abs(db) < 0.01, `${db} dB`);
});

acc('DC is preserved exactly away from the edges, for every ratio', () => {
  for (const [from, to] of [[44100, 16000], [8000, 16000], [48000, 16000], [44100, 16001], [22050.5, 16000], [16000, 8000]]) {
    const y = resample(new Float32Array(Math.max(4000, from)).fill(0.75), from, to);
    for (let j = 300; j < y.length - 300; j++) {
      if (Math.abs(y[j] - 0.75) > 1e-5) assert.unreachable(`${from} → ${to}: y[${j}] = ${y[j]}`);
    }
  }
});

acc.run();

// ---

const shape = suite('resample length and arguments');

shape('output length is ceil(n · to / from)', () => {
  assert.is(resample(new Float32Array(441), 44100, 16000).length, 160);
  assert.is(resample(new Float32Array(442), 44100, 16000).length, 161);
  assert.is(resample(new Float32Array(1), 44100, 16000).length, 1);
  assert.is(resample(new Float32Array(0), 44100, 16000).length, 0);
  assert.is(resample(new Float32Array(3), 48000, 16000).length, 1);
  assert.is(resample(new Float32Array(4), 48000, 16000).length, 2);
  assert.is(resample(new Float32Array(5), 8000, 16000).length, 10);
  fc.assert(
    fc.property(fc.nat(5000), fc.integer({ min: 1, max: 200000 }), fc.integer({ min: 1, max: 200000 }), (n, from, to) => {
      const expect = Number((BigInt(n) * BigInt(to) + BigInt(from) - 1n) / BigInt(from));
      assert.is(resampledLength(n, from, to), expect);
    }),
    { numRuns: 500 },
  );
});

shape('equal rates return a copy', () => {
  const x = new Float32Array([1, 2, 3]);
  const y = resample(x, 16000, 16000);
  assert.equal([...y], [1, 2, 3]);
  assert.is.not(y, x);
  y[0] = 9;
  assert.is(x[0], 1);
});

shape('bad rates are E_ARGS; absurd output lengths are refused before allocating', () => {
  for (const [a, b] of [[0, 16000], [-1, 16000], [NaN, 16000], [16000, Infinity], [16000, 0]]) {
    try {
      resample(new Float32Array(4), a, b);
      assert.unreachable(`${a} → ${b}`);
    } catch (e) {
      assert.instance(e, SlimwavError);
      assert.is((e as SlimwavError).code, 'E_ARGS');
    }
  }
  try {
    resample(new Float32Array(1_000_000), 1, 16000);
    assert.unreachable('16e9 samples');
  } catch (e) {
    assert.instance(e, SlimwavError);
    assert.ok((e as Error).message.includes('limit'));
  }
});

shape('tiny inputs and extreme ratios finish and stay finite', () => {
  for (const [from, to] of [[4_000_000_000, 16000], [1, 16000], [16000, 1], [7, 3]]) {
    const y = resample(new Float32Array([0.5, -0.5, 1, 0, 0.25]), from, to);
    assert.ok(y.every(Number.isFinite), `${from} → ${to}`);
  }
});

shape('10 s of 44.1 kHz resample to exactly 10 s at 16 kHz (its speed is in bench/resample.ts)', () => {
  const x = sine(440, 44100, 441000);
  const y = resample(x, 44100, 16000);
  assert.is(y.length, 160000);
  // the tone survives to the end: the output's last 0.1 s has the input's RMS (no lost or zeroed tail)
  const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
  assert.ok(Math.abs(rms(y.subarray(158000, 159600)) - rms(x.subarray(435600, 440000))) < 0.01 * rms(x));
});

shape.run();
