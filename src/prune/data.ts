/**
 * Unlabeled training audio for the pruner: a folder (searched recursively) of files slimwav can decode, split into
 * training and held-out clips by a hash of each file's path (stable when files are added), and served as batches of
 * random equal-length crops whose total duration is about `batchSeconds` (DPHuBERT crops a batch to its shortest
 * clip at a random offset, so there is no padding; so does this).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fail, SlimwavError } from '../errors.js';
import { readAudioFile } from '../format/audio.js';
import { fnv1a32 } from '../util/hash.js';
import type { Rng } from '../util/rng.js';

const AUDIO_EXT = /\.(wav|wave|flac|mp3|ogg|oga|opus)$/i;
const OTHER_AUDIO_EXT = /\.(m4a|aac|webm|aiff?)$/i;

export interface AudioSet {
  train: Float32Array[];
  valid: Float32Array[];
  trainFiles: string[];
  validFiles: string[];
  /** total seconds of training audio */
  seconds: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      fail('E_IO', `${d}: cannot read this folder of audio`);
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (AUDIO_EXT.test(e.name) || OTHER_AUDIO_EXT.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Read every audio file under `dir` (16 kHz mono) and split off about `validFraction` of the files. */
export async function loadAudioFolder(dir: string, opts: { validFraction?: number; minSamples?: number } = {}): Promise<AudioSet> {
  const s = await stat(dir).catch(() => null);
  if (!s) fail('E_IO', `${dir}: no such folder of audio`);
  if (!s.isDirectory()) fail('E_IO', `${dir}: --data must be a folder of audio files`);
  const files = await listFiles(dir);
  const usable = files.filter((f) => AUDIO_EXT.test(f));
  if (usable.length === 0) {
    const other = files.length ? ` (found ${files.length} file(s) in formats slimwav does not decode; convert them to WAV or FLAC)` : '';
    fail('E_IO', `${dir}: no WAV files found (nor FLAC, MP3 or Ogg)${other}`);
  }
  const minSamples = opts.minSamples ?? 1;
  const frac = opts.validFraction ?? 0.05;
  const set: AudioSet = { train: [], valid: [], trainFiles: [], validFiles: [], seconds: 0 };
  for (const f of usable) {
    let pcm: Float32Array;
    try {
      pcm = await readAudioFile(f);
    } catch (err) {
      if (err instanceof SlimwavError) fail(err.code, err.message.startsWith(f) ? err.message : `${f}: ${err.message}`);
      throw err;
    }
    if (pcm.length < minSamples) continue; // too short for one frame of the model
    const valid = usable.length > 1 && fnv1a32(relative(dir, f)) / 4294967296 < frac;
    (valid ? set.valid : set.train).push(pcm);
    (valid ? set.validFiles : set.trainFiles).push(f);
  }
  if (set.train.length === 0 && set.valid.length > 0) {
    set.train.push(set.valid.pop()!);
    set.trainFiles.push(set.validFiles.pop()!);
  }
  if (set.train.length === 0) fail('E_IO', `${dir}: every audio file is shorter than the model's receptive field (${minSamples} samples)`);
  if (set.valid.length === 0) {
    // always hold something out: the last training file doubles as validation when the folder is tiny
    set.valid.push(set.train[set.train.length - 1]);
    set.validFiles.push(set.trainFiles[set.trainFiles.length - 1]);
  }
  set.seconds = set.train.reduce((a, x) => a + x.length, 0) / 16000;
  return set;
}

/**
 * Random crops: `count` clips drawn with replacement, cropped to a common length (the crop length, or the shortest
 * drawn clip if shorter) at random offsets.
 */
export function sampleBatch(clips: Float32Array[], cropSamples: number, count: number, rng: Rng): Float32Array[] {
  const picked = Array.from({ length: count }, () => clips[Math.floor(rng.next() * clips.length)]);
  const len = Math.min(cropSamples, ...picked.map((c) => c.length));
  return picked.map((c) => {
    const off = Math.floor(rng.next() * (c.length - len + 1));
    return c.subarray(off, off + len);
  });
}

/** Deterministic validation crops: the first `cropSamples` of each held-out clip. */
export function validationCrops(clips: Float32Array[], cropSamples: number, max = 16): Float32Array[] {
  return clips.slice(0, max).map((c) => c.subarray(0, Math.min(c.length, cropSamples)));
}
