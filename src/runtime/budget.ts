/**
 * Memory limits as errors, up front. Every model runs in one WebAssembly memory: the kernels' static data, the packed
 * weights (filled at load) and an activation arena sized for the longest input so far (engine.ts, ensurePlan).
 * A wasm32 memory cannot pass 4 GiB (the shared builds: SHARED_MAX_PAGES pages), and a caller may set a lower cap
 * (`maxMemory`). Rather than failing inside memory.grow or a kernel, load() and extract() estimate what they need
 * from the config, the input length, the thread count and the options, and refuse with one E_MEMORY line saying
 * what is needed, what is available and what to change.
 *
 * The arena estimate is the engine's own layout (arena-layout.ts: the same function lays the buffers out), summed with
 * its alignment padding; the weight estimate is an upper bound (test/reliability/budget.test.ts checks both against
 * the memory's real size after runs).
 */
import { fail } from '../errors.js';
import type { ModelConfig } from '../arch/config.js';
import { TensorNames } from '../arch/binding.js';
import type { RawTensor } from '../format/tensor.js';
import { numel } from '../format/tensor.js';
import { packedFloats } from './pack.js';
import {
  arenaLayout, arenaLayoutBytes, isWinogradLayer, posConvDftSize, type PosConvMethod, type Q8Use, type ScratchSizes,
} from './arena-layout.js';
import { SHARED_MAX_PAGES } from './wasm.js';

const PAGE = 65536;
const ALIGN = 64;
/** the wasm32 address space less one page (memory.ts refuses beyond it) */
export const WASM32_MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;
export type { ScratchSizes } from './arena-layout.js';

export interface BudgetOptions {
  threads: number;
  /** bytes; engine default 16 MB (CONV_BUDGET_FLOATS) */
  convMemoryBudget?: number;
  posConv?: PosConvMethod;
  winograd?: boolean;
  /** the model's int8 GEMMs (Engine.q8Uses), known once the engine is built */
  q8?: readonly Q8Use[];
}

const bytesOf = (floats: number) => Math.ceil((Math.max(floats, 1) * 4) / ALIGN) * ALIGN;
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const mib = (b: number) => (b >= 2 ** 30 ? gib(b) : `${(b / 2 ** 20).toFixed(2)} MiB`);

/**
 * Upper bound of the bytes the packed weights take (packing pads each weight to whole 8-column panels; Winograd
 * conv layers keep three packed forms; the DFT positional conv keeps its spectra and transform matrices), plus the
 * largest scratch the load itself uses above them.
 */
export function estimateWeightBytes(cfg: ModelConfig, tensors: Map<string, RawTensor>, o: BudgetOptions): number {
  let b = 0;
  for (const [name, t] of tensors) {
    if (name.startsWith(`${TensorNames.posConv}.weight`)) continue; // counted below in its runtime form
    const rows = t.shape[0] ?? 1, n = numel(t.shape);
    b += bytesOf(packedFloats(rows, rows > 0 ? n / rows : 0) + 8 * (rows > 0 ? n / rows : 0)); // + fusion padding
  }
  // Winograd conv layers: w0+w2 [C][Cin] and two [C][2·Cin] pairs, about 5/3 of the layer's own weight
  let cin = 1;
  for (const l of cfg.conv) {
    if (isWinogradLayer(l, o.winograd)) b += bytesOf(packedFloats(l.dim, 5 * cin));
    cin = l.dim;
  }
  const D = cfg.hidden, G = cfg.posConvGroups, C = D / G, Kw = cfg.posConvKernel;
  const dft = posConvDftSize(cfg, o.posConv);
  if (dft) {
    const W2 = 2 * dft.NBp;
    b += bytesOf(packedFloats(W2, dft.N)) + bytesOf(packedFloats(dft.L, W2)) + G * bytesOf(C * C * W2);
    b += bytesOf(packedFloats(W2, Kw)) + bytesOf(G * C * C * Kw); // scratch above the weights while the spectra are built
  } else {
    b += G * bytesOf(packedFloats(C, Kw * C));
  }
  return b + bytesOf(D); // positional conv bias
}

/** The activation arena (bytes) the engine lays out for `samples` samples: its own layout (arena-layout.ts), summed. */
export function estimateArenaBytes(cfg: ModelConfig, samples: number, o: BudgetOptions, k: ScratchSizes): number {
  const convBudgetFloats = o.convMemoryBudget !== undefined ? Math.floor(o.convMemoryBudget / 4) : undefined;
  const layout = arenaLayout(cfg, samples, { threads: o.threads, convBudgetFloats, posConv: o.posConv, winograd: o.winograd, q8: o.q8 }, k);
  return arenaLayoutBytes(layout); // the arena starts at the (aligned) end of the weights
}

/** What one model may grow to: the wasm32 (or shared build's) limit, or the caller's maxMemory if lower. */
export function memoryLimit(shared: boolean, maxMemory?: number): { bytes: number; why: string } {
  const hard = shared ? Math.min(WASM32_MAX_BYTES, SHARED_MAX_PAGES * PAGE) : WASM32_MAX_BYTES;
  if (maxMemory !== undefined && maxMemory < hard) return { bytes: maxMemory, why: `maxMemory ${mib(maxMemory)}` };
  return { bytes: hard, why: shared ? `the threaded build's ${gib(hard)} limit` : `the ${gib(hard)} a wasm32 module can address` };
}

/** Refuse a `maxMemory` option that is not a positive number of bytes. */
export function checkMaxMemory(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < PAGE) fail('E_ARGS', `maxMemory must be a number of bytes ≥ ${PAGE}, found ${JSON.stringify(v)}`);
  return v;
}

/** At load: refuse (E_MEMORY) a model whose packed weights cannot fit next to the kernels' static data. */
export function checkLoadBudget(cfg: ModelConfig, tensors: Map<string, RawTensor>, source: string, base: number, o: BudgetOptions,
  limit: { bytes: number; why: string }): void {
  const need = base + estimateWeightBytes(cfg, tensors, o);
  if (need > limit.bytes) {
    fail('E_MEMORY', `${source}: the packed weights need ${mib(need)} of WebAssembly memory but ${mib(limit.bytes)} is available (${limit.why}); ` +
      'this model cannot run here (raise maxMemory if it is set, or prune the model)');
  }
}

/** What a model remembers to check its inputs (registered by buildModel). */
export interface ModelBudget {
  cfg: ModelConfig;
  memory: WebAssembly.Memory;
  /** end of the packed weights (the arena starts here) */
  top: number;
  opts: BudgetOptions;
  limit: { bytes: number; why: string };
  scratch: ScratchSizes;
}

/** Budgets of live models (buildModel registers each; extract checks against it). */
export const modelBudgets = new WeakMap<object, ModelBudget>();

/** Upper bound of the memory (bytes) a run over `samples` samples leaves the model's memory at. */
export function estimateRunBytes(mb: ModelBudget, samples: number): number {
  return Math.max(mb.memory.buffer.byteLength, runEnd(mb, samples));
}

/** weights + arena for `samples`, in whole pages (memory grows by pages) */
function runEnd(mb: ModelBudget, samples: number): number {
  return Math.ceil((mb.top + estimateArenaBytes(mb.cfg, samples, mb.opts, mb.scratch)) / PAGE) * PAGE;
}

/** Before a run: refuse (E_MEMORY) an input whose activations cannot fit, saying how long an input would. */
export function checkRunBudget(mb: ModelBudget, samples: number): void {
  const end = runEnd(mb, samples);
  if (end <= mb.limit.bytes) return;
  // the longest input that fits, by bisection on the (monotone) estimate
  let lo = 0, hi = samples;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (runEnd(mb, mid) <= mb.limit.bytes) lo = mid; else hi = mid;
  }
  const hint = lo > 0 ? `inputs up to ${(Math.floor(lo / 160) / 100).toFixed(2)} s fit` : 'no input fits';
  const more = [mb.opts.threads > 1 ? 'fewer threads' : '', 'a lower convMemoryBudget', 'a shorter input (split the audio)'].filter(Boolean).join(', ');
  fail('E_MEMORY', `${(samples / 16000).toFixed(1)} s of audio needs ${mib(end)} of WebAssembly memory (weights ${mib(mb.top)}, ` +
    `activations ${mib(end - mb.top)}) but ${mib(mb.limit.bytes)} is available (${mb.limit.why}); ${hint} with these settings; try ${more}`);
}
