/**
 * Every parser of outside bytes, in one list, for the fuzzer (scripts/fuzz.ts; a short fixed-seed run is part of
 * npm test through test/format/parsers-fuzz.test.ts). A target takes damaged bytes and must either return or throw a
 * SlimwavError whose one-line message names the file: any other exception, or a case slower than the per-case
 * limit, is a finding.
 *
 * NEW INPUT PATHS GO HERE: add one entry (seed files + the entry point called with `fileName`).
 * test/format/pytorch-fuzz.test.ts keeps its structure-aware zip and pickle mutations beside these generic ones.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { parseConfig } from '../../src/arch/config.js';
import { bindWeights, weightsToTensors } from '../../src/arch/binding.js';
import { checkTensors } from '../../src/arch/tensors.js';
import { checkConfigAgainstTensors, checkFiniteWeights } from '../../src/arch/limits.js';
import { openZip } from '../../src/format/zip.js';
import { unpickle } from '../../src/format/pickle.js';
import { decodeAudio } from '../../src/format/audio.js';
import { decodeNpy, encodeNpy } from '../../src/format/npy.js';
import { FIXTURES } from '../ref/fixtures.js';

export interface FuzzTarget {
  name: string;
  /** the name the parser is given (and every error message must carry) */
  fileName: string;
  /** valid inputs the mutations start from */
  seeds: () => Uint8Array[];
  run: (bytes: Uint8Array, fileName: string) => unknown;
}

const file = (...p: string[]) => new Uint8Array(readFileSync(join(FIXTURES, ...p)));
const pickleOf = (zipBytes: Uint8Array) => {
  const z = openZip(zipBytes, 'x');
  return z.read([...z.entries.keys()].find((k) => k.endsWith('/data.pkl'))!);
};

/**
 * A q8 model (int8 weights + F32 scales, the positional conv's int8 weight_v and its weight_v_scale included) of a
 * small fixture, and its config (kept apart: the weights are fuzzed).
 */
const q8Config = () => JSON.parse(new TextDecoder().decode(file('ragged-w2v-a', 'config.json'))) as Record<string, unknown>;
const q8Seed = () => {
  const json = q8Config(), cfg = parseConfig(json);
  const w = bindWeights(cfg, parseSafetensors(file('ragged-w2v-a', 'model.safetensors'), 'seed').tensors, 'seed', { quantize: true });
  return serializeSafetensors({ tensors: weightsToTensors(w, { q8: true }), metadata: {} });
};

export const TARGETS: FuzzTarget[] = [
  {
    name: 'safetensors',
    fileName: 'f.safetensors',
    seeds: () => [file('ckpt', 'tiny.hf.safetensors')],
    run: (b, f) => parseSafetensors(b, f),
  },
  {
    // a q8 weights file through every check load() makes before the engine (as loadFromBuffers: config apart)
    name: 'q8-safetensors',
    fileName: 'q8.safetensors',
    seeds: () => [q8Seed()],
    run: (b, f) => {
      const json = q8Config();
      const { tensors } = parseSafetensors(b, f);
      checkConfigAgainstTensors(json, tensors, f, f);
      const cfg = parseConfig(json, f);
      checkTensors(cfg, tensors, f);
      checkFiniteWeights(tensors, f);
      return bindWeights(cfg, tensors, f);
    },
  },
  {
    name: 'zip',
    fileName: 'f.pt',
    seeds: () => [file('ckpt', 'hf', 'pytorch_model.bin'), file('ckpt', 'views.pt')],
    run: (b, f) => {
      const z = openZip(b, f);
      for (const name of z.entries.keys()) z.read(name);
      return z;
    },
  },
  {
    name: 'pickle',
    fileName: 'f.pt',
    seeds: () => [pickleOf(file('ckpt', 'views.pt')), pickleOf(file('ckpt', 'dphubert.pth'))],
    // the VM alone: allow-listed calls and storage references become plain values
    run: (b, f) => unpickle(b, { fileName: f, what: 'data.pkl', call: (fn, args) => ({ fn: String(fn), args }), persistentLoad: (pid) => pid }),
  },
  {
    name: 'wav',
    fileName: 'f.wav',
    seeds: () => [file('audio', 'speech16k.wav'), file('audio', 'speech16k-f32.wav'), file('audio', 'speech22k.wav').subarray(0, 20000)],
    run: (b, f) => decodeAudio(b, f),
  },
  // the compressed formats, through the same entry point as WAV (the decoder packages load on the first such file)
  ...([['flac', 'speech16k.flac'], ['mp3', 'speech16k.mp3'], ['ogg', 'speech22k.ogg'], ['opus', 'speech16k.opus']] as const)
    .map(([name, fixture]): FuzzTarget => ({
      name,
      fileName: `f.${name}`,
      seeds: () => [file('audio', fixture)],
      run: (b, f) => decodeAudio(b, f),
    })),
  {
    name: 'npy',
    fileName: 'f.npy',
    seeds: () => [encodeNpy(Float32Array.from({ length: 60 }, (_, i) => i / 7), [3, 4, 5])],
    run: (b, f) => decodeNpy(b, f),
  },
];

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x02, 0x08, 0x10, 0x20, 0x22, 0x30, 0x39, 0x5b, 0x7b, 0x7d];

type Edit =
  | { kind: 'set'; at: number; v: number }
  | { kind: 'u32'; at: number; v: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'dup'; at: number; n: number }
  | { kind: 'truncate'; at: number };

/** Positions biased to where formats keep their structure: the first and last 512 bytes. */
const position = (len: number) => fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: Math.max(0, Math.min(len, 512) - 1) }) },
  { weight: 4, arbitrary: fc.integer({ min: Math.max(0, len - 512), max: Math.max(0, len - 1) }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: Math.max(0, len - 1) }) },
);
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...INTERESTING));

const edit = (len: number): fc.Arbitrary<Edit> => fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), at: position(len), v: byte }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('u32' as const), at: position(len), v: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 0xfffffff0, 65535, 65536) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position(len), bytes: fc.array(byte, { minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position(len), n: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dup' as const), at: position(len), n: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: len }) }) },
);

function apply(seed: Uint8Array, edits: Edit[]): Uint8Array {
  let b = seed.slice();
  for (const e of edits) {
    const at = Math.min(e.at, b.length);
    if (e.kind === 'set') { if (at < b.length) b[at] = e.v; }
    else if (e.kind === 'u32') { for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (e.v >>> (8 * i)) & 0xff; }
    else if (e.kind === 'truncate') b = b.subarray(0, at);
    else {
      const parts = e.kind === 'insert' ? [b.subarray(0, at), Uint8Array.from(e.bytes), b.subarray(at)]
        : e.kind === 'delete' ? [b.subarray(0, at), b.subarray(at + e.n)]
        : [b.subarray(0, at + e.n), b.subarray(at, at + e.n), b.subarray(at + e.n)];
      const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) { out.set(p, o); o += p.length; }
      b = out;
    }
  }
  return b;
}

/** Damaged inputs for a target: a seed with 1–6 edits, or (rarely) plain random bytes. */
export function inputs(t: FuzzTarget): fc.Arbitrary<Uint8Array> {
  const seeds = t.seeds();
  const damaged = fc.integer({ min: 0, max: seeds.length - 1 }).chain((i) =>
    fc.array(edit(seeds[i].length), { minLength: 1, maxLength: 6 }).map((edits) => apply(seeds[i], edits)));
  return fc.oneof({ weight: 19, arbitrary: damaged }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) });
}
