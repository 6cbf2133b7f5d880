/**
 * Property tests: random damage to a real checkpoint's zip structures and to its pickle stream must end in a clean
 * SlimwavError or a valid result — never another exception, never a hang, and no tensor larger than the file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SlimwavError } from '../../src/errors.js';
import { openZip } from '../../src/format/zip.js';
import { parseTorchCheckpoint, readTorchStateDict, isRawTensor } from '../../src/format/pytorch.js';
import { toSlimwavModel } from '../../src/arch/checkpoint.js';
import { DTYPE_BYTES, numel } from '../../src/format/tensor.js';
import { fixture, makeZip } from '../fixtures/ckpt/helpers.js';

const SLOW_MS = 500;

/** Walk a result (cycles allowed): every tensor's bytes match its shape and fit in the file. */
function checkResult(v: unknown, fileSize: number): void {
  const seen = new Set<unknown>();
  const stack = [v];
  while (stack.length) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (isRawTensor(x)) {
      assert.is(x.data.byteLength, numel(x.shape) * DTYPE_BYTES[x.dtype], 'tensor bytes match its shape');
      assert.ok(x.data.byteLength <= fileSize, 'no tensor larger than the file');
    } else if (Array.isArray(x)) stack.push(...x);
    else if (x instanceof Map) for (const [k, y] of x) stack.push(k, y);
  }
}

/** Run `fn`; only SlimwavError may escape, and it must be quick. */
function clean(bytes: Uint8Array, fn: (b: Uint8Array) => unknown): void {
  const t0 = performance.now();
  try {
    checkResult(fn(bytes), bytes.byteLength);
  } catch (e) {
    if (!(e instanceof SlimwavError)) throw e;
    assert.ok(e.message.startsWith('f.pt'), `message names the file: ${e.message}`);
    assert.not.ok(e.message.includes('\n'));
  }
  const ms = performance.now() - t0;
  assert.ok(ms < SLOW_MS, `took ${ms.toFixed(0)} ms`);
}

const views = fixture('views.pt');
const hf = fixture('hf/pytorch_model.bin');

/** Byte ranges holding zip structure: local headers (+ names), central directory, end records. */
function structureRanges(bytes: Uint8Array): [number, number][] {
  const z = openZip(bytes, 'x');
  const ranges: [number, number][] = [];
  let cdStart = bytes.length;
  for (const e of z.entries.values()) {
    // the local header sits just before the data; its name+extra length is read back from the header itself
    for (let p = e.offset - 30; p >= Math.max(0, e.offset - 30 - 600); p--) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + p, 30);
      if (dv.getUint32(0, true) === 0x04034b50 && p + 30 + dv.getUint16(26, true) + dv.getUint16(28, true) === e.offset) {
        ranges.push([p, p + 30 + dv.getUint16(26, true)]);
        break;
      }
    }
    cdStart = Math.min(cdStart, e.offset + e.size);
  }
  const eocd = bytes.length - 22;
  const cdOffset = new DataView(bytes.buffer, bytes.byteOffset).getUint32(eocd + 16, true);
  ranges.push([cdOffset, bytes.length]);
  return ranges;
}

function mutationArb(ranges: [number, number][]) {
  const pos = fc.integer({ min: 0, max: ranges.length - 1 }).chain((r) => fc.integer({ min: ranges[r][0], max: ranges[r][1] - 1 }));
  const interesting = fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01, 0x02, 0x08, 0x50, 0x4b);
  return fc.array(fc.tuple(pos, fc.oneof(fc.integer({ min: 0, max: 255 }), interesting)), { minLength: 1, maxLength: 8 });
}

test('fuzz: damaged zip directories and local headers → SlimwavError or a valid result', () => {
  for (const [name, base] of [['views.pt', views], ['hf', hf]] as const) {
    const ranges = structureRanges(base);
    fc.assert(fc.property(mutationArb(ranges), (muts) => {
      const b = base.slice();
      for (const [p, v] of muts) b[p] = v;
      clean(b, (x) => parseTorchCheckpoint(x, 'f.pt'));
    }), { numRuns: name === 'hf' ? 150 : 250, seed: 1 });
  }
});

test('fuzz: truncations and random spans anywhere in the file', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: hf.length }), fc.integer({ min: 0, max: hf.length - 1 }),
    fc.uint8Array({ minLength: 1, maxLength: 16 }), (cut, at, junk) => {
      clean(hf.subarray(0, cut), (x) => parseTorchCheckpoint(x, 'f.pt'));
      const b = hf.slice();
      b.set(junk.subarray(0, b.length - at), at);
      clean(b, (x) => readTorchStateDict(x, 'f.pt'));
    }), { numRuns: 150, seed: 2 });
});

/** the pickle and storages of a checkpoint, to re-zip with a damaged pickle */
function split(bytes: Uint8Array): { pkl: Uint8Array; rest: [string, Uint8Array][]; name: string } {
  const z = openZip(bytes, 'x');
  const name = [...z.entries.keys()].find((k) => k.endsWith('/data.pkl'))!;
  return { pkl: z.read(name), name, rest: [...z.entries.keys()].filter((k) => k !== name).map((k) => [k, z.read(k)]) };
}

const OPCODES = [0x28, 0x29, 0x2e, 0x4b, 0x4e, 0x51, 0x52, 0x58, 0x5d, 0x61, 0x62, 0x63, 0x65, 0x68, 0x71, 0x73, 0x74, 0x75,
  0x7d, 0x80, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x93, 0x94, 0x95, 0x8d, 0x8e, 0x72, 0x6a];

const pickleEdit = (len: number) => fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.integer({ min: 0, max: len - 1 }), v: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...OPCODES)) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.integer({ min: 0, max: len }), bytes: fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...OPCODES)), { minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.integer({ min: 0, max: len - 1 }), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.integer({ min: 0, max: len - 1 }), n: fc.integer({ min: 1, max: 40 }) }),
);

test('fuzz: damaged pickle streams (re-zipped) → SlimwavError or a valid result', () => {
  for (const [label, base, runs] of [['views', views, 300], ['dphubert', fixture('dphubert.pth'), 120]] as const) {
    const { pkl, rest, name } = split(base);
    fc.assert(fc.property(fc.array(pickleEdit(pkl.length), { minLength: 1, maxLength: 4 }), (edits) => {
      let b = [...pkl];
      for (const e of edits) {
        const at = Math.min(e.at, b.length);
        if (e.kind === 'set') { if (b.length) b[Math.min(at, b.length - 1)] = e.v; }
        else if (e.kind === 'insert') b.splice(at, 0, ...e.bytes);
        else if (e.kind === 'delete') b.splice(at, e.n);
        else b.splice(at, 0, ...b.slice(at, at + e.n));
      }
      const file = makeZip([[name, new Uint8Array(b)], ...rest]);
      clean(file, (x) => {
        const sd = readTorchStateDict(x, 'f.pt');
        if (label === 'dphubert') {
          try {
            toSlimwavModel(sd.tensors, sd.config, 'f.pt');
          } catch (e) {
            if (!(e instanceof SlimwavError)) throw e;
          }
        }
        return sd.tensors;
      });
    }), { numRuns: runs, seed: 3 });
  }
});

test.run();
