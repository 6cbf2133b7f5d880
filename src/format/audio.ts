/**
 * Any audio file slimwav accepts → mono Float32 at the model's rate (16 kHz).
 *
 * The container is sniffed from its first bytes, never from the file name. WAV is decoded here; FLAC, MP3, Ogg Vorbis
 * and Ogg Opus by codecs.ts, which imports a decoder package only when it meets such a file (so WAV users and
 * browsers load no decoder). MP4/M4A, AAC, AIFF and others are recognised and refused with E_AUDIO and a hint to convert.
 * Channels are averaged to mono before resampling. Empty audio and any NaN/±Inf sample are refused (E_AUDIO),
 * naming the first bad sample (a frame index at the file's own rate). Sample rates outside 1 kHz … 1 MHz are refused
 * too: nothing real lives there, and a header claiming 1 Hz would otherwise ask the resampler for 16 000× its input.
 */
import { fail } from '../errors.js';
import { readFileBytes } from './fsutil.js';
import { decodeWav } from './wav.js';
import { resample, resampledLength, MAX_RESAMPLE_OUTPUT } from './resample.js';
import { decodeCompressed, type Codec } from './codecs.js';

export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 1_000_000;

function ascii(b: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && at + i < b.length; i++) s += String.fromCharCode(b[at + i]);
  return s;
}

/** The name of a non-WAV audio container recognised by its magic bytes, or undefined. */
function sniffOther(b: Uint8Array): string | undefined {
  const head4 = ascii(b, 0, 4);
  if (head4 === 'fLaC') return 'FLAC';
  if (head4 === 'OggS') return 'Ogg';
  if (ascii(b, 0, 3) === 'ID3') return 'MP3';
  if (b.length >= 2 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0) {
    // MPEG audio frame sync; 0xFFF1/0xFFF9 (layer bits 00) is ADTS AAC
    return (b[1] & 0x06) === 0 ? 'AAC' : 'MP3';
  }
  if (ascii(b, 4, 4) === 'ftyp') return 'MP4/M4A';
  if (head4 === 'FORM' && (ascii(b, 8, 4) === 'AIFF' || ascii(b, 8, 4) === 'AIFC')) return 'AIFF';
  if (head4 === 'caff') return 'CAF';
  if (ascii(b, 0, 5) === '#!AMR') return 'AMR';
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'WebM/Matroska';
  return undefined;
}

/** The compressed format codecs.ts decodes, by magic bytes, or undefined. */
function sniffCodec(b: Uint8Array, other: string | undefined): Codec | undefined {
  if (other === 'FLAC' || other === 'MP3') return other;
  if (other !== 'Ogg') return undefined;
  const b0 = 27 + (b[26] ?? 0);
  const id = ascii(b, b0, 8);
  return id === 'OpusHead' ? 'Ogg Opus' : id.slice(1, 7) === 'vorbis' ? 'Ogg Vorbis' : undefined;
}

/**
 * Any supported audio file's bytes → mono Float32 at `targetRate`. Async because FLAC, MP3 and Ogg are decoded by
 * WebAssembly decoders loaded on first use; a WAV never waits on anything.
 */
export async function decodeAudio(bytes: Uint8Array, fileName: string, targetRate = 16000): Promise<Float32Array> {
  if (!Number.isInteger(targetRate) || targetRate <= 0) fail('E_ARGS', `decodeAudio: target rate must be a positive integer, got ${targetRate}`);
  if (!(bytes instanceof Uint8Array)) fail('E_ARGS', `decodeAudio: bytes must be a Uint8Array, found ${Object.prototype.toString.call(bytes)}`);
  if (bytes.byteLength === 0) fail('E_AUDIO', `${fileName}: file is empty`);
  const other = sniffOther(bytes);
  const codec = sniffCodec(bytes, other);
  if (codec) {
    const d = await decodeCompressed(bytes, fileName, codec);
    return toMono(d.channels, d.sampleRate, fileName, targetRate);
  }
  if (other === 'Ogg') fail('E_AUDIO', `${fileName}: Ogg holding neither Vorbis nor Opus is not supported; convert to WAV, FLAC, MP3 or Ogg Vorbis/Opus`);
  if (other) fail('E_AUDIO', `${fileName}: ${other} is not supported; convert to WAV, FLAC, MP3 or Ogg (e.g. ffmpeg -i in -ac 1 -ar 16000 out.wav)`);
  const head = ascii(bytes, 0, 4);
  if (head !== 'RIFF' && head !== 'RIFX' && head !== 'RF64') {
    fail('E_AUDIO', `${fileName}: not a recognised audio file (expected WAV, FLAC, MP3 or Ogg; found ${JSON.stringify(head)} at the start)`);
  }
  const wav = decodeWav(bytes, fileName);
  return toMono([wav.data], wav.sampleRate, fileName, targetRate);
}

/**
 * Channels at `rate` → one checked mono signal at `targetRate`: channels averaged (in f64), the rate and every
 * sample checked (E_AUDIO naming `what`), then resampled. A single channel is used as it is (not copied).
 */
export function toMono(channels: Float32Array[], rate: number, what: string, targetRate = 16000): Float32Array {
  if (!(rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE)) {
    fail('E_AUDIO', `${what}: sample rate ${rate} Hz is outside the supported ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`);
  }
  let x = channels[0];
  if (channels.length > 1) {
    x = new Float32Array(x.length);
    const k = 1 / channels.length;
    for (let i = 0; i < x.length; i++) {
      let s = 0;
      for (const c of channels) s += c[i];
      x[i] = s * k;
    }
  }
  if (x.length === 0) fail('E_AUDIO', `${what}: the audio is empty (0 samples)`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) fail('E_AUDIO', `${what}: sample ${i} is ${x[i]} (expected finite values)`);
  }
  if (rate === targetRate) return x;
  const outLen = resampledLength(x.length, rate, targetRate);
  if (outLen > MAX_RESAMPLE_OUTPUT) {
    fail('E_AUDIO', `${what}: ${x.length} samples at ${rate} Hz would be ${outLen} samples at ${targetRate} Hz, over the ${MAX_RESAMPLE_OUTPUT}-sample limit`);
  }
  return resample(x, rate, targetRate);
}

/** Read `path` and decode it (E_IO if it cannot be read). */
export async function readAudioFile(path: string, targetRate = 16000): Promise<Float32Array> {
  return decodeAudio(await readFileBytes(path), path, targetRate);
}
