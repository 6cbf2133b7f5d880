/**
 * createWorkerModel(): the model runs in the Web Worker slimwav ships (src/worker.ts), so a page needs no worker
 * code of its own and its main thread never blocks. The returned object has the Model's extract/dispose API.
 * Threads: inside that worker the model uses them when the page is cross-origin isolated (COOP/COEP).
 *
 * Failure is always a rejected promise with a code, never a hang: an error in the model is passed through with its
 * own code; a worker that throws outside a call, cannot start, or is disposed while a call runs rejects every
 * pending call with E_WORKER.
 */
import { fail, SlimwavError } from './errors.js';
import { isJsonObject } from './format/json.js';
import { toPcm16k, type AudioInput, type Features, type LoadOptions, type ModelInfo } from './model-core.js';
import type { ModelConfig } from './arch/config.js';
import type { LayerSelection } from './layers.js';
import { KERNEL_VARIANTS, kernelFile } from './runtime/wasm.js';
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
  /** Run the model on mono 16 kHz audio in the worker (the samples are copied; `pcm` stays usable). */
  /** the same input forms as Model.extract: a 16 kHz Float32Array, or { samples, sampleRate } (resampled here) */
  extract(input: AudioInput, opts?: { layers?: LayerSelection }): Promise<Features>;
  /** Stop the worker; calls still running reject with E_WORKER. */
  dispose(): void;
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

  const call = (req: Request, transfer: Transferable[] = []): Promise<WorkerReply> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id }, transfer);
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
  return {
    info: loaded.info,
    config: loaded.info.config,
    threads: loaded.threads,
    warnings: loaded.warnings,
    async extract(input, eopts = {}) {
      const pcm16k = toPcm16k(input);
      if (dead?.message === DISPOSED) fail('E_ARGS', 'this model was disposed; load it again');
      const r = await call({ type: 'extract', pcm: pcm16k.slice(), layers: eopts.layers });
      if (!('features' in r)) throw new SlimwavError('E_WORKER', 'the slimwav worker answered extract() with something else');
      return r.features;
    },
    dispose() {
      die(new SlimwavError('E_WORKER', DISPOSED));
    },
  };
}

const DISPOSED = 'the worker model was disposed while a call was running';
