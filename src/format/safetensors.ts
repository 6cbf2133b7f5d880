/**
 * safetensors ⇄ TensorTable.
 *
 * File layout (all integers little-endian):
 *   [0, 8)        u64 N: byte length of the JSON header
 *   [8, 8+N)      UTF-8 JSON object:
 *                   { "<tensor name>": { "dtype": "F32", "shape": [d0, …], "data_offsets": [begin, end] }, …,
 *                     "__metadata__": { "<key>": "<string value>", … } }      (metadata optional)
 *                 possibly padded with trailing spaces
 *   [8+N, EOF)    data buffer; a tensor's bytes are data[begin, end), C order, little-endian elements
 *
 * The reader trusts nothing: every length is checked against the file before use, duplicate keys are refused
 * (JSON.parse would keep the last one silently), tensors may not overlap and must lie inside the data buffer.
 * Gaps between tensors are allowed. All problems are E_FORMAT. Tensor `data` are views into the input bytes (no copy);
 * openSafetensorsFile reads the header alone and leaves the tensors' bytes in the file until they are used.
 */
import { fail } from '../errors.js';
import { DTYPE_BYTES, type DType, type RawTensor, type TensorSource, type TensorTable } from './tensor.js';
import { decodeUtf8, isJsonObject, parseJson } from './json.js';
import { fileStamp, readFileBytes, readRangeSync, type FileStamp } from './fsutil.js';

/** Headers beyond this are refused before decoding (real ones are well under 1 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The header length N from the first 8 bytes, checked against the file size (E_FORMAT naming the file). */
function headerLength(first: Uint8Array, fileSize: number, fileName: string): number {
  const bad: (msg: string) => never = (msg) => fail('E_FORMAT', `${fileName}: ${msg}`);
  if (fileSize < 8) bad(`file is ${fileSize} bytes, too short for a safetensors header (needs at least 8)`);
  const dv = new DataView(first.buffer, first.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > MAX_HEADER_BYTES) bad(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (8 + headerLen > fileSize) bad(`header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
  return headerLen;
}

/** A tensor's place in the data buffer, as the header declares it (checked). */
interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The JSON header (its bytes, without the 8-byte length) → checked tensor entries and metadata; `dataLen` is the
 * length of the data buffer that follows the header in the file.
 */
function parseHeader(headerBytes: Uint8Array, dataLen: number, fileName: string): { entries: Entry[]; metadata: Record<string, string> } {
  const bad: (msg: string) => never = (msg) => fail('E_FORMAT', `${fileName}: ${msg}`);
  const header = parseJson(decodeUtf8(headerBytes, fileName, 'header'), fileName, 'header');
  if (!isJsonObject(header)) bad(`header must be a JSON object, found ${Array.isArray(header) ? 'an array' : JSON.stringify(header)}`);

  const entries: Entry[] = [];
  const metadata: Record<string, string> = {};
  const ranges: { name: string; begin: number; end: number }[] = [];

  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (entry === null) continue;
      if (!isJsonObject(entry)) bad(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') bad(`${METADATA_KEY}.${JSON.stringify(k)} must be a string, found ${v === null ? 'null' : typeof v}`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isJsonObject(entry)) bad(`${where}: entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDType(dtype)) {
      bad(`${where}: dtype ${JSON.stringify(dtype)} is not supported (expected one of ${Object.keys(DTYPE_BYTES).join(' ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      bad(`${where}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      bad(`${where}: data_offsets must be [begin, end] with non-negative integers, found ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) bad(`${where}: data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLen) bad(`${where}: data_offsets end ${end} is past the end of the data buffer (${dataLen} bytes; file truncated?)`);
    // BigInt: a lying shape like [2^40, 2^40] must not round to a matching byte count.
    let need = BigInt(DTYPE_BYTES[dtype]);
    for (const d of shape as number[]) need *= BigInt(d);
    if (need !== BigInt(end - begin)) {
      bad(`${where}: ${dtype}${JSON.stringify(shape)} needs ${need} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype, shape: [...(shape as number[])], begin, end });
    if (end > begin) ranges.push({ name, begin, end });
  }

  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1], b = ranges[i];
    if (b.begin < a.end) {
      bad(`tensors ${JSON.stringify(a.name)} [${a.begin}, ${a.end}) and ${JSON.stringify(b.name)} [${b.begin}, ${b.end}) overlap`);
    }
  }
  return { entries, metadata };
}

export function parseSafetensors(bytes: Uint8Array, fileName: string): TensorTable {
  const headerLen = headerLength(bytes, bytes.byteLength, fileName);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.byteLength - dataStart, fileName);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: bytes.subarray(dataStart + e.begin, dataStart + e.end) });
  return { tensors, metadata };
}

/**
 * Open a .safetensors file reading only its header: the same checks as parseSafetensors, but each tensor's bytes
 * stay in the file (RawTensor.source) until they are used. ChunkReader streams them through a small buffer (the
 * loader packs weights that way); `t.data` reads the whole tensor on first use. Every later read checks that the
 * file still has the size and modification time it had here (E_FORMAT if not). E_IO if it cannot be read.
 */
export function openSafetensorsFile(path: string): TensorTable {
  const stamp = fileStamp(path);
  const first = new Uint8Array(8);
  if (stamp.size >= 8) readRangeSync(path, 0, first, stamp);
  const headerLen = headerLength(first, stamp.size, path);
  const headerBytes = new Uint8Array(headerLen);
  readRangeSync(path, 8, headerBytes, stamp);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(headerBytes, stamp.size - dataStart, path);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) tensors.set(e.name, fileTensor(path, stamp, dataStart + e.begin, e));
  return { tensors, metadata };
}

/** A RawTensor whose bytes [at, at + length) of `path` are read on first use of `data` (and then kept). */
function fileTensor(path: string, stamp: FileStamp, at: number, e: Entry): RawTensor {
  const length = e.end - e.begin;
  let data: Uint8Array | null = null;
  const source: TensorSource = {
    get loaded() { return data !== null; },
    read(offset: number, dst: Uint8Array): void {
      if (offset < 0 || offset + dst.byteLength > length) throw new RangeError(`${e.name}: bytes [${offset}, ${offset + dst.byteLength}) of ${length}`);
      if (data) dst.set(data.subarray(offset, offset + dst.byteLength));
      else readRangeSync(path, at + offset, dst, stamp);
    },
  };
  const t = { dtype: e.dtype, shape: e.shape, source } as RawTensor;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    get: (): Uint8Array => {
      if (!data) {
        const d = new Uint8Array(length);
        readRangeSync(path, at, d, stamp);
        data = d;
      }
      return data;
    },
    set: (v: Uint8Array) => { data = v; },
  });
  return t;
}

/**
 * TensorTable → safetensors bytes.
 *
 * Data layout: tensors ordered by element size (8, 4, 2, 1 bytes) and then by name, packed with no gaps, like the
 * reference writer. Since the data buffer starts at a multiple of 8 (the header is padded with spaces to make
 * 8 + N a multiple of 8), every tensor then starts at a multiple of its element size. The header lists
 * `__metadata__` first (only if non-empty), then the tensors in that same data order.
 */
export function serializeSafetensors(table: TensorTable): Uint8Array {
  const entries = [...table.tensors.entries()];
  for (const [name, t] of entries) {
    const where = `serializeSafetensors: tensor ${JSON.stringify(name)}`;
    if (name === METADATA_KEY) fail('E_SHAPE', `${where}: the name is reserved for metadata`);
    if (!isDType(t.dtype)) fail('E_SHAPE', `${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
      fail('E_SHAPE', `${where}: shape must be non-negative integers, found ${JSON.stringify(t.shape)}`);
    }
    let need = DTYPE_BYTES[t.dtype];
    for (const d of t.shape) need *= d;
    if (t.data.byteLength !== need) {
      fail('E_SHAPE', `${where}: ${t.dtype}${JSON.stringify(t.shape)} needs ${need} bytes, found ${t.data.byteLength}`);
    }
  }
  for (const [k, v] of Object.entries(table.metadata)) {
    if (typeof v !== 'string') fail('E_SHAPE', `serializeSafetensors: metadata ${JSON.stringify(k)} must be a string, found ${typeof v}`);
  }

  entries.sort(([na, a], [nb, b]) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));

  const parts: string[] = [];
  if (Object.keys(table.metadata).length > 0) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(table.metadata)}`);
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;

  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Read and parse a .safetensors file; E_IO if it cannot be read, E_FORMAT if it is malformed. */
export async function readSafetensorsFile(path: string): Promise<TensorTable> {
  return parseSafetensors(await readFileBytes(path), path);
}
