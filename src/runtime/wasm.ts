/**
 * Loads a kernel module (build/slimwav.*.wasm) into a WebAssembly.Memory the host owns, and a bump allocator (Arena)
 * over that memory. No model knowledge here: the kernel ABI is documented in assembly/ and typed by `KernelExports`
 * in abi.gen.ts, which scripts/gen-abi.js generates from the built module's exports (never edit it by hand).
 * Pointers are byte offsets, sizes and strides are element counts, data is f32.
 */
import { SlimwavError } from '../errors.js';
import type { KernelExports } from './abi.gen.js';
import { fail } from '../errors.js';
import { isNode, nodeModules as hostModules, NO_NODE_HOST, type NodeModules } from '../util/host.js';

export type { KernelExports } from './abi.gen.js';

export { isNode } from '../util/host.js';

/** The Node built-ins under Node (E_WASM where they cannot be had), null elsewhere. */
export function nodeModules(): NodeModules | null {
  const m = hostModules();
  if (!m && isNode()) fail('E_WASM', NO_NODE_HOST);
  return m;
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
      nodeModules()?.v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
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

/** Where the kernel files are, when not in the package's build/ folder (a bundled app copies them elsewhere). */
export interface WasmLocation {
  /**
   * Folder holding the slimwav.*.wasm files (URL relative to the page or worker, or under Node a folder path or
   * file: URL); the file of the chosen build is appended.
   */
  wasmBase?: string | URL;
  /** The URL (or Node path) of each kernel file by name, e.g. (file) => assetUrls[file]; wins over wasmBase. */
  wasmUrl?: (file: string) => string | URL;
}

/** The kernel file of a build, e.g. 'slimwav.relaxed.wasm'. */
export function kernelFile(variant: KernelVariant): string {
  return FILES[variant];
}

/** Where to look for a kernel file: the caller's location, else the package's build/ folder (src/ or dist/src/). */
function wasmCandidates(file: string, where: WasmLocation, node: boolean): (URL | string)[] {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  if (where.wasmUrl) {
    const u = where.wasmUrl(file);
    if (node && typeof u === 'string' && !/^file:/.test(u)) return [u];
    return [new URL(String(u), base)];
  }
  if (where.wasmBase !== undefined) {
    const b = String(where.wasmBase).replace(/\/?$/, '/');
    if (node && !/^file:/.test(b)) return [b + file];
    return [new URL(file, new URL(b, base))];
  }
  // From src/runtime/ (tsx, tests) the build folder is ../../build; from dist/src/runtime/ it is ../../../build.
  return ['../../build/', '../../../build/'].map((rel) => new URL(rel + file, import.meta.url));
}

/**
 * Compile a kernel build. Node reads the file; a browser (or Web Worker) fetches it, streaming-compiled where the
 * server sends application/wasm.
 */
async function compileWasm(variant: KernelVariant, where: WasmLocation = {}): Promise<WebAssembly.Module> {
  const tried: string[] = [];
  const file = FILES[variant];
  const node = nodeModules();
  const candidates = wasmCandidates(file, where, node !== null);
  if (node) {
    for (const loc of candidates) {
      const path = typeof loc === 'string' ? loc : node.url.fileURLToPath(loc);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await node.fs.readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        tried.push(path);
        continue;
      }
      return WebAssembly.compile(bytes);
    }
    throw new SlimwavError('E_WASM', `kernel module ${file} not found (looked at ${tried.join(', ')}); run npm run build, or set wasmBase`);
  }
  for (const loc of candidates) {
    const url = String(loc);
    let res: Response;
    try {
      res = await fetch(url);
    } catch {
      tried.push(url);
      continue;
    }
    if (!res.ok) {
      tried.push(`${url} (HTTP ${res.status})`);
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
  throw new SlimwavError('E_WASM', `kernel module ${file} could not be fetched (tried ${tried.join(', ')}); serve the package's build/ folder beside dist/, or copy the .wasm files and set wasmBase`);
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
 * the engine has none; bestVariant() picks a variant that loads. `where` says where the .wasm files are (default: the
 * package's build/ folder).
 */
export async function instantiateKernels(variant: KernelVariant = 'release', memory?: WebAssembly.Memory, where: WasmLocation = {}): Promise<Kernels> {
  if (!(variant in FILES)) {
    throw new SlimwavError('E_WASM', `unknown kernel variant '${variant}' (expected one of ${KERNEL_VARIANTS.join(', ')})`);
  }
  if (!simdSupported()) {
    throw new SlimwavError('E_WASM', 'this JavaScript engine does not support WebAssembly SIMD (v128); slimwav needs it');
  }
  if (isRelaxedVariant(variant) && !enableRelaxedSimd()) {
    throw new SlimwavError('E_WASM', `kernel variant '${variant}' needs WebAssembly relaxed SIMD, which this engine does not support; use '${variant.replace('relaxed', 'release').replace('release-debug', 'debug')}' (or bestVariant())`);
  }
  const module = await compileWasm(variant, where);
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
