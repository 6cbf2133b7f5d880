/**
 * WAV (RIFF/WAVE) ⇄ Float32 samples.
 *
 * Layout: "RIFF" u32 size "WAVE", then chunks of { 4-byte id, u32 LE size, size bytes, 1 pad byte if size is odd }.
 * We need "fmt " (format tag, channels, rate, block align, bits) before "data"; every other chunk is skipped. The
 * RIFF size is ignored (streaming writers leave it 0 or wrong); chunks are walked up to the real end of the bytes.
 *
 * Supported: PCM (tag 1) 8-bit unsigned, 16/24/32-bit signed; IEEE float (tag 3) 32/64-bit; WAVE_FORMAT_EXTENSIBLE
 * (0xFFFE) whose sub-format GUID is PCM or float. Integers are scaled by 1 / 2^(bits−1) (8-bit: (b − 128) / 128),
 * so 16-bit 16384 → 0.5 and −32768 → −1.
 *
 * A data size of 0 or 0xFFFFFFFF means "to the end of the file" (what streaming writers leave behind); any other
 * size that runs past the end is a truncated file and refused. A trailing partial frame is dropped.
 *
 * Errors: a broken or lying file is E_FORMAT; a well-formed file in an encoding we do not decode is E_AUDIO.
 */
import { fail } from '../errors.js';

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  /** samples per channel */
  frames: number;
  /** mono: the channels averaged, `frames` long */
  data: Float32Array;
}

const TAG_PCM = 1;
const TAG_FLOAT = 3;
const TAG_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs share these 14 bytes after their 2-byte format tag. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const TAG_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'μ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MP3',
  0x0161: 'WMA',
  0xf1ac: 'FLAC',
};

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

function tagName(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, '0')}`;
  return TAG_NAMES[tag] ? `${hex} (${TAG_NAMES[tag]})` : hex;
}

export function decodeWav(bytes: Uint8Array, fileName: string): DecodedWav {
  const bad: (msg: string) => never = (msg) => fail('E_FORMAT', `${fileName}: ${msg}`);
  const unsupported: (msg: string) => never = (msg) => fail('E_AUDIO', `${fileName}: ${msg}`);
  const len = bytes.byteLength;
  if (len < 12) bad(`file is ${len} bytes, too short for a WAV header (needs at least 12)`);
  const riff = fourcc(bytes, 0);
  if (riff === 'RIFX') unsupported('big-endian WAV (RIFX) is not supported; convert to little-endian PCM WAV');
  if (riff === 'RF64') unsupported('RF64 (64-bit WAV) is not supported; convert to a standard PCM WAV');
  if (riff !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    bad(`not a WAV file: expected "RIFF....WAVE", found ${JSON.stringify(riff + '....' + fourcc(bytes, 8))}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);

  let fmt: { tag: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let dataAt = -1;
  let dataLen = 0;
  let pos = 12;
  while (pos + 8 <= len) {
    const id = fourcc(bytes, pos);
    const size = dv.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'data') {
      if (!fmt) bad('"data" chunk comes before the "fmt " chunk');
      if (size === 0 || size === 0xffffffff) {
        dataLen = len - body; // streaming writer: data runs to the end of the file
      } else {
        if (body + size > len) bad(`"data" chunk says ${size} bytes but only ${len - body} remain (file truncated?)`);
        dataLen = size;
      }
      dataAt = body;
      break;
    }
    if (body + size > len) bad(`"${id.replace(/[^\x20-\x7e]/g, '?')}" chunk at byte ${pos} says ${size} bytes but only ${len - body} remain (file truncated?)`);
    if (id === 'fmt ') {
      if (fmt) bad('two "fmt " chunks');
      if (size < 16) bad(`"fmt " chunk is ${size} bytes, expected at least 16`);
      let tag = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const sampleRate = dv.getUint32(body + 4, true);
      const blockAlign = dv.getUint16(body + 12, true);
      const bits = dv.getUint16(body + 14, true);
      if (tag === TAG_EXTENSIBLE) {
        if (size < 40) bad(`WAVE_FORMAT_EXTENSIBLE "fmt " chunk is ${size} bytes, expected at least 40`);
        const sub = dv.getUint16(body + 24, true);
        const tailOk = GUID_TAIL.every((b, i) => bytes[body + 26 + i] === b);
        if (!tailOk) unsupported('WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID is not supported; convert to PCM');
        tag = sub;
      }
      fmt = { tag, channels, sampleRate, blockAlign, bits };
    }
    pos = body + size + (size & 1);
  }
  if (!fmt) bad('no "fmt " chunk');
  if (dataAt < 0) bad('no "data" chunk');
  const f = fmt;

  if (f.tag !== TAG_PCM && f.tag !== TAG_FLOAT) {
    unsupported(`WAV format tag ${tagName(f.tag)} is not supported (μ-law/A-law/ADPCM and other compressed WAVs are not decoded); convert to PCM`);
  }
  if (f.channels === 0) bad('"fmt " says 0 channels');
  if (f.sampleRate === 0) bad('"fmt " says a sample rate of 0 Hz');
  const okBits = f.tag === TAG_PCM ? [8, 16, 24, 32] : [32, 64];
  if (!okBits.includes(f.bits)) {
    unsupported(`${f.tag === TAG_PCM ? 'integer PCM' : 'float'} with ${f.bits} bits per sample is not supported (expected ${okBits.join('/')})`);
  }
  const bytesPer = f.bits / 8;
  if (f.blockAlign !== f.channels * bytesPer) {
    bad(`"fmt " block align is ${f.blockAlign}, expected ${f.channels * bytesPer} for ${f.channels} channel(s) of ${f.bits} bits`);
  }

  const ch = f.channels;
  const frames = Math.floor(dataLen / f.blockAlign);
  const n = frames * ch;
  const out = new Float32Array(frames);
  const d = new DataView(bytes.buffer, bytes.byteOffset + dataAt, frames * f.blockAlign);
  // One loop per format keeps the inner loop free of branches; samples of a frame are summed in f64.
  const mix = (read: (i: number) => number, scale: number): void => {
    const k = scale / ch;
    if (ch === 1) {
      for (let i = 0; i < n; i++) out[i] = read(i) * scale;
      return;
    }
    for (let fr = 0, i = 0; fr < frames; fr++) {
      let s = 0;
      for (let c = 0; c < ch; c++, i++) s += read(i);
      out[fr] = s * k;
    }
  };
  if (f.tag === TAG_FLOAT) {
    if (f.bits === 32) mix((i) => d.getFloat32(i * 4, true), 1);
    else mix((i) => d.getFloat64(i * 8, true), 1);
  } else {
    switch (f.bits) {
      case 8: mix((i) => d.getUint8(i) - 128, 1 / 128); break;
      case 16: mix((i) => d.getInt16(i * 2, true), 1 / 32768); break;
      case 24: mix((i) => ((d.getUint8(i * 3) | (d.getUint8(i * 3 + 1) << 8) | (d.getUint8(i * 3 + 2) << 16)) << 8) >> 8, 1 / 8388608); break;
      case 32: mix((i) => d.getInt32(i * 4, true), 1 / 2147483648); break;
    }
  }
  return { sampleRate: f.sampleRate, channels: ch, frames, data: out };
}

export interface EncodeWavOptions {
  /** 8/16/24/32-bit integer PCM, or 32/64-bit IEEE float when `float` is set */
  bitDepth: 8 | 16 | 24 | 32 | 64;
  float?: boolean;
  /** `data` holds this many interleaved channels (default 1) */
  channels?: number;
}

/**
 * Samples → a canonical 44-byte-header WAV. Integer output rounds to nearest and clips to the format's range
 * (x · 2^(bits−1), so 1.0 becomes the largest positive code).
 */
export function encodeWav(data: Float32Array, sampleRate: number, opts: EncodeWavOptions): Uint8Array {
  const channels = opts.channels ?? 1;
  const bits = opts.bitDepth;
  const isFloat = opts.float ?? false;
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) fail('E_ARGS', `encodeWav: channels must be 1..65535, got ${channels}`);
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) fail('E_ARGS', `encodeWav: sample rate must be a positive integer, got ${sampleRate}`);
  if (isFloat ? bits !== 32 && bits !== 64 : ![8, 16, 24, 32].includes(bits)) {
    fail('E_ARGS', `encodeWav: ${isFloat ? 'float' : 'integer'} WAV cannot have ${bits} bits (expected ${isFloat ? '32/64' : '8/16/24/32'})`);
  }
  if (data.length % channels !== 0) fail('E_ARGS', `encodeWav: ${data.length} samples is not a whole number of ${channels}-channel frames`);
  const bytesPer = bits / 8;
  const dataLen = data.length * bytesPer;
  if (44 + dataLen > 0xffffffff) fail('E_ARGS', `encodeWav: ${dataLen} bytes of samples do not fit in a WAV file (4 GB limit)`);
  const out = new Uint8Array(44 + dataLen + (dataLen & 1));
  const dv = new DataView(out.buffer);
  const ascii = (at: number, s: string): void => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  ascii(0, 'RIFF');
  dv.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, isFloat ? TAG_FLOAT : TAG_PCM, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * channels * bytesPer, true);
  dv.setUint16(32, channels * bytesPer, true);
  dv.setUint16(34, bits, true);
  ascii(36, 'data');
  dv.setUint32(40, dataLen, true);
  const q = (x: number, b: number): number => {
    const max = 2 ** (b - 1);
    const v = Math.round(x * max);
    return v >= max ? max - 1 : v < -max ? -max : Number.isNaN(v) ? 0 : v;
  };
  const at = 44;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (isFloat) {
      if (bits === 32) dv.setFloat32(at + i * 4, x, true);
      else dv.setFloat64(at + i * 8, x, true);
      continue;
    }
    switch (bits) {
      case 8: dv.setUint8(at + i, q(x, 8) + 128); break;
      case 16: dv.setInt16(at + i * 2, q(x, 16), true); break;
      case 24: {
        const v = q(x, 24) & 0xffffff;
        out[at + i * 3] = v & 0xff;
        out[at + i * 3 + 1] = (v >> 8) & 0xff;
        out[at + i * 3 + 2] = v >> 16;
        break;
      }
      case 32: dv.setInt32(at + i * 4, q(x, 32), true); break;
    }
  }
  return out;
}
