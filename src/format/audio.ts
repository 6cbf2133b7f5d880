/**
 * Any audio file slimwav accepts → mono Float32 at the model's rate (16 kHz).
 *
 * The container is sniffed from its first bytes, never from the file name. Only WAV is decoded today; FLAC, Ogg,
 * MP3, MP4/M4A, AIFF and others are recognised and refused with E_AUDIO and a hint to convert to WAV.
 * Channels are averaged to mono before resampling. Empty audio and any NaN/±Inf sample are refused (E_AUDIO),
 * naming the first bad sample (a frame index at the file's own rate). Sample rates outside 1 kHz … 1 MHz are refused
 * too: nothing real lives there, and a header claiming 1 Hz would otherwise ask the resampler for 16 000× its input.
 */
import { fail } from '../errors.js';
import { readFileBytes } from './fsutil.js';
import { decodeWav } from './wav.js';
import { resample, resampledLength, MAX_RESAMPLE_OUTPUT } from './resample.js';

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

export function decodeAudio(bytes: Uint8Array, fileName: string, targetRate = 16000): Float32Array {
  if (!Number.isInteger(targetRate) || targetRate <= 0) fail('E_ARGS', `decodeAudio: target rate must be a positive integer, got ${targetRate}`);
  if (bytes.byteLength === 0) fail('E_AUDIO', `${fileName}: file is empty`);
  const other = sniffOther(bytes);
  if (other) fail('E_AUDIO', `${fileName}: ${other} is not supported yet; convert to WAV (e.g. ffmpeg -i in -ac 1 -ar 16000 out.wav)`);
  const head = ascii(bytes, 0, 4);
  if (head !== 'RIFF' && head !== 'RIFX' && head !== 'RF64') {
    fail('E_AUDIO', `${fileName}: not a recognised audio file (expected a WAV starting with "RIFF", found ${JSON.stringify(head)})`);
  }
  const wav = decodeWav(bytes, fileName);
  if (wav.sampleRate < MIN_SAMPLE_RATE || wav.sampleRate > MAX_SAMPLE_RATE) {
    fail('E_AUDIO', `${fileName}: sample rate ${wav.sampleRate} Hz is outside the supported ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`);
  }
  const x = wav.data;
  if (x.length === 0) fail('E_AUDIO', `${fileName}: the audio is empty (0 samples)`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) fail('E_AUDIO', `${fileName}: sample ${i} is ${x[i]} (expected finite values)`);
  }
  if (wav.sampleRate === targetRate) return x;
  const outLen = resampledLength(x.length, wav.sampleRate, targetRate);
  if (outLen > MAX_RESAMPLE_OUTPUT) {
    fail('E_AUDIO', `${fileName}: ${x.length} samples at ${wav.sampleRate} Hz would be ${outLen} samples at ${targetRate} Hz, over the ${MAX_RESAMPLE_OUTPUT}-sample limit`);
  }
  return resample(x, wav.sampleRate, targetRate);
}

/** Read `path` and decode it (E_IO if it cannot be read). */
export async function readAudioFile(path: string, targetRate = 16000): Promise<Float32Array> {
  return decodeAudio(await readFileBytes(path), path, targetRate);
}
