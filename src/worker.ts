/**
 * The Web Worker slimwav ships (dist/src/worker.js; a module worker). createWorkerModel() starts it and talks to it
 * (src/worker-protocol.ts): one model per worker, loaded once, then any number of extract calls, answered in order.
 * Inside a worker of a cross-origin isolated page the model runs on threads; its one-line warnings (why not) are
 * sent back with the load reply so the page can show them.
 */
import { SlimwavError } from './errors.js';
import { loadFromBuffers, loadFromUrl } from './browser.js';
import type { Model } from './model-core.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(msg: WorkerReply, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;
let model: Model | null = null;

function replyError(id: number, err: unknown): void {
  if (err instanceof SlimwavError) scope.postMessage({ id, ok: false, code: err.code, message: err.message });
  else scope.postMessage({ id, ok: false, code: 'E_WORKER', message: `worker: ${(err as Error)?.message ?? String(err)}` });
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
  if (req.type === 'extract') {
    if (!model) throw new SlimwavError('E_ARGS', 'extract() before the model was loaded');
    const features = await model.extract(req.pcm, { layers: req.layers });
    scope.postMessage({ id: req.id, ok: true, features }, features.layers.map((l) => l.buffer as ArrayBuffer));
    return;
  }
  throw new SlimwavError('E_ARGS', `unknown request ${JSON.stringify((req as { type?: unknown }).type)}`);
}

// Requests are handled one after another (a model runs one extract at a time).
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const req = e.data;
  queue = queue.then(() => handle(req).catch((err) => replyError(req?.id ?? -1, err)));
};
