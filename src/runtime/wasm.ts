/**
 * Loads a kernel module (build/slimwav.*.wasm) into a WebAssembly.Memory the host owns, and a bump allocator (Arena)
 * over that memory. No model knowledge here: the kernel ABI is documented in assembly/ and typed by `KernelExports`
 * in abi.gen.ts, which scripts/gen-abi.js generates from the built module's exports (never edit it by hand).
 * Pointers are byte offsets, sizes and strides are element counts, data is f32.
 */
import { SlimwavError } from '../errors.js';
import type { KernelExports } from './abi.gen.js';

export type { KernelExports } from './abi.gen.js';

/** True under Node (not in a browser or a Web Worker). Node-only modules are imported only behind this. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

const getBuiltin = isNode() ? (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule : undefined;
/** Node before 20.16 has no process.getBuiltinModule: node:v8 is then imported as this module loads (see nodeReady). */
let v8Module: typeof import('node:v8') | null = null;
const v8Loading: Promise<void> = isNode() && typeof getBuiltin !== 'function'
  ? import('node:v8').then((m) => { v8Module = m; }, () => undefined)
  : Promise.resolve();

/** Resolves once the Node built-ins enableRelaxedSimd() needs are loaded (at once on Node >= 20.16 and off Node). */
export function nodeReady(): Promise<void> {
  return v8Loading;
}

function nodeV8(): typeof import('node:v8') | null {
  if (!isNode()) return null;
  return typeof getBuiltin === 'function' ? (getBuiltin('node:v8') as typeof import('node:v8')) : v8Module;
}

/**
 * Which build of the kernels. Every build exports the same ABI.
 *   release / release-shared: SIMD128, multiply-add as f32x4.mul + f32x4.add, over a private / shared memory
 *   relaxed / relaxed-shared: the same with f32x4.relaxed_madd (FMA where the CPU has it; last-bit differences)
 *   debug / relaxed-debug:    asserts kept (contract violations throw), private memory
 * The shared builds need a shared memory (SHARED_MAX_PAGES maximum) so worker threads can run over it.
 */
export type KernelVariant = 'release' | 'release-shared' | 'relaxed' | 'relaxed-shared' | 'debug' | 'relaxed-debug';

const FILES: Record<KernelVariant, string> = {
  release: 'slimwav.simd.wasm',
  'release-shared': 'slimwav.simd-shared.wasm',
  relaxed: 'slimwav.relaxed.wasm',
  'relaxed-shared': 'slimwav.relaxed-shared.wasm',
  debug: 'slimwav.debug.wasm',
  'relaxed-debug': 'slimwav.relaxed-debug.wasm',
};

/** Every kernel variant, in the order above. */
export const KERNEL_VARIANTS = Object.keys(FILES) as KernelVariant[];

/** True for the builds compiled with relaxed SIMD (they need relaxedSimdSupported()). */
export function isRelaxedVariant(variant: KernelVariant): boolean {
  return variant.startsWith('relaxed');
}

/** True for the builds that import a shared memory. */
export function isSharedVariant(variant: KernelVariant): boolean {
  return variant.endsWith('-shared');
}

/** pages a shared memory may grow to (the whole wasm32 space; reserved, not committed) */
export const SHARED_MAX_PAGES = 65536;

export interface Kernels {
  exports: KernelExports;
  /** the compiled module, so worker threads can instantiate the same code over the same (shared) memory */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /**
   * First free byte (16-byte aligned) above the module's static data and workspace. Every instance over one memory
   * (worker threads) must be of the same build, so that they agree on where the workspace ends.
   */
  heapBase: number;
}

const PAGE = 65536;

/** True when this engine validates a module that uses a v128 value. */
export function simdSupported(): boolean {
  // (module (func (result v128) v128.const i32x4 0 0 0 0))
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, // code section: one body of 20 bytes, no locals, v128.const
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x0b, // end
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/**
 * True when this engine validates a module that uses f32x4.relaxed_madd. Only asks: on Node 20 (V8 11.3) relaxed
 * SIMD stays off until enableRelaxedSimd() sets V8's flag.
 */
export function relaxedSimdSupported(): boolean {
  // (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
  const zero = [0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // v128.const i32x4 0 0 0 0
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
    ...zero, ...zero, ...zero,
    0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
    0x0b, // end
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/**
 * Make relaxed SIMD available if this engine can have it, and say whether it is. On Node, where V8 11.x (Node 20)
 * keeps it behind --experimental-wasm-relaxed-simd, this sets that flag at run time (it must happen before the
 * relaxed module is compiled; newer Node ships the feature on and the flag is harmless). Elsewhere it only probes.
 */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdSupported()) return true;
  if (typeof process !== 'undefined' && process.versions?.node) {
    try {
      nodeV8()?.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // not a V8 that knows the flag: relaxed SIMD stays unavailable
    }
  }
  return relaxedSimdSupported();
}

/**
 * The fastest release build this engine runs: relaxed (FMA) when relaxed SIMD can be enabled, else the plain SIMD
 * build; `shared` picks the shared-memory twin (worker threads). May enable relaxed SIMD (see enableRelaxedSimd).
 */
export function bestVariant(shared: boolean): KernelVariant {
  if (enableRelaxedSimd()) return shared ? 'relaxed-shared' : 'relaxed';
  return shared ? 'release-shared' : 'release';
}

/**
 * Compile a kernel build. Node reads build/<file> from disk; a browser (or Web Worker) fetches it relative to this
 * module, streaming-compiled where the server sends application/wasm. From src/runtime/ (tsx, tests) the build
 * folder is ../../build; from dist/src/runtime/ it is ../../../build.
 */
async function compileWasm(variant: KernelVariant): Promise<WebAssembly.Module> {
  const tried: string[] = [];
  const candidates = ['../../build/', '../../../build/'].map((rel) => new URL(rel + FILES[variant], import.meta.url));
  if (isNode()) {
    const { readFile } = await import('node:fs/promises');
    const { fileURLToPath } = await import('node:url');
    for (const url of candidates) {
      try {
        return await WebAssembly.compile(await readFile(url));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        tried.push(fileURLToPath(url));
      }
    }
    throw new SlimwavError('E_WASM', `kernel module ${FILES[variant]} not found (looked at ${tried.join(', ')}); run npm run build`);
  }
  for (const url of candidates) {
    let res: Response;
    try {
      res = await fetch(url);
    } catch {
      tried.push(url.href);
      continue;
    }
    if (!res.ok) {
      tried.push(`${url.href} (HTTP ${res.status})`);
      continue;
    }
    if (typeof WebAssembly.compileStreaming === 'function' && (res.headers.get('content-type') ?? '').startsWith('application/wasm')) {
      const copy = res.clone();
      try {
        return await WebAssembly.compileStreaming(res);
      } catch {
        return WebAssembly.compile(await copy.arrayBuffer());
      }
    }
    return WebAssembly.compile(await res.arrayBuffer());
  }
  throw new SlimwavError('E_WASM', `kernel module ${FILES[variant]} could not be fetched (tried ${tried.join(', ')}); serve the package's build/ folder beside dist/`);
}

/** AssemblyScript strings: UTF-16LE code units, byte length in the u32 just before the pointer. */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr || ptr < 4 || ptr > memory.buffer.byteLength) return '';
  const bytes = new Uint32Array(memory.buffer, (ptr - 4) & ~3, 1)[0] ?? 0;
  if (ptr + bytes > memory.buffer.byteLength) return '';
  return String.fromCharCode(...new Uint16Array(memory.buffer.slice(ptr, ptr + (bytes & ~1))));
}

/**
 * Instantiate the kernels into `memory` (a new one if absent: shared for the -shared variants). The host allocates
 * from `heapBase` up. A relaxed variant enables relaxed SIMD first (enableRelaxedSimd) and fails with E_WASM where
 * the engine has none; bestVariant() picks a variant that loads.
 */
export async function instantiateKernels(variant: KernelVariant = 'release', memory?: WebAssembly.Memory): Promise<Kernels> {
  if (!(variant in FILES)) {
    throw new SlimwavError('E_WASM', `unknown kernel variant '${variant}' (expected one of ${KERNEL_VARIANTS.join(', ')})`);
  }
  await nodeReady();
  if (!simdSupported()) {
    throw new SlimwavError('E_WASM', 'this JavaScript engine does not support WebAssembly SIMD (v128); slimwav needs it');
  }
  if (isRelaxedVariant(variant) && !enableRelaxedSimd()) {
    throw new SlimwavError('E_WASM', `kernel variant '${variant}' needs WebAssembly relaxed SIMD, which this engine does not support; use '${variant.replace('relaxed', 'release').replace('release-debug', 'debug')}' (or bestVariant())`);
  }
  const module = await compileWasm(variant);
  const mem = memory ?? new WebAssembly.Memory(isSharedVariant(variant) ? { initial: 1, maximum: SHARED_MAX_PAGES, shared: true } : { initial: 1 });
  const abort = (msg: number, file: number, line: number, col: number): never => {
    const text = readString(mem, msg) || 'abort';
    const where = readString(mem, file);
    throw new Error(`slimwav kernel: ${text}${where ? ` at ${where}:${line}:${col}` : ''}`);
  };
  const instance = await WebAssembly.instantiate(module, { env: { memory: mem, abort } });
  const exports = instance.exports as unknown as KernelExports;
  const heapBase = (Number(exports.HEAP_BASE.value) + 15) & ~15;
  if (mem.buffer.byteLength < heapBase) mem.grow(Math.ceil((heapBase - mem.buffer.byteLength) / PAGE));
  return { exports, module, memory: mem, heapBase };
}

/**
 * Bump allocator over a kernel memory: 16-byte aligned byte offsets, grows the memory on demand.
 * Growing detaches every earlier view, so take views (f32) after the last alloc, right before use.
 */
export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly base: number;
  private top: number;

  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.base = (base + 15) & ~15;
    this.top = this.base;
  }

  /** Reserve `floats` f32 (0 is allowed) and return the byte offset of the first one. */
  alloc(floats: number): number {
    if (!Number.isInteger(floats) || floats < 0) throw new SlimwavError('E_ARGS', `Arena.alloc: bad size ${floats}`);
    const ptr = this.top;
    const end = ptr + ((floats * 4 + 15) & ~15);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  /** A fresh Float32Array over `n` floats at byte offset `ptr`. */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** Current top; pass it to `reset` to free everything allocated after it. */
  mark(): number {
    return this.top;
  }

  reset(mark = this.base): void {
    this.top = Math.max(this.base, Math.min(mark, this.top));
  }

  /** Bytes in use above the base. */
  get used(): number {
    return this.top - this.base;
  }
}
