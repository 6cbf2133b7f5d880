/**
 * Linear-memory bookkeeping for one model: a bump region for packed weights (filled once at load) followed by an
 * activation arena planned for the longest input seen so far and reused by every later call.
 * All offsets are byte offsets, 64-byte aligned (one cache line; f32x4 loads need only 16).
 */
import { fail } from '../errors.js';

const PAGE = 65536;
const ALIGN = 64;
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE; // wasm32 limit

export const alignUp = (n: number, a = ALIGN) => Math.ceil(n / a) * a;

export class LinearMemory {
  readonly memory: WebAssembly.Memory;
  /** first free byte after the module's own static data */
  readonly base: number;
  /** end of the weight region (grows during load only) */
  top: number;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.memory = memory;
    this.base = alignUp(heapBase);
    this.top = this.base;
  }

  /** make sure bytes [0, end) are addressable */
  ensure(end: number): void {
    if (end > MAX_BYTES) {
      fail('E_ARGS', `needs ${(end / 2 ** 30).toFixed(2)} GiB of WebAssembly memory, more than the 4 GiB a wasm32 module can address`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** reserve `floats` f32 in the weight region */
  allocWeights(floats: number): number {
    const p = this.top;
    this.top = alignUp(p + floats * 4);
    this.ensure(this.top);
    return p;
  }

  /** a fresh view (views die when memory grows, so never keep one across an allocation) */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
}

/** Lays named buffers out back to back from `start`; `total` is the end offset. */
export class ArenaPlan {
  private next: number;
  readonly offsets = new Map<string, number>();
  constructor(start: number) {
    this.next = alignUp(start);
  }
  add(name: string, floats: number): number {
    const p = this.next;
    this.offsets.set(name, p);
    this.next = alignUp(p + Math.max(floats, 1) * 4);
    return p;
  }
  get end(): number {
    return this.next;
  }
}
