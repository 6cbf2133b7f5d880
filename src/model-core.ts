/**
 * The public model object: buildModel() validates a parsed config and tensors, packs the weights into WebAssembly
 * memory once, and returns a Model whose extract() runs the forward pass. Each Model owns its own wasm instance and
 * memory, so dispose() releases everything it holds. Nothing here touches the file system (load() in model.ts
 * does), so this module and everything it imports also run in browsers (src/browser.ts).
 */
import { fail, SlimwavError } from './errors.js';
import { parseConfig, receptiveField, type ModelConfig } from './arch/config.js';
import { checkTensors, countMacs, countParams } from './arch/tensors.js';
import { checkInt8Range } from './arch/tensors.js';
import { checkConfigAgainstTensors, firstNonFinite, nonFiniteError, nonFiniteWarning } from './arch/limits.js';
import { ChunkReader, DTYPE_BYTES, isDeferred, numel, type ChunkCheck, type RawTensor } from './format/tensor.js';
import { Engine, type StageSink } from './runtime/engine.js';
import { LinearMemory } from './runtime/memory.js';
import { instantiateKernels, bestVariant, enableRelaxedSimd, isSharedVariant, type KernelVariant, type WasmLocation } from './runtime/wasm.js';
import { checkLoadBudget, checkMaxMemory, checkRunBudget, memoryLimit, modelBudgets } from './runtime/budget.js';
import { ThreadPool, threadSupport, resolveThreads } from './runtime/threads.js';
import { resolveLayers, type LayerSelection } from './layers.js';
import { toMono } from './format/audio.js';
import type { Preprocessor } from './format/preprocessor.js';
import {
  checkSignal, framesOf, maxWindowSamples, resolveChunking, streamWindowSamples, throwIfAborted, windowAt, windowCount,
  yieldToEventLoop, type ChunkOptions, type Chunking, type Window,
} from './runtime/chunking.js';
import { FeatureStream } from './stream.js';

/**
 * What extract() takes: mono samples at 16 kHz, or mono samples at any rate from 1 kHz to 1 MHz as Float32 (−1..1)
 * or Int16 (scaled by 1/32768), which are resampled to 16 kHz first.
 */
export type AudioInput = Float32Array | { samples: Float32Array | Int16Array; sampleRate: number };

export interface LoadOptions extends WasmLocation {
  /** threads running the kernels, the calling one included (default: available cores) */
  threads?: number;
  /**
   * Bytes one conv-stack activation buffer may take before the conv stack runs in chunks of output frames
   * (default 16 MB: about 2.5 s of audio for the standard stack in one piece; larger pieces are no faster). Lower it
   * to bound memory further.
   */
  convMemoryBudget?: number;
  /**
   * SIMD flavour: 'auto' (default) uses relaxed SIMD (fused multiply-add) where the engine has it, else plain SIMD128;
   * 'plain' forces SIMD128 (what every browser runs); 'relaxed' requires relaxed SIMD.
   */
  simd?: 'auto' | 'plain' | 'relaxed';
  /** 'release' (default) or 'debug' (asserts on; for tests) */
  build?: 'release' | 'debug';
  /**
   * How the positional convolution runs: 'auto' (default) through the discrete Fourier transform when that needs
   * under half the multiply-adds (wav2vec2's 128-tap conv: a sixth), else directly; 'direct' / 'dft' force one
   * (both compute the same function; tests compare them).
   */
  posConv?: 'auto' | 'direct' | 'dft';
  /**
   * Kernel-3 stride-2 conv layers (wav2vec2's layers 1–4) through Winograd's F(2,2) on their even taps, 5/6 of the
   * multiply-adds (default true); false runs them as one GEMM each.
   */
  winograd?: boolean;
  /**
   * What the linear layers and conv layers 1–6 compute in: 'auto' (default) as the file stores them (int8 weights
   * run the int8 kernels), 'q8' quantizes an f32 model's weights at load (int8, one scale per output channel) and
   * runs the int8 kernels, 'f32' runs in f32 even for an int8 file (its weights dequantized). model.info.dtype says
   * which one runs. Attention, the positional conv and conv layer 0 stay f32 either way.
   */
  dtype?: 'auto' | 'f32' | 'q8';
  /**
   * Weights holding NaN or ±Inf are refused (E_SHAPE naming the tensor) because every output would be NaN; true
   * loads them anyway with one warning line (for inspecting a broken checkpoint).
   */
  allowNonFinite?: boolean;
  /**
   * Most bytes of WebAssembly memory this model may use (weights + activations; default and maximum: the 4 GiB a
   * wasm32 module can address). load() and extract() refuse with E_MEMORY, before any work, what would need more.
   */
  maxMemory?: number;
}

export interface ExtractOptions extends ChunkOptions {
  /** 'all' = every hidden state 0..L, 'last' = L (default), or indices; HF output_hidden_states numbering */
  layers?: LayerSelection;
  /**
   * receives every intermediate stage (conv.i, proj, posconv, hidden.i) as a fresh [rows × cols] array; one pass
   * only (with capture, chunk 'auto' means 'off', and a chunk length is refused)
   */
  capture?: StageSink;
  /**
   * Stops the run: extract() then rejects with the signal's reason (an AbortError DOMException unless abort() was
   * given another) at the next layer boundary, and the model stays usable. With a signal the forward pass yields to
   * the event loop after the front end and after every layer, so a timer or another task can abort it.
   */
  signal?: AbortSignal;
}

/** model.stream()'s options: the chunking of extract() (chunk 'off' is refused: a stream needs windows) */
export interface StreamOptions {
  layers?: LayerSelection;
  /** seconds of audio each window keeps (default 20) */
  chunk?: number;
  /** seconds of context on each side (default 1.5); a frame arrives at most chunk + context seconds after its audio */
  context?: number;
  signal?: AbortSignal;
}

export interface Features {
  /** one [frames × dim] row-major array per requested layer, in the order requested */
  layers: Float32Array[];
  /** the hidden-state indices these are */
  indices: number[];
  frames: number;
  dim: number;
}

export interface ModelInfo {
  config: ModelConfig;
  params: number;
  macsPerSecond: number;
  source: string;
  notes: string[];
  /** the kernel build running this model */
  kernels: KernelVariant;
  /** what the linear layers compute in: 'q8' (int8 weights and kernels) or 'f32' (see LoadOptions.dtype) */
  dtype: 'f32' | 'q8';
  /**
   * preprocessor_config.json (or a single file's __metadata__.preprocessor) if the model has one; its
   * `do_normalize` became the config's (config.doNormalize: the waveform is normalised before the model). null: none.
   */
  preprocessor: Preprocessor | null;
}

export class Model {
  readonly config: ModelConfig;
  readonly info: ModelInfo;
  private engine: Engine | null;
  private pool: ThreadPool | null;

  /** @internal use load() */
  constructor(engine: Engine, info: ModelInfo, pool: ThreadPool | null = null) {
    this.engine = engine;
    this.pool = pool;
    this.config = info.config;
    this.info = info;
  }

  /** Frames produced for `samples` input samples (0 if too short). */
  get receptiveField(): number {
    return receptiveField(this.config);
  }

  /**
   * Run the model on mono audio: a Float32Array at 16 kHz, or `{ samples, sampleRate }` at any rate. Inputs longer
   * than 40 s run in windows (`chunk`, `context`: src/runtime/chunking.ts) unless `chunk: 'off'`.
   */
  async extract(input: AudioInput, opts: ExtractOptions = {}): Promise<Features> {
    this.live();
    const pcm16k = toPcm16k(input);
    const indices = resolveLayers(opts.layers ?? 'last', this.config.numLayers);
    const signal = checkSignal(opts.signal, 'extract()');
    if (opts.capture !== undefined && typeof opts.chunk === 'number') fail('E_ARGS', 'extract(): capture needs one pass over the input; leave chunk out or set it to \'off\'');
    const chunking = opts.capture !== undefined && opts.chunk === undefined ? null : resolveChunking(this.config, opts, 'extract()', pcm16k.length);
    // one window is the whole input (a chunk at least as long as it): the one-pass run, exactly
    let windows = chunking ? this.windowsOf(chunking, pcm16k.length) : null;
    if (windows && windows.length <= 1) windows = null;
    // E_MEMORY up front (runtime/budget.ts): the arena holds one window, not the input
    try {
      checkRunBudget(modelBudgets.get(this)!, windows ? maxWindowSamples(this.config, chunking!, pcm16k.length) : pcm16k.length);
    } catch (err) {
      if (windows && err instanceof SlimwavError && err.code === 'E_MEMORY') {
        fail('E_MEMORY', `extract() runs this ${(pcm16k.length / 16000).toFixed(1)} s input in windows, and one window does not fit: ${err.message}, or a smaller chunk`);
      }
      throw err;
    }
    // without a signal and with nothing queued the run is synchronous, as it always was; else it waits its turn
    if (!signal && this.pending === 0) return this.compute(pcm16k, indices, windows, opts.capture, undefined);
    return this.enqueue(() => this.compute(pcm16k, indices, windows, opts.capture, signal));
  }

  /**
   * A stream: push() 16 kHz blocks of any size as they arrive and get back the hidden-state frames that became final
   * (their right context arrived); flush() at the end gives the rest. The frames equal extract() of the whole signal
   * with the same chunk and context (src/stream.ts); latency: chunk + context seconds.
   */
  stream(opts: StreamOptions = {}): FeatureStream {
    this.live();
    const indices = resolveLayers(opts.layers ?? 'last', this.config.numLayers);
    const signal = checkSignal(opts.signal, 'stream()');
    if ((opts.chunk as unknown) === 'off' || (opts.chunk as unknown) === 'auto') fail('E_ARGS', `stream(): chunk must be a number of seconds > 0 (a stream always runs in windows), found '${opts.chunk}'`);
    const chunking = resolveChunking(this.config, opts, 'stream()')!;
    checkRunBudget(modelBudgets.get(this)!, streamWindowSamples(this.config, chunking));
    return new FeatureStream(this.config, chunking, indices, signal,
      (wave, w) => this.enqueue(() => this.compute(wave, indices, w, undefined, signal)));
  }

  /** The engine, or E_ARGS once disposed. */
  private live(): Engine {
    if (!this.engine) fail('E_ARGS', 'this model was disposed; load it again');
    return this.engine;
  }

  private windowsOf(c: Chunking, N: number): Window[] {
    const T = framesOf(this.config, N);
    return Array.from({ length: windowCount(c, T) }, (_, k) => windowAt(this.config, c, k, T, N));
  }

  /**
   * One pass over `pcm` (windows null), or each window with its kept frames copied out. Without a signal nothing
   * here awaits before the result is complete (the run happens synchronously within the call, as it always has);
   * with one, every layer and window is followed by a turn of the event loop and a look at the signal.
   */
  private async compute(pcm: Float32Array, layers: number[], windows: Window[] | null, capture: StageSink | undefined,
    signal: AbortSignal | undefined): Promise<Features> {
    let engine = this.live();
    const D = this.config.hidden;
    const trap = (err: unknown): never => {
      if (err instanceof WebAssembly.RuntimeError) fail('E_TRAP', `a kernel trapped (${err.message}); this is a slimwav bug, please report it`);
      throw err;
    };
    if (!signal) {
      try {
        if (!windows) {
          const { frames, layers: out } = engine.forward(pcm, { layers, capture });
          return { layers: out, indices: layers, frames, dim: D };
        }
        const c = collector(windows, layers, D);
        windows.forEach((w, i) => c.add(i, engine.forward(pcm.subarray(w.start, w.end), { layers })));
        return c.done();
      } catch (err) {
        return trap(err);
      }
    }
    const pause = async () => {
      await yieldToEventLoop();
      throwIfAborted(signal);
      engine = this.live(); // disposed while waiting: E_ARGS
    };
    throwIfAborted(signal);
    try {
      if (!windows) {
        const { frames, layers: out } = await engine.forwardAsync(pcm, { layers, capture }, pause);
        return { layers: out, indices: layers, frames, dim: D };
      }
      const c = collector(windows, layers, D);
      for (let i = 0; i < windows.length; i++) {
        if (i > 0) await pause();
        c.add(i, await engine.forwardAsync(pcm.subarray(windows[i].start, windows[i].end), { layers }, pause));
      }
      return c.done();
    } catch (err) {
      return trap(err);
    }
  }

  /** runs queued (pending > 0) one after another: a run yielding between layers must not share the arena */
  private pending = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.tail.then(fn).finally(() => { this.pending--; });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Release the WebAssembly memory. The model cannot be used afterwards. */
  dispose(): void {
    this.engine = null;
    this.pool?.terminate();
    this.pool = null;
  }

  /** Threads the kernels run on (1 = the calling thread only). */
  get threads(): number {
    return this.pool ? this.pool.size : 1;
  }
}

/** Features of consecutive windows: each window's kept frames copied into place. */
function collector(windows: Window[], layers: number[], D: number) {
  const first = windows.length ? windows[0].keepFrom : 0;
  const T = windows.length ? windows[windows.length - 1].keepTo - first : 0;
  const out = layers.map(() => new Float32Array(T * D));
  return {
    add(i: number, r: { frames: number; layers: Float32Array[] }): void {
      const w = windows[i], from = w.keepFrom - w.firstFrame, to = w.keepTo - w.firstFrame;
      if (r.frames < to) fail('E_TRAP', `window ${i} gave ${r.frames} frames, ${to} expected; this is a slimwav bug, please report it`);
      r.layers.forEach((l, j) => out[j].set(l.subarray(from * D, to * D), (w.keepFrom - first) * D));
    },
    done: (): Features => ({ layers: out, indices: layers, frames: T, dim: D }),
  };
}

/** extract()'s input → checked mono Float32 at 16 kHz (E_ARGS for a wrong type, E_AUDIO for unusable audio). */
export function toPcm16k(input: AudioInput): Float32Array {
  const kind = (v: unknown) => Object.prototype.toString.call(v);
  if (input instanceof Float32Array) {
    for (let i = 0; i < input.length; i++) {
      if (!Number.isFinite(input[i])) fail('E_AUDIO', `audio sample ${i} is ${input[i]}; samples must be finite`);
    }
    if (input.length === 0) fail('E_AUDIO', 'audio is empty (0 samples)');
    return input;
  }
  if (input === null || typeof input !== 'object' || ArrayBuffer.isView(input) || !('samples' in input)) {
    fail('E_ARGS', `extract() needs a Float32Array of 16 kHz samples or { samples, sampleRate }, found ${kind(input)}`);
  }
  const { samples, sampleRate } = input;
  if (!(samples instanceof Float32Array) && !(samples instanceof Int16Array)) {
    fail('E_ARGS', `extract(): samples must be a Float32Array or an Int16Array, found ${kind(samples)}`);
  }
  if (typeof sampleRate !== 'number' || !Number.isFinite(sampleRate) || sampleRate <= 0) {
    fail('E_ARGS', `extract(): sampleRate must be a positive number of Hz, found ${JSON.stringify(sampleRate) ?? kind(sampleRate)}`);
  }
  const x = samples instanceof Int16Array ? Float32Array.from(samples, (v) => v / 32768) : samples;
  return toMono([x], sampleRate, 'extract() audio');
}

/** Validate config against tensors and build the runtime model. */
export async function buildModel(
  configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, source: string, notes: string[], opts: LoadOptions = {},
  preprocessor: Preprocessor | null = null,
): Promise<Model> {
  checkConfigAgainstTensors(configJson, tensors, source, source); // before any plan is built (arch/limits.ts)
  const config = parseConfig(configJson, source);
  checkTensors(config, tensors, source);
  let threads = opts.build === 'debug' ? 1 : await resolveThreads(opts.threads);
  if (threads > 1) {
    const why = threadSupport(); // browsers: only in a Web Worker of a cross-origin isolated page
    if (why) {
      warnOnce(why);
      threads = 1;
    }
  }
  const variant = chooseVariant(opts, threads > 1);
  const kernels = await instantiateKernels(variant, undefined, { wasmBase: opts.wasmBase, wasmUrl: opts.wasmUrl });
  const budget = { threads, convMemoryBudget: opts.convMemoryBudget, posConv: opts.posConv, winograd: opts.winograd };
  const limit = memoryLimit(isSharedVariant(variant), checkMaxMemory(opts.maxMemory));
  checkLoadBudget(config, tensors, source, kernels.heapBase, budget, limit);
  // the workers boot on their own threads while this one scans the weights for NaN/Inf
  const poolStart = threads > 1 ? ThreadPool.create(threads, kernels.module, kernels.memory, kernels.exports) : Promise.resolve(null);
  const scan = new WeightScan(tensors, source, opts.allowNonFinite === true);
  try {
    scan.inMemory(); // E_SHAPE unless opted in; tensors still in their file are scanned as the engine reads them
  } catch (err) {
    void poolStart.then((p) => p?.terminate(), () => undefined);
    throw err;
  }
  const pool = await poolStart;
  const mem = new LinearMemory(kernels.memory, kernels.heapBase);
  let engine: Engine;
  try {
    const posConv = opts.posConv ?? 'auto';
    if (!['auto', 'direct', 'dft'].includes(posConv)) fail('E_ARGS', `posConv must be "auto", "direct" or "dft", found ${JSON.stringify(posConv)}`);
    if (opts.winograd !== undefined && typeof opts.winograd !== 'boolean') fail('E_ARGS', `winograd must be true or false, found ${JSON.stringify(opts.winograd)}`);
    const dtype = opts.dtype ?? 'auto';
    if (!['auto', 'f32', 'q8'].includes(dtype)) fail('E_ARGS', `dtype must be "auto", "f32" or "q8", found ${JSON.stringify(dtype)}`);
    engine = new Engine(config, tensors, kernels.exports, mem, pool, { posConv, winograd: opts.winograd, dtype }, undefined, scan.reader);
    scan.rest();
    if (opts.convMemoryBudget !== undefined) {
      if (!(opts.convMemoryBudget >= 1024)) fail('E_ARGS', `convMemoryBudget must be at least 1024 bytes, found ${opts.convMemoryBudget}`);
      engine.convBudget = Math.floor(opts.convMemoryBudget / 4);
    }
  } catch (err) {
    pool?.terminate();
    throw err;
  }
  const nonFinite = scan.warning();
  if (nonFinite) console.warn(`slimwav: warning: ${nonFinite}`);
  const info: ModelInfo = {
    config,
    params: countParams(config, tensors),
    macsPerSecond: countMacs(config, 16000).total,
    source,
    notes,
    kernels: variant,
    dtype: engine.dtype,
    preprocessor,
  };
  const model = new Model(engine, info, pool);
  modelBudgets.set(model, { cfg: config, memory: kernels.memory, top: mem.top, opts: { ...budget, q8: engine.q8Uses }, limit, scratch: kernels.exports });
  return model;
}

/**
 * The load's content checks: NaN/±Inf in float tensors (arch/limits.ts: refused, or one warning with
 * allowNonFinite) and −128 in int8 ones (arch/tensors.ts). Tensors in memory are scanned up front (inMemory);
 * tensors still in their file (load() opens safetensors lazily) are scanned chunk by chunk as the engine's reader
 * passes them, and whatever the engine did not read is streamed through the same reader afterwards (rest), so every
 * tensor is scanned once and none is read into memory whole for it. @internal (buildModel, bench/load.ts, tests)
 */
export class WeightScan {
  readonly reader: ChunkReader;
  private readonly deferred = new Set<string>();
  private readonly seen = new Map<string, number>();
  private readonly bad = new Set<string>();

  constructor(private readonly tensors: Map<string, RawTensor>, private readonly source: string, private readonly allow: boolean,
    chunkBytes?: number) {
    for (const [name, t] of tensors) if (isDeferred(t)) this.deferred.add(name);
    const check: ChunkCheck = (name, t, bytes, first) => {
      if (!this.deferred.has(name)) return;
      this.seen.set(name, (this.seen.get(name) ?? 0) + bytes.byteLength);
      if (t.dtype === 'I8') checkInt8Range(source, name, bytes, first);
      else if (!this.bad.has(name)) this.flag(name, firstNonFinite({ dtype: t.dtype, shape: [bytes.byteLength / DTYPE_BYTES[t.dtype]], data: bytes }), first);
    };
    this.reader = new ChunkReader(chunkBytes, check);
  }

  private flag(name: string, i: number, first: number): void {
    if (i < 0) return;
    if (!this.allow) nonFiniteError(this.source, name, first + i);
    this.bad.add(name);
  }

  /** The tensors already in memory (checkFiniteWeights' scan of them). */
  inMemory(): void {
    for (const [name, t] of this.tensors) if (!this.deferred.has(name)) this.flag(name, firstNonFinite(t), 0);
  }

  /** Scan the file-held tensors the reader has not passed in full (tensors the engine reads whole, unused ones). */
  rest(): void {
    for (const name of this.deferred) {
      const t = this.tensors.get(name)!, n = numel(t.shape);
      if (n === 0 || (this.seen.get(name) ?? 0) >= n * DTYPE_BYTES[t.dtype]) continue;
      this.seen.delete(name);
      this.reader.rows(t, name, n, 1, () => undefined);
    }
  }

  /** With allowNonFinite: the one warning line naming the tensors that hold NaN/±Inf, in the table's order; else null. */
  warning(): string | null {
    return nonFiniteWarning(this.source, [...this.tensors.keys()].filter((n) => this.bad.has(n)));
  }
}

const warned = new Set<string>();
/** One console line per reason per realm, not one per model. */
function warnOnce(line: string): void {
  if (warned.has(line)) return;
  warned.add(line);
  console.warn(line);
}

function chooseVariant(opts: LoadOptions, shared: boolean): KernelVariant {
  if (opts.build === 'debug') return 'debug';
  const simd = opts.simd ?? 'auto';
  if (simd === 'plain') return shared ? 'release-shared' : 'release';
  if (simd === 'relaxed') {
    if (!enableRelaxedSimd()) fail('E_WASM', 'relaxed SIMD was requested but this JavaScript engine does not support it; use simd: "plain" or "auto"');
    return shared ? 'relaxed-shared' : 'relaxed';
  }
  if (simd !== 'auto') fail('E_ARGS', `simd must be "auto", "plain" or "relaxed", found ${JSON.stringify(simd)}`);
  return bestVariant(shared);
}

export { checkThreads } from './runtime/threads.js';
