import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';
import * as audio from '../../src/format/audio.js';
import { decodeAudio, readAudioFile } from '../../src/format/audio.js';
import { encodeWav } from '../../src/format/wav.js';
import { throwsCode, rejectsCode } from '../ref/assert.js';

const FILE = 'clips/speech.wav';

function sine(freq: number, rate: number, n: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

const bytes = (...v: (number | string)[]) =>
  new Uint8Array(v.flatMap((x) => (typeof x === 'string' ? [...x].map((c) => c.charCodeAt(0)) : [x])));

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  assert.type(audio.decodeAudio, 'function');
  assert.type(audio.readAudioFile, 'function');
});
exportsSuite.run();

// ---

const dec = suite('decodeAudio');

dec('16 kHz mono float WAV comes back unchanged', async () => {
  const x = sine(440, 16000, 1600);
  assert.equal([...await decodeAudio(encodeWav(x, 16000, { bitDepth: 32, float: true }), FILE)], [...x]);
});

dec('44.1 kHz stereo 16-bit → mono 16 kHz, length ceil(n·16000/44100), tone preserved', async () => {
  const n = 22050;
  const left = sine(1000, 44100, n, 0.6);
  const inter = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) { inter[2 * i] = left[i]; inter[2 * i + 1] = left[i] * (1 / 3); } // mono = 0.4 · sin
  const y = await decodeAudio(encodeWav(inter, 44100, { bitDepth: 16, channels: 2 }), FILE);
  assert.is(y.length, Math.ceil((n * 16000) / 44100));
  let err = 0;
  for (let j = 200; j < y.length - 200; j++) err = Math.max(err, Math.abs(y[j] - 0.4 * Math.sin((2 * Math.PI * 1000 * j) / 16000)));
  assert.ok(err < 2e-3, `max error ${err}`); // 16-bit quantisation dominates
});

dec('another target rate', async () => {
  assert.is((await decodeAudio(encodeWav(new Float32Array(800), 8000, { bitDepth: 16 }), FILE, 24000)).length, 2400);
  await rejectsCode(decodeAudio(encodeWav(new Float32Array(8), 8000, { bitDepth: 16 }), FILE, 0), 'E_ARGS', 'target rate');
});

dec('other containers are recognised and refused with a hint to convert (E_AUDIO)', async () => {
  const cases: [Uint8Array, string][] = [
    [bytes('OggS', 0, 2, ...new Array(24).fill(0), 8, 'OggOther'), 'Ogg holding neither Vorbis nor Opus'],
    [bytes(0xff, 0xf1, 0x50, 0x80), 'AAC'],
    [bytes(0, 0, 0, 0x20, 'ftypM4A '), 'MP4'],
    [bytes('FORM', 0, 0, 0, 0, 'AIFF'), 'AIFF'],
    [bytes(0x1a, 0x45, 0xdf, 0xa3, 1), 'WebM'],
  ];
  for (const [b, name] of cases) await rejectsCode(decodeAudio(b, FILE), 'E_AUDIO', FILE, name, 'not supported; convert to WAV, FLAC, MP3 or Ogg');
});

dec('unrecognised bytes and empty files are E_AUDIO; broken WAVs are E_FORMAT', async () => {
  await rejectsCode(decodeAudio(new Uint8Array(0), FILE), 'E_AUDIO', FILE, 'empty');
  await rejectsCode(decodeAudio(new TextEncoder().encode('hello world, not audio'), FILE), 'E_AUDIO', FILE, 'not a recognised audio file');
  const w = encodeWav(new Float32Array(100), 16000, { bitDepth: 16 });
  await rejectsCode(decodeAudio(w.subarray(0, 100), FILE), 'E_FORMAT', FILE, 'truncated');
});

dec('refuses 0 samples', async () => {
  await rejectsCode(decodeAudio(encodeWav(new Float32Array(0), 16000, { bitDepth: 16 }), FILE), 'E_AUDIO', FILE, '0 samples');
  await rejectsCode(decodeAudio(encodeWav(new Float32Array(0), 44100, { bitDepth: 16 }), FILE), 'E_AUDIO', FILE, '0 samples');
});

dec('refuses NaN and ±Inf, naming the first bad sample', async () => {
  const x = new Float32Array(10);
  x[3] = NaN;
  x[7] = Infinity;
  await rejectsCode(decodeAudio(encodeWav(x, 16000, { bitDepth: 32, float: true }), FILE), 'E_AUDIO', FILE, 'sample 3', 'NaN');
  const y = new Float32Array(10);
  y[5] = -Infinity;
  await rejectsCode(decodeAudio(encodeWav(y, 48000, { bitDepth: 64, float: true }), FILE), 'E_AUDIO', FILE, 'sample 5', '-Infinity');
  const st = new Float32Array(8);
  st[5] = Infinity; // frame 2, right channel
  await rejectsCode(decodeAudio(encodeWav(st, 16000, { bitDepth: 32, float: true, channels: 2 }), FILE), 'E_AUDIO', 'sample 2');
});

dec('absurd sample rates are refused before resampling', async () => {
  const w = encodeWav(new Float32Array(1000), 16000, { bitDepth: 16 });
  new DataView(w.buffer).setUint32(24, 1, true);
  await rejectsCode(decodeAudio(w, FILE), 'E_AUDIO', FILE, '1 Hz');
  new DataView(w.buffer).setUint32(24, 4_000_000_000, true);
  await rejectsCode(decodeAudio(w, FILE), 'E_AUDIO', FILE, '4000000000 Hz');
});

dec('mutated WAVs: finite audio or SlimwavError, never anything else (property)', async () => {
  const base = encodeWav(sine(300, 22050, 64), 22050, { bitDepth: 16, channels: 2 });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(base.length), async (sets, cut) => {
      const b = base.slice(0, Math.max(cut, 1));
      for (const [at, v] of sets) if (at < b.length) b[at] = v;
      try {
        const y = await decodeAudio(b, 'fz.wav');
        assert.ok(y.length > 0 && y.every(Number.isFinite));
      } catch (e) {
        if (!(e instanceof SlimwavError)) throw e;
        assert.ok(e.message.startsWith('fz.wav: '), e.message);
      }
    }),
    { numRuns: 500 },
  );
});

dec.run();

// ---

const files = suite('readAudioFile');
const dir = mkdtempSync(join(tmpdir(), 'slimwav-audio-'));
files.after(() => rmSync(dir, { recursive: true, force: true }));

files('reads, decodes and resamples a file', async () => {
  const path = join(dir, 'a.wav');
  writeFileSync(path, encodeWav(sine(500, 48000, 4800), 48000, { bitDepth: 24 }));
  const y = await readAudioFile(path);
  assert.is(y.length, 1600);
  assert.is((await readAudioFile(path, 48000)).length, 4800);
});

files('missing file and directory are E_IO naming the path; bad content names the path', async () => {
  const missing = join(dir, 'missing.wav');
  await rejectsCode(readAudioFile(missing), 'E_IO', missing);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  await rejectsCode(readAudioFile(sub), 'E_IO', sub, 'directory');
  const flac = join(dir, 'x.flac');
  writeFileSync(flac, bytes('fLaC', 0, 0, 0, 34));
  await rejectsCode(readAudioFile(flac), 'E_AUDIO', flac, 'FLAC', 'too short');
});

files.run();
