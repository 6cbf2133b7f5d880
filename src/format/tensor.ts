/**
 * The in-memory tensor table every reader produces and every writer consumes: names → {dtype, shape, bytes}.
 * Readers never convert; `toFloat32` does, once, when the runtime packs weights.
 */
import { fail } from '../errors.js';

export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface RawTensor {
  dtype: DType;
  shape: number[];
  /**
   * little-endian element bytes, C order, exactly numel × DTYPE_BYTES[dtype] long (a tensor with a `source` reads
   * them from its file on first use and keeps them)
   */
  data: Uint8Array;
  /**
   * Where the bytes are when they have not been read yet (a safetensors file opened by openSafetensorsFile):
   * ChunkReader streams them through a reusable buffer instead of reading the whole tensor into memory.
   */
  source?: TensorSource;
}

/** A tensor's bytes in a file, read on demand. */
export interface TensorSource {
  /** true once `data` has been read (then reading from `data` costs nothing) */
  readonly loaded: boolean;
  /** bytes [offset, offset + dst.length) of the tensor's data into dst; E_IO / E_FORMAT (one line) when the file fails */
  read(offset: number, dst: Uint8Array): void;
}

/** True when t's bytes are still in its file (reading `t.data` would read all of them into a new buffer). */
export function isDeferred(t: RawTensor): boolean {
  return t.source !== undefined && !t.source.loaded;
}

/** Called with every chunk of bytes a ChunkReader passes on: (tensor name, tensor, bytes, index of its first element). */
export type ChunkCheck = (name: string, t: RawTensor, bytes: Uint8Array, first: number) => void;

/**
 * Reads tensors a few rows at a time through one reusable buffer, so that packing a model touches the buffer's
 * pages and the packed weights' and nothing more: a tensor still in its file (TensorSource) is read chunk by chunk
 * into the buffer; a tensor in memory is passed as views of its bytes (copied into the buffer only when its
 * offset is not a multiple of its element size). `check` sees every chunk (the load's NaN/Inf and int8-range scan).
 */
export class ChunkReader {
  private buf = new ArrayBuffer(0);
  private f32buf = new Float32Array(0);
  constructor(readonly chunkBytes = 2 << 20, readonly check: ChunkCheck | null = null) {}

  /**
   * Visit rows [0, rows) of t (each numel/rows elements) in chunks of whole groups of `group` rows (the last chunk may
   * end with a partial group), about chunkBytes each and at least one group: fn(bytes, firstRow, endRow). The bytes
   * are valid only during the call and start at a multiple of 8 in their buffer unless they are a view of t.data
   * whose offset already suits the dtype.
   */
  rows(t: RawTensor, name: string, rows: number, group: number, fn: (bytes: Uint8Array, r0: number, r1: number) => void): void {
    const elem = DTYPE_BYTES[t.dtype];
    const total = numel(t.shape) * elem;
    if (rows <= 0 || total === 0) return;
    const rowBytes = total / rows;
    if (!Number.isInteger(rowBytes)) fail('E_SHAPE', `${name}: ${t.dtype}${JSON.stringify(t.shape)} does not split into ${rows} rows`);
    const per = Math.max(group, Math.floor(this.chunkBytes / (rowBytes * group)) * group);
    const deferred = isDeferred(t);
    const data = deferred ? null : t.data;
    if (data && data.byteLength !== total) fail('E_SHAPE', `${name}: ${t.dtype}${JSON.stringify(t.shape)} needs ${total} bytes, found ${data.byteLength}`);
    const direct = data !== null && data.byteOffset % elem === 0;
    for (let r0 = 0; r0 < rows; r0 += per) {
      const r1 = Math.min(rows, r0 + per), n = (r1 - r0) * rowBytes, off = r0 * rowBytes;
      let bytes: Uint8Array;
      if (direct) {
        bytes = data.subarray(off, off + n);
      } else {
        bytes = this.scratch(n);
        if (data) bytes.set(data.subarray(off, off + n));
        else t.source!.read(off, bytes);
      }
      this.check?.(name, t, bytes, off / elem);
      fn(bytes, r0, r1);
    }
  }

  /** Chunk bytes of dtype `dtype` as f32: a view when they are aligned F32, else converted into a reusable buffer. */
  f32(dtype: DType, bytes: Uint8Array, name: string): Float32Array {
    const n = bytes.byteLength / DTYPE_BYTES[dtype];
    if (dtype === 'F32' && LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    if (this.f32buf.length < n) this.f32buf = new Float32Array(n);
    return toFloat32({ dtype, shape: [n], data: bytes }, name, this.f32buf.subarray(0, n));
  }

  private scratch(n: number): Uint8Array {
    if (this.buf.byteLength < n) this.buf = new ArrayBuffer(Math.ceil(n / 8) * 8);
    return new Uint8Array(this.buf, 0, n);
  }
}

export interface TensorTable {
  tensors: Map<string, RawTensor>;
  /** string → string metadata (safetensors `__metadata__`) */
  metadata: Record<string, string>;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** IEEE half → float (exact). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);
let F16_TABLE: Float32Array | null = null;

/** all 65536 half values as floats, built on first use (256 KB) */
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);
  }
  return F16_TABLE;
}

/** float → IEEE half, round to nearest even (for `convert --dtype f16`). */
export function f32ToF16(v: number): number {
  const u = U32_SCRATCH;
  F32_SCRATCH[0] = v;
  const x = u[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** true on little-endian hosts (all of today's), where F32 file bytes are already Float32Array's layout */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkedLength(t: RawTensor, name: string): number {
  const n = numel(t.shape);
  const bytes = DTYPE_BYTES[t.dtype];
  if (bytes === undefined) fail('E_SHAPE', `${name}: unsupported dtype ${t.dtype}`);
  if (t.data.byteLength !== n * bytes) {
    fail('E_SHAPE', `${name}: ${t.dtype}${JSON.stringify(t.shape)} needs ${n * bytes} bytes, found ${t.data.byteLength}`);
  }
  return n;
}

/**
 * Like toFloat32, but an F32 tensor whose bytes start at a multiple of 4 comes back as a view of those bytes (no copy,
 * no conversion): the caller must not write into it, and it keeps the whole underlying buffer (the file) alive.
 * Other dtypes, misaligned F32 and big-endian hosts get a fresh array.
 */
export function toFloat32View(t: RawTensor, name = 'tensor'): Float32Array {
  const n = checkedLength(t, name);
  if (t.dtype === 'F32' && LITTLE_ENDIAN && t.data.byteOffset % 4 === 0) return new Float32Array(t.data.buffer, t.data.byteOffset, n);
  return toFloat32(t, name);
}

/**
 * Any floating or integer tensor → a fresh Float32Array (the only dtype slimwav computes in), or into `out` (exactly
 * numel long) when given.
 */
export function toFloat32(t: RawTensor, name = 'tensor', out?: Float32Array): Float32Array {
  const n = checkedLength(t, name);
  if (out && out.length !== n) throw new RangeError(`toFloat32: ${name} has ${n} elements, out holds ${out.length}`);
  out ??= new Float32Array(n);
  if (t.dtype === 'F32' && LITTLE_ENDIAN) {
    // a byte copy is the conversion (into an aligned array whatever the source offset; not t.data.slice(), which is
    // a view, not a copy, when the bytes are a Node Buffer)
    new Uint8Array(out.buffer, out.byteOffset, n * 4).set(t.data);
    return out;
  }
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F16': {
      const table = f16Table();
      for (let i = 0; i < n; i++) out[i] = table[dv.getUint16(i * 2, true)];
      break;
    }
    case 'BF16': {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, dv.getUint16(i * 2, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      break;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      break;
  }
  return out;
}

/** Float32Array → RawTensor (F32, or F16 for shipping). */
export function fromFloat32(data: Float32Array, shape: number[], dtype: 'F32' | 'F16' = 'F32'): RawTensor {
  if (dtype === 'F32') {
    const copy = new Float32Array(data);
    return { dtype, shape: [...shape], data: new Uint8Array(copy.buffer) };
  }
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16(data[i]);
  return { dtype, shape: [...shape], data: new Uint8Array(out.buffer) };
}
