import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';
import * as st from '../../src/format/safetensors.js';
import { parseSafetensors, serializeSafetensors, readSafetensorsFile } from '../../src/format/safetensors.js';
import { writeFileAtomic, readFileBytes } from '../../src/format/fsutil.js';
import { DTYPE_BYTES, fromFloat32, numel, toFloat32, type RawTensor, type TensorTable } from '../../src/format/tensor.js';
import { throwsCode, rejectsCode } from '../ref/assert.js';

const FILE = 'weights/bad.safetensors';

/** A file built by hand (not by our writer): header JSON as given, then `data`. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), headerLenOverride?: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, headerLenOverride ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32Bytes(...v: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(v).buffer);
}

function table(): TensorTable {
  const tensors = new Map<string, RawTensor>();
  tensors.set('w', fromFloat32(new Float32Array([1, -2, 3.5, 0.25, -0, 1e-3]), [2, 3]));
  tensors.set('half', fromFloat32(new Float32Array([1, -0.5, 65504, 6e-8]), [4], 'F16'));
  tensors.set('bf', { dtype: 'BF16', shape: [3], data: new Uint8Array([0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40]) }); // 1, -2, 3.140625
  tensors.set('idx', { dtype: 'I64', shape: [2], data: new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) });
  tensors.set('mask', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 1, 255]) });
  tensors.set('empty', { dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) });
  tensors.set('scalar', fromFloat32(new Float32Array([7]), []));
  return { tensors, metadata: { config: '{"model_type":"hubert"}', format: 'pt', 'ünï': 'cödé' } };
}

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  for (const f of ['parseSafetensors', 'serializeSafetensors', 'readSafetensorsFile'] as const) assert.type(st[f], 'function');
  assert.type(writeFileAtomic, 'function');
});
exportsSuite.run();

// ---

const parse = suite('parseSafetensors');

parse('hand-built file: values, shapes, metadata, views share the input buffer', () => {
  const data = new Uint8Array(12);
  data.set(f32Bytes(1.5, -2), 0);
  data.set([0x00, 0x3c, 0x00, 0xc0], 8); // F16 1, -2
  const bytes = rawFile(
    '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]}}  ',
    data,
  );
  const t = parseSafetensors(bytes, FILE);
  assert.equal([...t.tensors.keys()], ['a', 'b']);
  assert.equal(t.metadata, { format: 'pt' });
  const a = t.tensors.get('a')!;
  assert.is(a.dtype, 'F32');
  assert.equal(a.shape, [2]);
  assert.equal([...toFloat32(a)], [1.5, -2]);
  assert.equal([...toFloat32(t.tensors.get('b')!)], [1, -2]);
  assert.is(a.data.buffer, bytes.buffer, 'no copy');
  assert.is(t.tensors.get('b')!.data.byteOffset, bytes.length - 4);
});

parse('unaligned input (odd byteOffset) still reads correctly', () => {
  const file = rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32Bytes(0.5, 4));
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  const t = parseSafetensors(shifted.subarray(1), FILE);
  assert.equal([...toFloat32(t.tensors.get('a')!)], [0.5, 4]);
});

parse('accepted edge cases: empty header, null metadata, zero-sized tensors, gaps', () => {
  assert.is(parseSafetensors(rawFile('{}'), FILE).tensors.size, 0);
  assert.equal(parseSafetensors(rawFile('{"__metadata__":null}'), FILE).metadata, {});
  const z = parseSafetensors(rawFile('{"z":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', new Uint8Array(4)), FILE);
  assert.is(z.tensors.get('z')!.data.length, 0);
  const gap = parseSafetensors(rawFile('{"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}', new Uint8Array([9, 9, 9, 9, 1, 2])), FILE);
  assert.equal([...gap.tensors.get('a')!.data], [1, 2]);
});

const ok = (name = 'a', dtype = 'F32', shape = '[2]', off = '[0,8]') => `"${name}":{"dtype":"${dtype}","shape":${shape},"data_offsets":${off}}`;

parse('refuses: too short, header length past the file or over 100 MB', () => {
  throwsCode(() => parseSafetensors(new Uint8Array(5), FILE), 'E_FORMAT', FILE, '5 bytes');
  throwsCode(() => parseSafetensors(rawFile('{}', new Uint8Array(0), 3000), FILE), 'E_FORMAT', FILE, '3000', 'past the end');
  const huge = rawFile('{}');
  new DataView(huge.buffer).setUint32(4, 1, true); // N = 2^32 + 2
  throwsCode(() => parseSafetensors(huge, FILE), 'E_FORMAT', FILE, 'limit');
  const big = rawFile('{}', new Uint8Array(0), 200 * 1024 * 1024);
  throwsCode(() => parseSafetensors(big, FILE), 'E_FORMAT', FILE, 'limit');
});

parse('refuses: header not UTF-8, not JSON, not an object', () => {
  const bytes = rawFile('{"a":1}');
  bytes[10] = 0xff;
  throwsCode(() => parseSafetensors(bytes, FILE), 'E_FORMAT', FILE, 'UTF-8');
  throwsCode(() => parseSafetensors(rawFile('{"a":'), FILE), 'E_FORMAT', FILE, 'header is not valid JSON');
  throwsCode(() => parseSafetensors(rawFile(''), FILE), 'E_FORMAT', FILE, 'JSON');
  throwsCode(() => parseSafetensors(rawFile('[1,2]'), FILE), 'E_FORMAT', FILE, 'object', 'array');
  throwsCode(() => parseSafetensors(rawFile('"x"'), FILE), 'E_FORMAT', FILE, 'object');
});

parse('refuses duplicate tensor names (JSON.parse would keep the last silently)', () => {
  const h = `{${ok('a', 'F32', '[1]', '[0,4]')},${ok('a', 'F32', '[1]', '[4,8]')}}`;
  assert.is(Object.keys(JSON.parse(h)).length, 1, 'the trap this test is about');
  throwsCode(() => parseSafetensors(rawFile(h, new Uint8Array(8)), FILE), 'E_FORMAT', FILE, '"a"', 'twice');
});

parse('refuses bad tensor entries', () => {
  const d8 = new Uint8Array(8);
  const cases: [string, string[]][] = [
    [`{${ok('a', 'F8_E4M3')}}`, ['"a"', 'F8_E4M3', 'not supported']],
    [`{${ok('a', 'f32')}}`, ['"a"', 'dtype']],
    [`{"a":{"dtype":3,"shape":[2],"data_offsets":[0,8]}}`, ['"a"', 'dtype']],
    [`{${ok('a', 'F32', '[-2]')}}`, ['"a"', 'shape', '-2']],
    [`{${ok('a', 'F32', '[2.5]')}}`, ['"a"', 'shape']],
    [`{${ok('a', 'F32', '["2"]')}}`, ['"a"', 'shape']],
    [`{${ok('a', 'F32', '2')}}`, ['"a"', 'shape']],
    [`{${ok('a', 'F32', '[1e300]')}}`, ['"a"', 'shape']],
    [`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, ['"a"', 'shape']],
    [`{${ok('a', 'F32', '[3]')}}`, ['"a"', 'needs 12 bytes', 'hold 8']],
    [`{${ok('a', 'F32', '[1]')}}`, ['"a"', 'needs 4 bytes']],
    [`{${ok('a', 'F32', '[1048576,1048576,1048576,1048576]', '[0,8]')}}`, ['"a"', 'needs']],
    [`{${ok('a', 'F32', '[0]', '[8,0]')}}`, ['"a"', 'begin after end']],
    [`{${ok('a', 'F32', '[2]', '[4,12]')}}`, ['"a"', 'end 12', 'past the end of the data']],
    [`{${ok('a', 'F32', '[2]', '[0]')}}`, ['"a"', 'data_offsets']],
    [`{${ok('a', 'F32', '[2]', '[0,8,9]')}}`, ['"a"', 'data_offsets']],
    [`{${ok('a', 'F32', '[2]', '[-1,7]')}}`, ['"a"', 'data_offsets']],
    [`{"a":[1,2]}`, ['"a"', 'entry must be an object']],
    [`{"a":null}`, ['"a"', 'entry must be an object']],
    [`{"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}`, ['"dtype"', 'twice']],
  ];
  for (const [h, parts] of cases) throwsCode(() => parseSafetensors(rawFile(h, d8), FILE), 'E_FORMAT', FILE, ...parts);
});

parse('refuses overlapping tensors, accepts touching ones', () => {
  const d = new Uint8Array(16);
  throwsCode(() => parseSafetensors(rawFile(`{${ok('a', 'F32', '[2]', '[0,8]')},${ok('b', 'F32', '[2]', '[4,12]')}}`, d), FILE), 'E_FORMAT', FILE, '"a"', '"b"', 'overlap');
  throwsCode(() => parseSafetensors(rawFile(`{${ok('b', 'U8', '[16]', '[0,16]')},${ok('a', 'F32', '[1]', '[8,12]')}}`, d), FILE), 'E_FORMAT', 'overlap');
  throwsCode(() => parseSafetensors(rawFile(`{${ok('a', 'F32', '[2]', '[0,8]')},${ok('b', 'F32', '[2]', '[0,8]')}}`, d), FILE), 'E_FORMAT', 'overlap');
  const t = parseSafetensors(rawFile(`{${ok('b', 'F32', '[2]', '[8,16]')},${ok('a', 'F32', '[2]', '[0,8]')}}`, d), FILE);
  assert.is(t.tensors.size, 2);
});

parse('refuses metadata that is not string → string', () => {
  throwsCode(() => parseSafetensors(rawFile('{"__metadata__":{"epochs":3}}'), FILE), 'E_FORMAT', FILE, '"epochs"', 'string', 'number');
  throwsCode(() => parseSafetensors(rawFile('{"__metadata__":{"c":{"x":"y"}}}'), FILE), 'E_FORMAT', FILE, '"c"');
  throwsCode(() => parseSafetensors(rawFile('{"__metadata__":["a"]}'), FILE), 'E_FORMAT', FILE, '__metadata__');
  throwsCode(() => parseSafetensors(rawFile('{"__metadata__":"x"}'), FILE), 'E_FORMAT', FILE, '__metadata__');
});

parse.run();

// ---

const ser = suite('serializeSafetensors');

ser('round trip: F32/F16/BF16/I64/U8, zero-sized, scalar, metadata', () => {
  const t = table();
  const bytes = serializeSafetensors(t);
  const back = parseSafetensors(bytes, 'rt.safetensors');
  assert.equal(back.metadata, t.metadata);
  assert.equal([...back.tensors.keys()].sort(), [...t.tensors.keys()].sort());
  for (const [name, a] of t.tensors) {
    const b = back.tensors.get(name)!;
    assert.is(b.dtype, a.dtype, name);
    assert.equal(b.shape, a.shape, name);
    assert.equal([...b.data], [...a.data], name);
  }
  assert.equal([...toFloat32(back.tensors.get('half')!)], [1, -0.5, 65504, 5.960464477539063e-8]);
  assert.equal([...toFloat32(back.tensors.get('bf')!)], [1, -2, 3.140625]);
  assert.equal([...toFloat32(back.tensors.get('idx')!)], [5, -1]);
  assert.equal([...toFloat32(back.tensors.get('scalar')!)], [7]);
});

ser('header padded with spaces to 8 + N ≡ 0 (mod 8); every tensor aligned to its element size, no gaps', () => {
  const bytes = serializeSafetensors(table());
  const n = new DataView(bytes.buffer).getUint32(0, true);
  assert.is((8 + n) % 8, 0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.ok(/^\{.*\} *$/.test(headerText), headerText);
  const back = parseSafetensors(bytes, 'x');
  let total = 0;
  for (const [name, t] of back.tensors) {
    assert.is(t.data.byteOffset % DTYPE_BYTES[t.dtype], 0, `${name} at ${t.data.byteOffset}`);
    total += t.data.byteLength;
  }
  assert.is(bytes.length, 8 + n + total, 'data packed without holes');
  // layout order: 8-byte dtypes first, then 4, 2, 1; names sorted within a size
  const order = Object.keys(JSON.parse(headerText)).filter((k) => k !== '__metadata__');
  assert.equal(order, ['idx', 'empty', 'scalar', 'w', 'bf', 'half', 'mask']);
});

ser('empty table and no-metadata table', () => {
  const bytes = serializeSafetensors({ tensors: new Map(), metadata: {} });
  assert.is(bytes.length, 16);
  assert.is(new TextDecoder().decode(bytes.subarray(8)), '{}      ');
  assert.is(parseSafetensors(bytes, 'e').tensors.size, 0);
});

ser('refuses inconsistent tensors (E_SHAPE, names the tensor)', () => {
  const bad = (t: RawTensor, name = 'x') => serializeSafetensors({ tensors: new Map([[name, t]]), metadata: {} });
  throwsCode(() => bad({ dtype: 'F32', shape: [3], data: new Uint8Array(8) }), 'E_SHAPE', '"x"', 'needs 12 bytes');
  throwsCode(() => bad({ dtype: 'F32', shape: [-1], data: new Uint8Array(0) }), 'E_SHAPE', '"x"');
  throwsCode(() => bad({ dtype: 'Q4' as never, shape: [1], data: new Uint8Array(1) }), 'E_SHAPE', 'Q4');
  throwsCode(() => bad({ dtype: 'U8', shape: [0], data: new Uint8Array(0) }, '__metadata__'), 'E_SHAPE', 'reserved');
  throwsCode(() => serializeSafetensors({ tensors: new Map(), metadata: { n: 3 as never } }), 'E_SHAPE', '"n"');
});

ser('round trip of random tables (property)', () => {
  const dtypes = Object.keys(DTYPE_BYTES) as (keyof typeof DTYPE_BYTES)[];
  const tensorArb = fc.record({
    dtype: fc.constantFrom(...dtypes),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  }).chain(({ dtype, shape }) =>
    fc.uint8Array({ minLength: numel(shape) * DTYPE_BYTES[dtype], maxLength: numel(shape) * DTYPE_BYTES[dtype] })
      .map((data): RawTensor => ({ dtype, shape, data })));
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 6 }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
      (tensors, metadata) => {
        const t: TensorTable = { tensors: new Map(Object.entries(tensors)), metadata: { ...metadata } };
        const back = parseSafetensors(serializeSafetensors(t), 'p');
        assert.is(back.tensors.size, t.tensors.size);
        for (const [name, a] of t.tensors) {
          const b = back.tensors.get(name)!;
          assert.ok(b, name);
          assert.is(b.dtype, a.dtype);
          assert.equal(b.shape, a.shape);
          assert.equal([...b.data], [...a.data]);
        }
        assert.equal({ ...back.metadata }, { ...t.metadata });
      },
    ),
    { numRuns: 150 },
  );
});

ser.run();

// ---

const fuzz = suite('parseSafetensors fuzz');

/** Parse must either yield tensors that lie inside the input and match their shapes, or throw SlimwavError. */
function parseOrSlimwavError(bytes: Uint8Array): void {
  let t: TensorTable;
  try {
    t = parseSafetensors(bytes, 'fuzz.safetensors');
  } catch (e) {
    if (e instanceof SlimwavError) {
      assert.ok(e.message.startsWith('fuzz.safetensors: '), e.message);
      return;
    }
    throw e;
  }
  const headerEnd = 8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  for (const [name, r] of t.tensors) {
    assert.is(r.data.buffer, bytes.buffer, name);
    assert.ok(r.data.byteOffset >= bytes.byteOffset + headerEnd, `${name} starts inside the data buffer`);
    assert.ok(r.data.byteOffset + r.data.byteLength <= bytes.byteOffset + bytes.byteLength, `${name} ends inside the file`);
    assert.is(r.data.byteLength, numel(r.shape) * DTYPE_BYTES[r.dtype], name);
    toFloat32(r, name);
  }
}

const valid = serializeSafetensors(table());

fuzz('random mutations of a valid file (property)', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(valid.length) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(valid.length - 1), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('headerLen' as const), lo: fc.nat(0xffffffff), hi: fc.constantFrom(0, 0, 0, 1, 0xffffffff) }),
    fc.record({ kind: fc.constant('headerLenNear' as const), delta: fc.integer({ min: -16, max: 16 }) }),
    fc.record({ kind: fc.constant('digit' as const), at: fc.nat(valid.length - 1), digit: fc.integer({ min: 0, max: 9 }) }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      let b = valid.slice();
      for (const m of ms) {
        const dv = new DataView(b.buffer);
        if (m.kind === 'truncate') b = b.slice(0, Math.min(m.at, b.length));
        else if (b.length < 8) continue;
        else if (m.kind === 'set') b[m.at % b.length] = m.value;
        else if (m.kind === 'headerLen') { dv.setUint32(0, m.lo, true); dv.setUint32(4, m.hi, true); }
        else if (m.kind === 'headerLenNear') dv.setUint32(0, Math.max(0, dv.getUint32(0, true) + m.delta), true);
        else {
          // overwrite a digit inside the header: changes shapes and offsets while keeping the JSON valid
          const n = Math.min(dv.getUint32(0, true), b.length - 8);
          for (let k = 0; k < n; k++) {
            const i = 8 + ((m.at + k) % n);
            if (b[i] >= 0x30 && b[i] <= 0x39) { b[i] = 0x30 + m.digit; break; }
          }
        }
      }
      parseOrSlimwavError(b);
    }),
    { numRuns: 1500 },
  );
});

fuzz('random bytes, with and without a plausible header length (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, fixLen) => {
      if (fixLen && b.length >= 8) new DataView(b.buffer, b.byteOffset).setUint32(0, b.length - 8 - (b[0] % 8), true);
      parseOrSlimwavError(b);
    }),
    { numRuns: 500 },
  );
});

fuzz('random JSON headers (property)', () => {
  fc.assert(
    fc.property(fc.json(), fc.uint8Array({ maxLength: 32 }), (h, data) => parseOrSlimwavError(rawFile(h, data))),
    { numRuns: 300 },
  );
});

fuzz.run();

// ---

const files = suite('files');
const dir = mkdtempSync(join(tmpdir(), 'slimwav-st-'));
files.after(() => rmSync(dir, { recursive: true, force: true }));

files('writeFileAtomic + readSafetensorsFile round trip, no temp file left', async () => {
  const path = join(dir, 'model.safetensors');
  await writeFileAtomic(path, serializeSafetensors(table()));
  await writeFileAtomic(path, serializeSafetensors(table())); // overwrite works
  const t = await readSafetensorsFile(path);
  assert.equal([...toFloat32(t.tensors.get('w')!)], [...toFloat32(table().tensors.get('w')!)]);
  assert.equal(readdirSync(dir), ['model.safetensors']);
  assert.equal([...(await readFileBytes(path))], [...readFileSync(path)]);
});

files('E_IO naming the path: missing file, directory', async () => {
  const missing = join(dir, 'nope.safetensors');
  await rejectsCode(readSafetensorsFile(missing), 'E_IO', missing, 'no such file');
  const sub = join(dir, 'adir');
  mkdirSync(sub);
  await rejectsCode(readSafetensorsFile(sub), 'E_IO', sub, 'directory');
  rmSync(sub, { recursive: true });
});

files('a malformed file on disk is E_FORMAT naming the path', async () => {
  const path = join(dir, 'trunc.safetensors');
  writeFileSync(path, serializeSafetensors(table()).subarray(0, 100));
  await rejectsCode(readSafetensorsFile(path), 'E_FORMAT', path);
  rmSync(path);
});

files('writeFileAtomic failures: E_IO, temp file removed', async () => {
  const noDir = join(dir, 'missing-dir', 'out.npy');
  await rejectsCode(writeFileAtomic(noDir, new Uint8Array(4)), 'E_IO', noDir);
  const target = join(dir, 'is-a-dir');
  mkdirSync(target);
  await rejectsCode(writeFileAtomic(target, new Uint8Array(4)), 'E_IO', target);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no .tmp-<pid> left behind');
  assert.ok(readdirSync(dir).includes('is-a-dir'));
  rmSync(target, { recursive: true });
});

files.run();
