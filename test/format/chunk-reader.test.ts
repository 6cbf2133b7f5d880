// Reading tensors chunk by chunk (format/tensor.ts ChunkReader) from a safetensors file opened by its header alone
// (openSafetensorsFile): the bytes equal the whole-file parse whatever the chunk size (chunks spanning tensors'
// row groups, misaligned offsets), `data` reads on first use, and a file that is truncated or changes after its
// header was read is refused with one line naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensorsFile, parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { ChunkReader, isDeferred, toFloat32, type RawTensor } from '../../src/format/tensor.js';
import { throwsCode } from '../ref/assert.js';

const work = mkdtempSync(join(tmpdir(), 'slimwav-chunks-'));

const f32 = (shape: number[], seed: number): RawTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 100 + i * 0.37) * (i + 1));
  return { dtype: 'F32', shape, data: new Uint8Array(v.buffer) };
};

/** Every chunk of rows [0, rows) in groups of `group`, concatenated, with the (r0, r1) sequence. */
function readAll(reader: ChunkReader, t: RawTensor, rows: number, group: number): { bytes: Uint8Array; spans: [number, number][] } {
  const parts: Uint8Array[] = [], spans: [number, number][] = [];
  reader.rows(t, 'x', rows, group, (b, r0, r1) => { parts.push(b.slice()); spans.push([r0, r1]); });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return { bytes: out, spans };
}

test('a file-held tensor reads in row groups through a buffer smaller than the tensor: same bytes as the whole-file parse', () => {
  const tensors = new Map<string, RawTensor>([['a', f32([37, 11], 1)], ['b', f32([5], 2)], ['c', f32([16, 3, 7], 3)]]);
  const file = join(work, 'm.safetensors');
  writeFileSync(file, serializeSafetensors({ tensors, metadata: { k: 'v' } }));
  const whole = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  const lazy = openSafetensorsFile(file);
  assert.equal(lazy.metadata, { k: 'v' });
  assert.equal([...lazy.tensors.keys()], [...whole.tensors.keys()]);
  for (const [name, t] of lazy.tensors) {
    assert.ok(isDeferred(t), `${name} is still in the file`);
    assert.equal(t.shape, whole.tensors.get(name)!.shape);
  }
  // a: 37 rows of 44 bytes; a 200-byte buffer holds 4 rows, but groups of 8 rows → chunks of 8, the last 5
  const a = lazy.tensors.get('a')!;
  for (const [chunk, group, spans] of [
    [200, 8, [[0, 8], [8, 16], [16, 24], [24, 32], [32, 37]]],
    [200, 1, Array.from({ length: 10 }, (_, i) => [i * 4, Math.min(37, i * 4 + 4)])],
    [1 << 20, 8, [[0, 37]]],
  ] as [number, number, [number, number][]][]) {
    const r = readAll(new ChunkReader(chunk), a, 37, group);
    assert.equal(r.spans, spans, `chunk ${chunk}, group ${group}`);
    assert.equal(r.bytes, whole.tensors.get('a')!.data);
  }
  // the same reader from memory: views of the bytes, the same chunks
  const m = readAll(new ChunkReader(200), whole.tensors.get('a')!, 37, 8);
  assert.equal(m.bytes, whole.tensors.get('a')!.data);
  assert.is(m.spans.length, 5);
  // c as [16][21] and as [48][7] rows
  for (const rows of [16, 48, 336]) assert.equal(readAll(new ChunkReader(100), lazy.tensors.get('c')!, rows, 1).bytes, whole.tensors.get('c')!.data);
  // `data` reads the tensor on first use and keeps it
  const b = lazy.tensors.get('b')!;
  assert.equal(toFloat32(b), toFloat32(whole.tensors.get('b')!));
  assert.not.ok(isDeferred(b));
  assert.ok(isDeferred(a), 'reading chunks does not load the tensor');
});

test('misaligned offsets: F32 data at an odd file offset comes back as the same floats, from the file and from memory', () => {
  // header padded so that the data buffer starts at byte 8 + 21 = 29, tensor x at data offset 3: file offset 32 + … odd
  const vals = Float32Array.from([1.5, -2.25, 3e-7, 65504, -0, 7]);
  const json = `{"pad":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"x":{"dtype":"F32","shape":[3,2],"data_offsets":[3,27]}}`;
  const header = new TextEncoder().encode(json + ' '.repeat(3));
  const bytes = new Uint8Array(8 + header.length + 27);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(header, 8);
  bytes.set([9, 9, 9], 8 + header.length);
  bytes.set(new Uint8Array(vals.buffer), 8 + header.length + 3);
  assert.ok((8 + header.length + 3) % 4 !== 0, 'x is misaligned in the file');
  const file = join(work, 'odd.safetensors');
  writeFileSync(file, bytes);
  for (const [where, t] of [['file', openSafetensorsFile(file).tensors.get('x')!], ['memory', parseSafetensors(bytes, file).tensors.get('x')!]] as const) {
    const got: number[] = [];
    const reader = new ChunkReader(8); // one row of 2 floats per chunk
    reader.rows(t, 'x', 3, 1, (b, r0) => {
      assert.is(b.byteOffset % 4, 0, `${where}: chunk bytes aligned for F32`);
      got.push(...reader.f32('F32', b, 'x'));
      assert.is(got.length, 2 * (r0 + 1));
    });
    assert.equal(got, [...vals], where);
  }
});

test('a chunk check sees every chunk with the index of its first element', () => {
  const t = f32([10, 3], 4);
  const firsts: number[] = [];
  new ChunkReader(24, (name, _t, b, first) => { assert.is(name, 'w'); assert.is(b.byteLength % 12, 0); firsts.push(first); }).rows(t, 'w', 10, 1, () => undefined);
  assert.equal(firsts, [0, 6, 12, 18, 24]);
});

test('a truncated file: refused at open (E_FORMAT naming the file) when the header already runs past its end', () => {
  const file = join(work, 'trunc.safetensors');
  const full = serializeSafetensors({ tensors: new Map([['a', f32([64, 8], 5)]]), metadata: {} });
  writeFileSync(file, full.subarray(0, full.length - 100));
  throwsCode(() => openSafetensorsFile(file), 'E_FORMAT', file, 'past the end of the data buffer', 'truncated');
  writeFileSync(file, full.subarray(0, 5));
  throwsCode(() => openSafetensorsFile(file), 'E_FORMAT', file, 'too short for a safetensors header');
  throwsCode(() => openSafetensorsFile(join(work, 'absent.safetensors')), 'E_IO', 'absent.safetensors', 'no such file');
});

test('a file truncated, grown or rewritten after its header was read: E_FORMAT naming it, one line, on the next read', () => {
  const file = join(work, 'moving.safetensors');
  const full = serializeSafetensors({ tensors: new Map([['a', f32([64, 8], 6)], ['b', f32([4], 7)]]), metadata: {} });
  const cases: [string, () => void, string][] = [
    ['truncated', () => truncateSync(file, full.length - 40), `now ${full.length - 40}`],
    ['grown', () => appendFileSync(file, new Uint8Array(16)), `now ${full.length + 16}`],
    ['rewritten in place', () => { writeFileSync(file, full); utimesSync(file, new Date(), new Date(Date.now() + 5000)); }, 'modified'],
  ];
  for (const [what, change, words] of cases) {
    writeFileSync(file, full);
    utimesSync(file, new Date(1e12), new Date(1e12));
    const table = openSafetensorsFile(file);
    const a = table.tensors.get('a')!;
    const reader = new ChunkReader(256);
    let chunks = 0;
    // the change lands between the header read and the data reads, here between two chunks of one tensor
    throwsCode(() => reader.rows(a, 'a', 64, 8, () => { if (chunks++ === 0) change(); }), 'E_FORMAT', file, 'changed while it was being loaded', words, 'load it again');
    assert.is(chunks, 1, what);
    throwsCode(() => table.tensors.get('b')!.data, 'E_FORMAT', file, 'changed while it was being loaded');
  }
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
