/**
 * FLAC, MP3, Ogg Vorbis and Ogg Opus → channels of Float32 samples, through the wasm-audio-decoders packages
 * (@wasm-audio-decoders/flac, mpg123-decoder, @wasm-audio-decoders/ogg-vorbis, ogg-opus-decoder: libFLAC, libmpg123,
 * libvorbis and libopus compiled to WebAssembly; MIT-licensed packages, no native code, no ffmpeg). This module
 * imports no package up front: the one decoder a file needs is imported when decodeAudio meets such a file, so WAV
 * users (and the browser entry point) load none of them.
 *
 * The decoders are forgiving: handed a truncated or damaged file they return whatever they could decode, often
 * without an error. So the container is checked here before and after decoding, and a file is refused (E_AUDIO,
 * one line naming it) when:
 *   - Ogg: a page runs past the end of the file, fails its CRC, is followed by bytes that are not a page, or the
 *     last page is not marked end-of-stream (a cut file);
 *   - FLAC: fewer samples decode than STREAMINFO declares, or it declares more than the sample limit;
 *   - MP3: the last frame runs past the end of the file, sync is lost before the end (other than a trailing tag),
 *     or the Xing/Info header's frame count disagrees with the frames present;
 *   - any: the decoder reports an error or throws, returns no samples, more than MAX_CHANNELS channels, channels of
 *     unequal length, or a sample rate outside what audio.ts accepts.
 * Decoding runs in 4 KB chunks and stops once MAX_DECODED channel-samples have come out, so a small file that
 * expands to hours of audio is refused instead of filling memory. The decoders run synchronously inside each call;
 * a decoder stuck in a loop cannot be interrupted from JavaScript (none is known to do so on any input).
 */
import { fail, SlimwavError } from '../errors.js';

export type Codec = 'FLAC' | 'MP3' | 'Ogg Vorbis' | 'Ogg Opus';

export interface DecodedChannels {
  sampleRate: number;
  channels: Float32Array[];
}

/** The most channels a file may have (Ogg allows 255; nothing we read needs more). */
export const MAX_CHANNELS = 255;
/** Decoded samples over all channels before a file is refused (2^28 ≈ 1 GB of Float32). */
export const MAX_DECODED = 2 ** 28;
/**
 * Bytes handed to the decoder per call. Small, because the limit is checked between calls and one call's output is
 * what a hostile file can expand into before that check (FLAC's constant subframes pack 65 535 samples per channel
 * into a few bytes).
 */
const CHUNK = 1 << 12;

interface Decoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  bitDepth?: number;
  errors: { message: string; frameNumber?: number; inputBytes?: number }[];
}

interface Decoder {
  ready: Promise<void>;
  decode(b: Uint8Array): Decoded | Promise<Decoded>;
  flush?: () => Promise<Decoded>;
  free(): void | Promise<void>;
}

async function makeDecoder(codec: Codec): Promise<Decoder> {
  switch (codec) {
    case 'FLAC': return new (await import('@wasm-audio-decoders/flac')).FLACDecoder();
    case 'MP3': return new (await import('mpg123-decoder')).MPEGDecoder({ enableGapless: true });
    case 'Ogg Vorbis': return new (await import('@wasm-audio-decoders/ogg-vorbis')).OggVorbisDecoder();
    case 'Ogg Opus': return new (await import('ogg-opus-decoder')).OggOpusDecoder();
  }
}

/** Decode `bytes` (already identified as `codec`) to its channels at its own rate. */
export async function decodeCompressed(bytes: Uint8Array, fileName: string, codec: Codec): Promise<DecodedChannels> {
  const bad = (msg: string): never => fail('E_AUDIO', `${fileName}: ${codec} ${msg}`);
  const expected = precheck(bytes, codec, bad);
  let decoder: Decoder;
  try {
    decoder = await makeDecoder(codec);
    await decoder.ready;
  } catch (err) {
    return fail('E_AUDIO', `${fileName}: cannot load the ${codec} decoder (${oneLine(err)}); reinstall slimwav's dependencies`);
  }
  const parts: Float32Array[][] = [];
  let rate = 0;
  let total = 0;
  const take = (r: Decoded): void => {
    if (r.errors?.length) bad(`data is corrupt (${oneLine(r.errors[0].message)})`);
    const ch = r.channelData?.length ?? 0;
    if (r.samplesDecoded === 0) return;
    if (ch < 1 || ch > MAX_CHANNELS) bad(`decoder returned ${ch} channels (expected 1..${MAX_CHANNELS}); the file is corrupt`);
    if (r.channelData.some((c) => c.length !== r.samplesDecoded)) bad('decoder returned channels of unequal length; the file is corrupt');
    if (parts.length && (ch !== parts[0].length || r.sampleRate !== rate)) bad('changes its channel count or sample rate mid-file (chained streams are not supported)');
    rate = r.sampleRate;
    total += r.samplesDecoded * ch;
    if (total > MAX_DECODED) bad(`decodes to more than ${MAX_DECODED} samples (over the limit); split it into shorter files`);
    if (codec === 'FLAC' && !(r.bitDepth! >= 4 && r.bitDepth! <= 32)) bad(`decoder reported ${r.bitDepth} bits per sample (expected 4..32); the file is corrupt`);
    parts.push(r.channelData.map((c) => codec === 'FLAC' ? flacScale(c, r.bitDepth!) : c.slice()));
  };
  try {
    for (let at = 0; at < bytes.length; at += CHUNK) take(await decoder.decode(bytes.subarray(at, at + CHUNK)));
    if (decoder.flush) take(await decoder.flush());
  } catch (err) {
    if (err instanceof SlimwavError) throw err;
    bad(`data is corrupt (the decoder failed: ${oneLine(err)})`);
  } finally {
    try { await decoder.free(); } catch { /* already broken; nothing to release */ }
  }
  if (parts.length === 0) bad('file holds no decodable audio (corrupt or empty)');
  const nch = parts[0].length;
  const frames = total / nch;
  if (expected !== undefined && frames < expected) bad(`file is truncated or corrupt: ${frames} samples decoded, the header declares ${expected}`);
  const channels = Array.from({ length: nch }, (_, c) => {
    const out = new Float32Array(frames);
    let at = 0;
    for (const p of parts) { out.set(p[c], at); at += p[c].length; }
    return out;
  });
  return { sampleRate: rate, channels };
}

/**
 * The FLAC decoder scales a b-bit sample v to v / (2^(b−1) − 1); WAV (and every other reader) uses v / 2^(b−1).
 * Up to 24 bits the integer is recovered exactly from the Float32 and rescaled, so a FLAC decodes to the very
 * samples of the WAV it was made from.
 */
function flacScale(c: Float32Array, bits: number): Float32Array {
  const out = new Float32Array(c.length);
  const full = 2 ** (bits - 1);
  const exact = bits <= 24;
  for (let i = 0; i < c.length; i++) out[i] = exact ? Math.round(c[i] * (full - 1)) / full : c[i] * ((full - 1) / full);
  return out;
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 200);
}

/** Container checks before decoding; returns the declared number of samples per channel when the format has one. */
function precheck(b: Uint8Array, codec: Codec, bad: (msg: string) => never): number | undefined {
  if (codec === 'FLAC') return flacDeclared(b, bad);
  if (codec === 'MP3') { checkMp3(b, bad); return undefined; }
  checkOgg(b, bad);
  return undefined;
}

/** STREAMINFO's total samples (0 = unknown → undefined). */
function flacDeclared(b: Uint8Array, bad: (msg: string) => never): number | undefined {
  // "fLaC", then metadata block header (1 byte type, 3 bytes length), STREAMINFO body: total samples are the low
  // 36 bits of bytes 13..17 of the body
  if (b.length < 42 || (b[4] & 0x7f) !== 0) bad('file is too short or does not start with a STREAMINFO block');
  const s = 8;
  const total = (b[s + 13] & 0x0f) * 2 ** 32 + ((b[s + 14] << 24) >>> 0) + (b[s + 15] << 16) + (b[s + 16] << 8) + b[s + 17];
  const channels = ((b[s + 12] >> 1) & 0x07) + 1;
  if (total * channels > MAX_DECODED) bad(`header declares ${total} samples × ${channels} channels, over the ${MAX_DECODED}-sample limit`);
  return total || undefined;
}

let crcTable: Uint32Array | undefined;
/** Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, computed with the CRC field zeroed. */
function oggCrc(b: Uint8Array, at: number, len: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
      crcTable[i] = r >>> 0;
    }
  }
  let crc = 0;
  for (let i = 0; i < len; i++) {
    const v = i >= 22 && i < 26 ? 0 : b[at + i];
    crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ v) & 0xff]) >>> 0;
  }
  return crc;
}

/** Walk every Ogg page: each fits, passes its CRC, pages follow one another, and the last one ends the stream. */
function checkOgg(b: Uint8Array, bad: (msg: string) => never): void {
  let at = 0;
  let last = 0;
  while (at < b.length) {
    if (at + 27 > b.length) bad(`file is truncated (a page header at byte ${at} is cut short)`);
    if (b[at] !== 0x4f || b[at + 1] !== 0x67 || b[at + 2] !== 0x67 || b[at + 3] !== 0x53) bad(`file is corrupt (no page starts at byte ${at})`);
    const segs = b[at + 26];
    if (at + 27 + segs > b.length) bad(`file is truncated (the page at byte ${at} is cut short)`);
    let len = 27 + segs;
    for (let i = 0; i < segs; i++) len += b[at + 27 + i];
    if (at + len > b.length) bad(`file is truncated (the page at byte ${at} needs ${len} bytes, ${b.length - at} remain)`);
    const stored = (b[at + 22] | (b[at + 23] << 8) | (b[at + 24] << 16) | (b[at + 25] << 24)) >>> 0;
    if (oggCrc(b, at, len) !== stored) bad(`file is corrupt (the page at byte ${at} fails its checksum)`);
    last = at;
    at += len;
  }
  if ((b[last + 5] & 0x04) === 0) bad('file is truncated (its last page does not end the stream)');
}

// MPEG audio frame header tables: bitrates (kbit/s) by [MPEG-1 ? 0 : 1][layer 1..3][index], sample rates by version.
const BITRATES = [
  [[], [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]],
  [[], [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]],
];
const RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** Length in bytes of the MPEG audio frame whose header starts at `at`, or 0 if there is no valid header there. */
function mp3FrameLength(b: Uint8Array, at: number): number {
  if (at + 4 > b.length || b[at] !== 0xff || (b[at + 1] & 0xe0) !== 0xe0) return 0;
  const version = (b[at + 1] >> 3) & 3;        // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
  const layer = 4 - ((b[at + 1] >> 1) & 3);    // 1..3 (4 = reserved)
  const brIdx = b[at + 2] >> 4;
  const srIdx = (b[at + 2] >> 2) & 3;
  const pad = (b[at + 2] >> 1) & 1;
  if (version === 1 || layer === 4 || brIdx === 0 || brIdx === 15 || srIdx === 3) return 0;
  const br = BITRATES[version === 3 ? 0 : 1][layer][brIdx] * 1000;
  const sr = RATES[version][srIdx];
  if (layer === 1) return (Math.floor((12 * br) / sr) + pad) * 4;
  const perSlot = layer === 3 && version !== 3 ? 72 : 144;
  return Math.floor((perSlot * br) / sr) + pad;
}

/** Walk the MP3's frames from the first one: each must fit, and only a tag (ID3v1, APE, Lyrics3) may follow them. */
function checkMp3(b: Uint8Array, bad: (msg: string) => never): void {
  let at = 0;
  if (b.length >= 10 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) {   // ID3v2: syncsafe size after 6 bytes
    at = 10 + ((b[6] & 0x7f) << 21 | (b[7] & 0x7f) << 14 | (b[8] & 0x7f) << 7 | (b[9] & 0x7f)) + (b[5] & 0x10 ? 10 : 0);
  }
  const first = at;
  while (at < b.length && mp3FrameLength(b, at) === 0 && at - first < 65536) at++;
  if (mp3FrameLength(b, at) === 0) bad(`file holds no MPEG audio frame${at >= b.length ? '' : ` in the first 64 KB after byte ${first}`}`);
  const start = at;
  let frames = 0;
  while (at < b.length) {
    const len = mp3FrameLength(b, at);
    if (len === 0) {
      const tail = String.fromCharCode(...b.subarray(at, at + 8));
      if (tail.startsWith('TAG') || tail === 'APETAGEX' || tail.startsWith('LYRICS') || b.subarray(at).every((v) => v === 0)) break;
      bad(`file is corrupt (frame sync lost at byte ${at})`);
    }
    if (at + len > b.length) bad(`file is truncated (the frame at byte ${at} needs ${len} bytes, ${b.length - at} remain)`);
    frames++;
    at += len;
  }
  const xing = xingFrames(b, start);
  if (xing !== undefined && xing !== frames && xing !== frames - 1) bad(`file is truncated or corrupt: its header declares ${xing} frames, ${frames - 1} are present`);
}

/** The frame count of a Xing/Info header in the first frame (which is itself not audio), or undefined. */
function xingFrames(b: Uint8Array, at: number): number | undefined {
  const len = mp3FrameLength(b, at);
  for (let i = at + 4; i + 12 <= at + len; i++) {
    const id = String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
    if (id !== 'Xing' && id !== 'Info') continue;
    if ((b[i + 7] & 1) === 0) return undefined;
    return ((b[i + 8] << 24) | (b[i + 9] << 16) | (b[i + 10] << 8) | b[i + 11]) >>> 0;
  }
  return undefined;
}
