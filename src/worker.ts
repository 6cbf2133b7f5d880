/**
 * The Web Worker slimwav ships (dist/src/worker.js; a module worker). createWorkerModel() starts it and talks to it
 * (src/worker-protocol.ts): one model per worker, loaded once, then any number of extract calls and streams, answered
 * in order. Inside a worker of a cross-origin isolated page the model runs on threads; its one-line warnings (why
 * not) are sent back with the load reply so the page can show them.
 *
 * Abort: a request sent `abortable` gets its own AbortController here, made when the message arrives (so an 'abort'
 * that overtakes the queue still finds it); 'abort' fires it at once, outside the queue, and the model stops at its
 * next layer boundary and stays usable. The page has already rejected that call with its own signal's reason, so
 * what the worker answers for it is ignored.
 */
import { fail, SlimwavError } from './errors.js';
import { loadFromBuffers, loadFromUrl } from './browser.js';
import type { Model } from './model-core.js';
import type { FeatureStream, StreamFrames } from './stream.js';
import type { Features } from './model-core.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(msg: WorkerReply, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;
let model: Model | null = null;
/** AbortControllers of abortable extracts and streams, by request id (a stream's id is its 'stream' request's) */
const controllers = new Map<number, AbortController>();
/** open streams by id; 'closed' once flushed */
const streams = new Map<number, FeatureStream | 'closed'>();

function replyError(id: number, err: unknown): void {
  if (err instanceof SlimwavError) scope.postMessage({ id, ok: false, code: err.code, message: err.message });
  else scope.postMessage({ id, ok: false, code: 'E_WORKER', message: `worker: ${(err as Error)?.message ?? String(err)}` });
}

/** the result's arrays go to the page without a copy */
const buffers = (f: Features): Transferable[] => f.layers.map((l) => l.buffer as ArrayBuffer);

function openStream(id: number, op: string): FeatureStream {
  const st = streams.get(id);
  if (st === 'closed') fail('E_ARGS', `stream.${op}() after flush(); the stream is closed, start another with stream()`);
  if (!st) fail('E_ARGS', `stream.${op}(): no open stream ${id} in this worker`);
  return st;
}

async function handle(req: WorkerRequest): Promise<void> {
  if (req.type === 'load') {
    if (model) throw new SlimwavError('E_ARGS', 'this worker already holds a model; start another worker');
    const { wasmUrls, ...opts } = req.opts;
    const load = { ...opts, wasmUrl: wasmUrls ? (file: string) => wasmUrls[file] : undefined };
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => { warnings.push(a.join(' ')); warn.apply(console, a); };
    try {
      model = req.url !== undefined
        ? await loadFromUrl(req.url, load)
        : await loadFromBuffers({ config: req.config!, weights: req.weights!, name: req.name, preprocessor: req.preprocessor }, load);
    } finally {
      console.warn = warn;
    }
    scope.postMessage({ id: req.id, ok: true, loaded: { info: model.info, threads: model.threads, warnings } });
    return;
  }
  if (!model) throw new SlimwavError('E_ARGS', `${req.type}() before the model was loaded`);
  const signal = controllers.get(req.id)?.signal;
  if (signal?.aborted) {
    // aborted before its turn: nothing to run (the page has rejected it already)
    controllers.delete(req.id);
    if (req.type === 'stream') streams.set(req.id, 'closed');
    throw signal.reason;
  }
  switch (req.type) {
    case 'extract': {
      try {
        const features = await model.extract(req.pcm, { layers: req.layers, chunk: req.chunk, context: req.context, signal });
        scope.postMessage({ id: req.id, ok: true, features }, buffers(features));
      } finally {
        controllers.delete(req.id);
      }
      return;
    }
    case 'stream': {
      try {
        streams.set(req.id, model.stream({ layers: req.layers, chunk: req.chunk as number | undefined, context: req.context, signal }));
      } catch (err) {
        controllers.delete(req.id);
        throw err;
      }
      scope.postMessage({ id: req.id, ok: true, opened: true });
      return;
    }
    case 'push': case 'flush': {
      const st = openStream(req.stream, req.type);
      let frames: StreamFrames;
      if (req.type === 'push') {
        frames = await st.push(req.block);
      } else {
        streams.set(req.stream, 'closed');
        controllers.delete(req.stream);
        frames = await st.flush();
      }
      scope.postMessage({ id: req.id, ok: true, frames }, buffers(frames));
      return;
    }
  }
  throw new SlimwavError('E_ARGS', `unknown request ${JSON.stringify((req as { type?: unknown }).type)}`);
}

// Requests are handled one after another (a model runs one extract at a time); 'abort' at once.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const req = e.data;
  if (req?.type === 'abort') {
    controllers.get(req.id)?.abort();
    // an open stream holds its signal already: forget it (an extract's or a queued open's is dropped by handle())
    const st = streams.get(req.id);
    if (st !== undefined && st !== 'closed') {
      controllers.delete(req.id);
      streams.set(req.id, 'closed');
    }
    return;
  }
  if ((req?.type === 'extract' || req?.type === 'stream') && req.abortable) controllers.set(req.id, new AbortController());
  queue = queue.then(() => handle(req).catch((err) => replyError(req?.id ?? -1, err)));
};
