import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';
import * as npy from '../../src/format/npy.js';
import { decodeNpy, encodeNpy } from '../../src/format/npy.js';
import { throwsCode } from '../ref/assert.js';

const FILE = 'out/features.npy';

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

// Written by numpy 2.4.6 `np.save`: arange(6).reshape(2,3)*0.5-1, [1.5,-2.25,3], zeros((0,4)); and [7.0] with version=(2,0).
const NP_2x3 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIC/AAAAvwAAAAAAAAA/AACAPwAAwD8=');
const NP_3 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAQwAAAQEA=');
const NP_0x4 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDQpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=');
const NP_V2 = b64('k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMSwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAOBA');

/** A v1.0 file with the given header dict text (padded like numpy) and data bytes. */
function npyFile(dict: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let h = dict;
  while ((pre + h.length + 1) % 64) h += ' ';
  h += '\n';
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.set(data, pre + h.length);
  return out;
}

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  assert.type(npy.encodeNpy, 'function');
  assert.type(npy.decodeNpy, 'function');
});
exportsSuite.run();

// ---

const enc = suite('encodeNpy');

enc('byte-identical to numpy for 2-D, 1-D and empty arrays', () => {
  assert.equal([...encodeNpy(new Float32Array([-1, -0.5, 0, 0.5, 1, 1.5]), [2, 3])], [...NP_2x3]);
  assert.equal([...encodeNpy(new Float32Array([1.5, -2.25, 3]), [3])], [...NP_3]);
  assert.equal([...encodeNpy(new Float32Array(0), [0, 4])], [...NP_0x4]);
});

enc('header: 64-byte aligned data, ends in newline, 3-D and 0-D shapes', () => {
  const b = encodeNpy(new Float32Array(24), [2, 3, 4]);
  const hl = b[8] | (b[9] << 8);
  assert.is((10 + hl) % 64, 0);
  const h = new TextDecoder().decode(b.subarray(10, 10 + hl));
  assert.ok(h.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"), h);
  assert.ok(h.endsWith(' \n'));
  assert.is(b.length, 10 + hl + 96);
  const s = new TextDecoder().decode(encodeNpy(new Float32Array([5]), []).subarray(10, 70));
  assert.ok(s.includes("'shape': (), }"), s);
});

enc('a view into a larger buffer writes only its own values', () => {
  const big = new Float32Array([9, 1, 2, 9]);
  const d = decodeNpy(encodeNpy(big.subarray(1, 3), [2]), 'v.npy');
  assert.equal([...d.data], [1, 2]);
});

enc('shape/data mismatch is E_SHAPE', () => {
  throwsCode(() => encodeNpy(new Float32Array(5), [2, 3]), 'E_SHAPE', '[2,3]', '6', '5');
  throwsCode(() => encodeNpy(new Float32Array(0), [-1]), 'E_SHAPE', 'shape');
  throwsCode(() => encodeNpy(new Float32Array(0), [1.5, 0]), 'E_SHAPE', 'shape');
});

enc('round trip of random arrays (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }), fc.integer(), (shape, seed) => {
      const n = shape.reduce((a, d) => a * d, 1);
      const x = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed + i) * 1e3));
      const d = decodeNpy(encodeNpy(x, shape), 'p.npy');
      assert.equal(d.shape, shape);
      assert.equal([...d.data], [...x]);
    }),
    { numRuns: 200 },
  );
});

enc.run();

// ---

const dec = suite('decodeNpy');

dec('files written by numpy (v1.0 and v2.0)', () => {
  const a = decodeNpy(NP_2x3, FILE);
  assert.equal(a.shape, [2, 3]);
  assert.equal([...a.data], [-1, -0.5, 0, 0.5, 1, 1.5]);
  assert.equal(decodeNpy(NP_3, FILE).shape, [3]);
  assert.equal(decodeNpy(NP_0x4, FILE), { shape: [0, 4], data: new Float32Array(0) });
  assert.equal(decodeNpy(NP_V2, FILE), { shape: [1], data: new Float32Array([7]) });
});

dec('unaligned input is fine; double-quoted keys and key order do not matter', () => {
  const f = npyFile(`{"shape": (2,), "fortran_order": False, "descr": "<f4"}`, new Uint8Array(new Float32Array([3, 4]).buffer));
  const shifted = new Uint8Array(f.length + 3);
  shifted.set(f, 3);
  assert.equal([...decodeNpy(shifted.subarray(3), FILE).data], [3, 4]);
});

dec('refuses other dtypes, Fortran order and malformed files, naming the file', () => {
  const d8 = new Uint8Array(8);
  throwsCode(() => decodeNpy(new Uint8Array(5), FILE), 'E_FORMAT', FILE, 'magic');
  throwsCode(() => decodeNpy(new TextEncoder().encode('PK\x03\x04 not an npy file'), FILE), 'E_FORMAT', FILE, 'magic');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", d8), FILE), 'E_FORMAT', FILE, '<f8');
  throwsCode(() => decodeNpy(npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", d8), FILE), 'E_FORMAT', FILE, '>f4');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1, 2), }", new Uint8Array(16)), FILE), 'E_FORMAT', FILE, 'Fortran');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d8), FILE), 'E_FORMAT', FILE, 'needs 12', 'found 8');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", d8), FILE), 'E_FORMAT', FILE, 'needs 4', 'found 8');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", d8), FILE), 'E_FORMAT', FILE, 'needs');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': False}", d8), FILE), 'E_FORMAT', FILE, 'shape');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", d8), FILE), 'E_FORMAT', FILE, 'twice');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", d8), FILE), 'E_FORMAT', FILE, 'dimension');
  throwsCode(() => decodeNpy(npyFile("{'descr': '<f4' 'shape': (2,)}", d8), FILE), 'E_FORMAT', FILE, 'header');
  const v9 = NP_3.slice();
  v9[6] = 9;
  throwsCode(() => decodeNpy(v9, FILE), 'E_FORMAT', FILE, 'version 9.0');
  throwsCode(() => decodeNpy(NP_3.subarray(0, 60), FILE), 'E_FORMAT', FILE, 'header length 118');
});

dec('mutations of a valid file: a result or SlimwavError, never anything else (property)', () => {
  fc.assert(
    fc.property(fc.nat(NP_2x3.length), fc.nat(NP_2x3.length - 1), fc.integer({ min: 0, max: 255 }), (cut, at, v) => {
      const b = NP_2x3.slice(0, cut);
      if (at < b.length) b[at] = v;
      try {
        const d = decodeNpy(b, 'm.npy');
        assert.is(d.data.length, d.shape.reduce((a, x) => a * x, 1));
      } catch (e) {
        if (!(e instanceof SlimwavError)) throw e;
      }
    }),
    { numRuns: 500 },
  );
});

dec.run();
