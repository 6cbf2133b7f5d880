/**
 * NumPy .npy for float32 C-order arrays (what `slimwav features` writes).
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for v1.0, u32 LE for v2.0/3.0), then an ASCII Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (a, b), } padded with spaces and ending in "\n"
 * so that the data starts at a multiple of 64 bytes (numpy's own alignment), then the little-endian elements.
 * A 1-D shape is written "(n,)", a 0-D one "()".
 */
import { fail } from '../errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function shapeLiteral(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail('E_SHAPE', `encodeNpy: shape must be non-negative integers, found ${JSON.stringify(shape)}`);
  }
  const n = shape.reduce((a, d) => a * d, 1);
  if (n !== data.length) fail('E_SHAPE', `encodeNpy: shape ${JSON.stringify(shape)} holds ${n} values but the data has ${data.length}`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1; // + the final "\n"
  const headerLen = dict.length + 1 + ((ALIGN - (unpadded % ALIGN)) % ALIGN);
  if (headerLen > 0xffff) fail('E_SHAPE', `encodeNpy: shape ${JSON.stringify(shape)} makes a header too long for NPY v1.0`);
  const start = MAGIC.length + 4 + headerLen;
  const out = new Uint8Array(start + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = headerLen & 0xff;
  out[9] = headerLen >> 8;
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.fill(0x20, 10 + dict.length, start - 1);
  out[start - 1] = 0x0a;
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start);
  } else {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) dv.setFloat32(start + i * 4, data[i], true);
  }
  return out;
}

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

export function decodeNpy(bytes: Uint8Array, fileName: string): NpyArray {
  const bad: (msg: string) => never = (msg) => fail('E_FORMAT', `${fileName}: ${msg}`);
  if (bytes.byteLength < 10 || !MAGIC.every((b, i) => bytes[i] === b)) bad('not a .npy file (expected the magic "\\x93NUMPY")');
  const major = bytes[6];
  const minor = bytes[7];
  let headerAt: number;
  let headerLen: number;
  if (major === 1) {
    headerAt = 10;
    headerLen = bytes[8] | (bytes[9] << 8);
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) bad('file ends inside the .npy preamble');
    headerAt = 12;
    headerLen = new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
  } else {
    return bad(`.npy version ${major}.${minor} is not supported (expected 1.0, 2.0 or 3.0)`);
  }
  if (headerAt + headerLen > bytes.byteLength) bad(`.npy header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);
  let text = '';
  for (let i = 0; i < headerLen; i++) text += String.fromCharCode(bytes[headerAt + i]);
  const dict = parsePyDict(text, bad);

  const descr = dict.get('descr');
  if (descr !== '<f4') bad(`dtype ${JSON.stringify(descr)} is not supported (expected '<f4', little-endian float32)`);
  const shape = dict.get('shape');
  if (!Array.isArray(shape)) bad(`header has no 'shape' tuple`);
  const dims = shape as number[];
  const fortran = dict.get('fortran_order');
  if (typeof fortran !== 'boolean') bad(`header has no 'fortran_order' True/False`);
  if (fortran && dims.filter((d) => d > 1).length > 1) bad('Fortran-order arrays are not supported (expected C order)');

  const start = headerAt + headerLen;
  const have = bytes.byteLength - start;
  let need = 4n;
  for (const d of dims) need *= BigInt(d);
  if (need !== BigInt(have)) bad(`shape ${shapeLiteral(dims)} of float32 needs ${need} data bytes, found ${have}`);
  const data = new Float32Array(have / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(data.buffer).set(bytes.subarray(start));
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + start, have);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(i * 4, true);
  }
  return { shape: [...dims], data };
}

type PyValue = string | boolean | number[];

/** The tiny subset of Python literals numpy writes: {'key': 'str' | True | False | (int, …), …}. */
function parsePyDict(s: string, bad: (msg: string) => never): Map<string, PyValue> {
  let i = 0;
  const ws = (): void => { while (i < s.length && ' \t\r\n'.includes(s[i])) i++; };
  const expect = (c: string): void => {
    ws();
    if (s[i] !== c) bad(`malformed .npy header: expected '${c}' at offset ${i}, found ${JSON.stringify(s.slice(i, i + 10))}`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = s[i];
    if (q !== "'" && q !== '"') bad(`malformed .npy header: expected a quoted string at offset ${i}`);
    const end = s.indexOf(q, i + 1);
    if (end < 0) bad('malformed .npy header: unterminated string');
    const v = s.slice(i + 1, end);
    i = end + 1;
    return v;
  };
  const value = (): PyValue => {
    ws();
    if (s.startsWith('True', i)) { i += 4; return true; }
    if (s.startsWith('False', i)) { i += 5; return false; }
    if (s[i] === "'" || s[i] === '"') return str();
    if (s[i] !== '(') bad(`malformed .npy header: unexpected ${JSON.stringify(s.slice(i, i + 10))} at offset ${i}`);
    i++;
    const dims: number[] = [];
    for (;;) {
      ws();
      if (s[i] === ')') { i++; return dims; }
      const m = /^[0-9]+/.exec(s.slice(i, i + 20));
      if (!m) bad(`malformed .npy header: expected a dimension at offset ${i}`);
      const d = Number(m[0]);
      if (!Number.isSafeInteger(d)) bad(`.npy shape dimension ${m[0]} is too large`);
      dims.push(d);
      i += m[0].length;
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== ')') bad(`malformed .npy header: expected ',' or ')' at offset ${i}`);
    }
  };
  const out = new Map<string, PyValue>();
  expect('{');
  for (;;) {
    ws();
    if (s[i] === '}') { i++; break; }
    const key = str();
    if (out.has(key)) bad(`.npy header has the key '${key}' twice`);
    expect(':');
    out.set(key, value());
    ws();
    if (s[i] === ',') i++;
    else if (s[i] !== '}') bad(`malformed .npy header: expected ',' or '}' at offset ${i}`);
  }
  ws();
  if (i !== s.length) bad(`malformed .npy header: unexpected ${JSON.stringify(s.slice(i, i + 10))} after the dict`);
  return out;
}
