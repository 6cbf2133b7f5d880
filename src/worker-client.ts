/**
 * createWorkerModel(): the model runs in the Web Worker slimwav ships (src/worker.ts), so a page needs no worker
 * code of its own and its main thread never blocks. The returned object has the Model's extract/dispose API.
 * Threads: inside that worker the model uses them when the page is cross-origin isolated (COOP/COEP).
 *
 * Failure is always a rejected promise with a code, never a hang: an error in the model is passed through with its
 * own code; a worker that throws outside a call, cannot start, or is disposed while a call runs rejects every
 * pending call (streams' push/flush included) with E_WORKER, and every later one.
 *
 * What Model has, the worker model has: extract's chunk/context (src/runtime/chunking.ts), an AbortSignal, and
 * stream(). Abort: the call rejects at once with the signal's reason, as Model's does (an AbortError DOMException
 * unless abort() was given another reason); the worker is told and stops that run at its next layer boundary, and
 * the next call runs as usual. Options are checked here with the functions Model uses (same codes, same lines) before
 * anything is sent; what only the worker can check (memory, a stream's chunk 'off') comes back from the worker.
 */
import { fail, SlimwavError } from './errors.js';
import { isJsonObject } from './format/json.js';
import { toPcm16k, type AudioInput, type Features, type LoadOptions, type ModelInfo } from './model-core.js';
import type { ModelConfig } from './arch/config.js';
import { resolveLayers, type LayerSelection } from './layers.js';
import { checkSignal, resolveChunking, type ChunkOptions } from './runtime/chunking.js';
import { KERNEL_VARIANTS, kernelFile } from './runtime/wasm.js';
import type { StreamBlock, StreamFrames } from './stream.js';
import type { WorkerLoadOptions, WorkerReply, WorkerRequest } from './worker-protocol.js';
import type { ModelBuffers } from './browser.js';

export interface WorkerModelOptions extends LoadOptions {
  /** Where slimwav's worker module is (default: worker.js next to this module). Set it when a bundler moves files. */
  workerUrl?: string | URL;
  /** Move the weights' buffer into the worker instead of copying it (it is then detached here; default false). */
  transferWeights?: boolean;
}

export interface WorkerModel {
  readonly info: ModelInfo;
  readonly config: ModelConfig;
  /** threads the worker runs the kernels on */
  readonly threads: number;
  /** the one-line reasons the worker gave for running on fewer threads than asked (empty when none) */
  readonly warnings: string[];
  /**
   * Model.extract in the worker: the same input forms (a 16 kHz Float32Array, or { samples, sampleRate }, resampled
   * here; the samples are copied, `input` stays usable) and options (layers, chunk, context, signal).
   */
  extract(input: AudioInput, opts?: WorkerExtractOptions): Promise<Features>;
  /**
   * Model.stream in the worker: push() 16 kHz blocks, get the frames that became final; flush() gives the rest and
   * closes it. The same frames as Model.stream (and as extract with the same chunk and context), bit for bit.
   */
  stream(opts?: WorkerStreamOptions): WorkerStream;
  /** Stop the worker; calls still running reject with E_WORKER. */
  dispose(): void;
}

/** Model's ExtractOptions that cross to a worker (capture cannot: it is a function). */
export interface WorkerExtractOptions extends ChunkOptions {
  layers?: LayerSelection;
  /** stops the call: it rejects with the signal's reason at once, the worker stops the run and stays usable */
  signal?: AbortSignal;
}

/** Model's StreamOptions, for the worker. */
export interface WorkerStreamOptions {
  layers?: LayerSelection;
  /** seconds of audio each window keeps (default 20) */
  chunk?: number;
  /** seconds of context on each side (default 1.5) */
  context?: number;
  /** aborts the stream: pending and later push/flush reject with the signal's reason */
  signal?: AbortSignal;
}

/** FeatureStream's API, running in the worker. */
export interface WorkerStream {
  /** samples pushed and taken so far */
  readonly samples: number;
  push(block: StreamBlock): Promise<StreamFrames>;
  flush(): Promise<StreamFrames>;
}

/** A request before it gets its id. */
type Request = WorkerRequest extends infer R ? R extends WorkerRequest ? Omit<R, 'id'> : never : never;

const here = (): string | undefined => (globalThis as { location?: { href: string } }).location?.href;

/** Resolve a URL option against the page, since the worker resolves relative URLs against its own location. */
const absolute = (u: string | URL): string => new URL(String(u), here()).href;

/** Load a model in slimwav's worker: from a folder URL (config.json + model.safetensors) or from buffers. */
export async function createWorkerModel(source: string | URL | ModelBuffers, opts: WorkerModelOptions = {}): Promise<WorkerModel> {
  if (typeof Worker !== 'function') fail('E_WORKER', 'createWorkerModel() needs Web Workers, which this environment does not have');
  const { workerUrl, wasmUrl, wasmBase, transferWeights, ...rest } = opts;
  const wopts: WorkerLoadOptions = { ...rest };
  if (wasmBase !== undefined) wopts.wasmBase = absolute(String(wasmBase).replace(/\/?$/, '/'));
  if (wasmUrl) wopts.wasmUrls = Object.fromEntries(KERNEL_VARIANTS.map((v) => [kernelFile(v), absolute(wasmUrl(kernelFile(v)))]));
  let load: Extract<Request, { type: 'load' }>;
  const transfer: Transferable[] = [];
  if (typeof source === 'string' || source instanceof URL) {
    load = { type: 'load', url: absolute(String(source).replace(/\/?$/, '/')), opts: wopts };
  } else {
    if (!source || !isJsonObject(source.config)) fail('E_ARGS', 'createWorkerModel() needs a model folder URL or { config: <parsed config.json object>, weights: <safetensors bytes> }');
    const w = source.weights;
    if (!(w instanceof Uint8Array || w instanceof ArrayBuffer)) fail('E_ARGS', `createWorkerModel(): weights must be an ArrayBuffer or Uint8Array, found ${Object.prototype.toString.call(w)}`);
    load = { type: 'load', config: source.config, weights: w, name: source.name, preprocessor: source.preprocessor, opts: wopts };
    if (transferWeights) transfer.push(w instanceof Uint8Array ? w.buffer as ArrayBuffer : w);
  }

  const url = workerUrl !== undefined ? absolute(workerUrl) : new URL('./worker.js', import.meta.url);
  const worker = new Worker(url, { type: 'module' });
  const pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: SlimwavError) => void }>();
  let nextId = 1;
  let dead: SlimwavError | null = null;
  const die = (err: SlimwavError): void => {
    if (!dead) dead = err;
    worker.terminate();
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.onmessage = (e: MessageEvent<WorkerReply>) => {
    const p = pending.get(e.data?.id);
    if (!p) return;
    pending.delete(e.data.id);
    p.resolve(e.data);
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    die(new SlimwavError('E_WORKER', `the slimwav worker (${String(url)}) failed: ${e.message || 'it could not be loaded or threw'}`));
  };
  worker.onmessageerror = () => die(new SlimwavError('E_WORKER', 'a message from the slimwav worker could not be read'));

  /**
   * Send a request and wait for its answer. `signal` (the page's): when it fires the call rejects with its reason and
   * the worker gets an 'abort' for `abortId` (the request itself, or the stream it belongs to).
   */
  const call = (req: Request, transfer: Transferable[] = [], signal?: AbortSignal, abortId?: number): Promise<WorkerReply> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      const onAbort = () => {
        if (!pending.delete(id)) return;
        if (!dead) worker.postMessage({ type: 'abort', id: abortId ?? id });
        reject(abortReason(signal!));
      };
      const done = () => signal?.removeEventListener('abort', onAbort);
      pending.set(id, { resolve: (r) => { done(); resolve(r); }, reject: (e) => { done(); reject(e); } });
      try {
        worker.postMessage({ ...req, id }, transfer);
      } catch (err) {
        // not structured-cloneable (a function, a symbol…): nothing reached the worker
        pending.delete(id);
        done();
        reject(new SlimwavError('E_ARGS', `${req.type}(): its arguments cannot be sent to the worker (${(err as Error)?.message ?? String(err)})`));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    }).then((r) => {
      if (!r.ok) throw new SlimwavError(r.code, r.message);
      return r;
    });
  };

  let loaded: Extract<WorkerReply, { loaded: unknown }>['loaded'];
  try {
    const r = await call(load, transfer);
    if (!('loaded' in r)) throw new SlimwavError('E_WORKER', 'the slimwav worker answered the load with something else');
    loaded = r.loaded;
  } catch (err) {
    die(err instanceof SlimwavError ? err : new SlimwavError('E_WORKER', String(err)));
    throw err;
  }
  const config = loaded.info.config;
  const live = () => { if (dead?.message === DISPOSED) fail('E_ARGS', 'this model was disposed; load it again'); };
  const frameReply = (r: WorkerReply, what: string): StreamFrames => {
    if (!('frames' in r)) throw new SlimwavError('E_WORKER', `the slimwav worker answered ${what} with something else`);
    return r.frames;
  };
  return {
    info: loaded.info,
    config,
    threads: loaded.threads,
    warnings: loaded.warnings,
    async extract(input, eopts = {}) {
      const pcm16k = toPcm16k(input);
      live();
      // Model.extract's checks, in its order, before anything is sent (the worker repeats them)
      resolveLayers(eopts.layers ?? 'last', config.numLayers);
      const signal = checkSignal(eopts.signal, 'extract()');
      resolveChunking(config, eopts, 'extract()', pcm16k.length);
      if (signal?.aborted) throw abortReason(signal);
      const { layers, chunk, context } = eopts;
      const r = await call({ type: 'extract', pcm: pcm16k.slice(), layers, chunk, context, abortable: !!signal }, [], signal);
      if (!('features' in r)) throw new SlimwavError('E_WORKER', 'the slimwav worker answered extract() with something else');
      return r.features;
    },
    stream(sopts = {}) {
      live();
      resolveLayers(sopts.layers ?? 'last', config.numLayers);
      const signal = checkSignal(sopts.signal, 'stream()');
      // chunk 'off' / 'auto' are refused by Model.stream itself (in the worker: the first push/flush says so)
      if ((sopts.chunk as unknown) !== 'off' && (sopts.chunk as unknown) !== 'auto') resolveChunking(config, sopts, 'stream()');
      const { layers, chunk, context } = sopts;
      const id = nextId; // the 'stream' request's id names the stream
      // opening is answered in order before any push; a failure to open (E_MEMORY, chunk 'off') rejects every call
      const opened = call({ type: 'stream', layers, chunk, context, abortable: !!signal }, [], signal);
      opened.catch(() => undefined);
      let samples = 0;
      // sent at once, so requests keep the order of the calls; a failed open is the answer of every later call
      const send = (req: Request, what: string): Promise<StreamFrames> => {
        try {
          live();
        } catch (err) {
          return Promise.reject(err);
        }
        if (signal?.aborted) return Promise.reject(abortReason(signal));
        const sent = call(req, [], signal, id);
        return opened.then(() => sent, (err) => { sent.catch(() => undefined); throw err; }).then((r) => frameReply(r, what));
      };
      return {
        get samples() { return samples; },
        async push(block) {
          const f = await send({ type: 'push', stream: id, block }, 'push()');
          samples += blockLength(block);
          return f;
        },
        flush: () => send({ type: 'flush', stream: id }, 'flush()'),
      };
    },
    dispose() {
      die(new SlimwavError('E_WORKER', DISPOSED));
    },
  };
}

/** The signal's reason, as Model's own abort gives it (throwIfAborted: an AbortError DOMException by default). */
const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new DOMException('This operation was aborted', 'AbortError');

/** samples in a block push() accepted */
const blockLength = (b: StreamBlock): number => ('samples' in b && !ArrayBuffer.isView(b) ? b.samples.length : (b as Float32Array).length);

const DISPOSED = 'the worker model was disposed while a call was running';
