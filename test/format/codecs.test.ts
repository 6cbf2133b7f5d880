// FLAC, MP3, Ogg Vorbis and Ogg Opus through decodeAudio, against the WAV each fixture was made from
// (scripts/make_audio_fixtures.sh). FLAC is lossless and must give the WAV's samples exactly; the lossy codecs are
// compared after aligning by the lag (within ±20 samples) of best correlation, with bounds a little below what was
// measured on these fixtures (measured: MP3 64 kbit/s SNR 24.2 dB, correlation 0.9993; Vorbis q4 21.5 dB, 0.9964;
// Opus 32 kbit/s 14.2 dB, 0.981 at lag −1). Damaged files of each format are refused with one E_AUDIO line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAudio } from '../../src/format/audio.js';
import { decodeCompressed, MAX_DECODED } from '../../src/format/codecs.js';
import { rejectsCode } from '../ref/assert.js';
import { tmpdir } from 'node:os';
import { slimwav, fails } from '../ref/cli.js';
import { FIXTURES } from '../ref/fixtures.js';

const DIR = join(FIXTURES, 'audio');
const file = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const decode = (f: string, rate?: number) => decodeAudio(file(f), f, rate);

/** Correlation and SNR (dB) of x against ref at the best lag in ±maxLag. */
function compare(x: Float32Array, ref: Float32Array, maxLag = 20): { lag: number; corr: number; snr: number } {
  let best = { lag: 0, corr: -2, snr: 0 };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let xy = 0, xx = 0, yy = 0, ee = 0;
    for (let i = 0; i < ref.length; i++) {
      const j = i + lag;
      const v = j >= 0 && j < x.length ? x[j] : 0;
      xy += v * ref[i]; xx += v * v; yy += ref[i] * ref[i]; ee += (v - ref[i]) ** 2;
    }
    const corr = xy / Math.sqrt(xx * yy);
    if (corr > best.corr) best = { lag, corr, snr: 10 * Math.log10(yy / ee) };
  }
  return best;
}

// ---

const lossless = suite('FLAC (lossless)');

lossless('mono 16 kHz FLAC decodes to exactly the WAV samples', async () => {
  const wav = await decode('speech16k.wav');
  const flac = await decode('speech16k.flac');
  assert.is(flac.length, wav.length);
  assert.equal(flac, wav);
});

lossless('stereo 22.05 kHz FLAC (right channel silent) averages to exactly half the WAV, then resamples like it', async () => {
  const wav = await decode('speech22k.wav', 22050);
  const flac = await decode('speech22k-stereo.flac', 22050);
  assert.is(flac.length, 42158);
  assert.equal(flac, wav.map((v) => v / 2));
  const wav16 = await decode('speech22k.wav');
  const flac16 = await decode('speech22k-stereo.flac');
  let err = 0;
  for (let i = 0; i < wav16.length; i++) err = Math.max(err, Math.abs(flac16[i] - wav16[i] / 2));
  assert.is(flac16.length, wav16.length);
  assert.ok(err < 1e-6, `resampled max error ${err}`);
});

lossless('6-channel FLAC (channels 2..6 silent) averages to the first channel / 6', async () => {
  const wav = (await decode('speech16k.wav')).subarray(0, 4000);
  const flac = await decode('speech16k-6ch.flac');
  assert.is(flac.length, 4000);
  let err = 0;
  for (let i = 0; i < 4000; i++) err = Math.max(err, Math.abs(flac[i] - wav[i] / 6));
  assert.ok(err <= 3e-8, `max error ${err}`); // f64 mean, one f32 rounding
});

lossless.run();

// ---

const lossy = suite('lossy codecs (aligned, against the WAV)');

const cases: [string, string, number, number, number][] = [
  // fixture, reference WAV, rate compared at, min correlation, min SNR dB
  ['speech16k.mp3', 'speech16k.wav', 16000, 0.998, 21],
  ['speech22k.ogg', 'speech22k.wav', 22050, 0.995, 19],
  ['speech16k.opus', 'speech16k.wav', 16000, 0.97, 12],
];
for (const [f, ref, rate, minCorr, minSnr] of cases) {
  lossy(`${f} matches ${ref} (correlation ≥ ${minCorr}, SNR ≥ ${minSnr} dB) with the same length`, async () => {
    const y = await decode(f, rate);
    const r = await decode(ref, rate);
    assert.is(y.length, r.length, 'gapless length');
    const c = compare(y, r);
    assert.ok(Math.abs(c.lag) <= 2, `lag ${c.lag}`);
    assert.ok(c.corr >= minCorr, `correlation ${c.corr}`);
    assert.ok(c.snr >= minSnr, `SNR ${c.snr} dB`);
  });
}

lossy('the file name does not matter: a WAV named .mp3 is read as WAV, text named .flac is refused', async () => {
  const wav = file('speech16k.wav');
  assert.equal(await decodeAudio(wav, 'x.mp3'), await decode('speech16k.wav'));
  await rejectsCode(decodeAudio(new TextEncoder().encode('this is not audio'), 'x.flac'), 'E_AUDIO', 'x.flac', 'not a recognised audio file');
});

lossy.run();

// ---

const broken = suite('damaged files are refused (E_AUDIO, one line naming the file)');

const xorRange = (b: Uint8Array, from: number, to: number, step = 1): Uint8Array => {
  const c = b.slice();
  for (let i = from; i < Math.min(to, c.length); i += step) c[i] ^= 0x5a;
  return c;
};

const damaged: [string, string, (b: Uint8Array) => Uint8Array, string][] = [
  ['speech16k.flac', 'cut at 60%', (b) => b.subarray(0, Math.floor(b.length * 0.6)), 'truncated or corrupt'],
  ['speech16k.flac', 'last byte missing', (b) => b.subarray(0, b.length - 1), 'header declares 16000'],
  ['speech16k.flac', 'header only', (b) => b.subarray(0, 60), 'no decodable audio'],
  ['speech16k.flac', '64 bytes flipped mid-file', (b) => xorRange(b, b.length >> 1, (b.length >> 1) + 64), 'truncated or corrupt'],
  ['speech16k.mp3', 'cut mid-frame', (b) => b.subarray(0, Math.floor(b.length * 0.6)), 'truncated'],
  ['speech16k.mp3', 'cut at a frame boundary', (b) => b.subarray(0, 5184), 'header declares'],
  ['speech16k.mp3', 'frame headers damaged', (b) => xorRange(b, 200, b.length, 7), 'corrupt'],
  ['speech22k.ogg', 'cut at 60%', (b) => b.subarray(0, Math.floor(b.length * 0.6)), 'truncated'],
  ['speech22k.ogg', '64 bytes flipped mid-file', (b) => xorRange(b, b.length >> 1, (b.length >> 1) + 64), 'checksum'],
  ['speech16k.opus', 'last byte missing', (b) => b.subarray(0, b.length - 1), 'truncated'],
  ['speech16k.opus', '64 bytes flipped mid-file', (b) => xorRange(b, b.length >> 1, (b.length >> 1) + 64), 'checksum'],
];
for (const [f, what, harm, says] of damaged) {
  broken(`${f}: ${what}`, async () => {
    await rejectsCode(decodeAudio(harm(file(f)), `bad/${f}`), 'E_AUDIO', `bad/${f}`, says);
  });
}

broken('an Ogg file whose last page does not end the stream (cut at a page boundary)', async () => {
  const b = file('speech22k.ogg');
  let at = 0, last = 0;
  while (at < b.length) { last = at; let len = 27 + b[at + 26]; for (let i = 0; i < b[at + 26]; i++) len += b[at + 27 + i]; at += len; }
  await rejectsCode(decodeAudio(b.subarray(0, last), 'cut.ogg'), 'E_AUDIO', 'cut.ogg', 'last page does not end the stream');
});

broken('a FLAC declaring more samples than the limit is refused before decoding', async () => {
  const b = file('speech16k.flac').slice();
  b[8 + 13] = (b[8 + 13] & 0xf0) | 0x0f; // total samples ≈ 2^36
  b.fill(0xff, 8 + 14, 8 + 18);
  await rejectsCode(decodeCompressed(b, 'huge.flac', 'FLAC'), 'E_AUDIO', 'huge.flac', `over the ${MAX_DECODED}-sample limit`);
});

broken.run();

// ---

const cli = suite('slimwav features with compressed audio');
const work = mkdtempSync(join(tmpdir(), 'slimwav-codecs-'));
cli.after(() => rmSync(work, { recursive: true, force: true }));

cli('a FLAC gives the very .npy its WAV gives; a cut MP3 is one line and no output', () => {
  const model = join(FIXTURES, 'tiny-w2v-group');
  const a = join(work, 'wav.npy'), b = join(work, 'flac.npy');
  for (const [audio, out] of [['speech16k.wav', a], ['speech16k.flac', b]]) {
    const r = slimwav('features', model, join(DIR, audio), '--out', out, '--threads', '1');
    assert.is(r.code, 0, r.err);
  }
  assert.equal(readFileSync(b), readFileSync(a));
  const cut = join(work, 'cut.mp3');
  writeFileSync(cut, file('speech16k.mp3').subarray(0, 5000));
  const out = join(work, 'cut.npy');
  fails(slimwav('features', model, cut, '--out', out), cut, 'truncated');
  assert.not.ok(existsSync(out), 'no output file');
});

cli.run();
