/**
 * Worker threads over one shared WebAssembly.Memory.
 *
 * Every worker instantiates the same compiled kernel module over the same shared memory, then sleeps in
 * Atomics.wait. To run a parallel step the caller hands one command list per thread: list 0 runs on the calling
 * thread, list i on worker i. A command is a kernel name and its numeric arguments; the lists are written into a
 * shared Float64Array, each worker's sequence number is bumped and notified, and the caller waits until every
 * worker has published that sequence number as done. No message passing, no allocation per step.
 *
 * The worker body is plain JavaScript in a string: an eval worker under Node (tsx and dist/ alike), a Web Worker
 * from a Blob URL in browsers. Both get the same data ({module, memory, ctrl, cmds, index, names, capacity}) and
 * run the same loop; only the first lines (how the data arrives, how a message goes back) differ.
 *
 * Browsers: shared memory needs a cross-origin isolated page (COOP same-origin + COEP require-corp), and the
 * calling thread blocks in Atomics.wait, which a page's main thread may not do; so threads are used in browsers
 * only inside a Web Worker of an isolated page. threadSupport() says which case applies and why not.
 */
import { fail } from '../errors.js';
import { isNode, nodeModules, type KernelExports } from './wasm.js';
import { KERNEL_NAMES, type KernelName } from './abi.gen.js';

/** Kernels a command may name, by index (the worker resolves the same list): every function the module exports. */
export const KERNELS: readonly KernelName[] = KERNEL_NAMES;
export type { KernelName };
/**
 * A kernel call for a thread: the kernel's name and its arguments, typed from the generated ABI, so a command with
 * the wrong number of arguments does not compile.
 */
export type Command = { [K in KernelName]: [K, ...Parameters<KernelExports[K]>] }[KernelName];

const CMD_CAPACITY = 16384; // float64 slots per worker
// control block per worker (Int32): [seq, done, error, spare]
const SEQ = 0, DONE = 1, ERR = 2;

// The loop every worker runs once it has its data; `post` sends a message back to the pool.
const WORKER_LOOP = `
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel assertion failed'); } } });
const fns = names.map((n) => inst.exports[n]);
const c = new Int32Array(ctrl);
const q = new Float64Array(cmds);
const base = index * 4;
const args = [];
let seen = 0;
post({ ready: true });
for (;;) {
  Atomics.wait(c, base, seen);
  const seq = Atomics.load(c, base);
  if (seq === seen) continue;
  seen = seq;
  if (seq < 0) break;
  try {
    let p = index * capacity;
    const n = q[p++];
    for (let i = 0; i < n; i++) {
      const f = q[p++], na = q[p++];
      args.length = na;
      for (let j = 0; j < na; j++) args[j] = q[p++];
      fns[f].apply(null, args);
    }
  } catch (e) {
    Atomics.store(c, base + 2, 1);
    post({ error: String((e && e.message) || e) });
  }
  Atomics.store(c, base + 1, seq);
  Atomics.notify(c, base + 1);
}
`;

const NODE_WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrl, cmds, index, names, capacity } = workerData;
const post = (m) => parentPort.postMessage(m);
${WORKER_LOOP}`;

const BROWSER_WORKER_SOURCE = `
self.onmessage = (e) => {
  self.onmessage = null;
  const { module, memory, ctrl, cmds, index, names, capacity } = e.data;
  const post = (m) => self.postMessage(m);
  ${WORKER_LOOP}
};
`;

/** What a worker looks like to the pool, whichever host made it. */
interface PoolWorker {
  terminate(): void;
}

/** The one-line reasons threads are off in a browser. */
export const NOT_ISOLATED_WARNING = 'slimwav: running single-threaded: this page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp to enable threads)';
export const MAIN_THREAD_WARNING = 'slimwav: running single-threaded: a page\'s main thread may not block in Atomics.wait (load slimwav inside a Web Worker to enable threads)';

/** Whether worker threads can run here: null if yes, else the one-line reason (see the warnings above). */
export function threadSupport(): string | null {
  if (isNode()) return null;
  const g = globalThis as unknown as { crossOriginIsolated?: boolean; document?: unknown; SharedArrayBuffer?: unknown; Worker?: unknown };
  if (g.crossOriginIsolated !== true || typeof g.SharedArrayBuffer !== 'function') return NOT_ISOLATED_WARNING;
  if (typeof g.document !== 'undefined') return MAIN_THREAD_WARNING;
  if (typeof g.Worker !== 'function') return 'slimwav: running single-threaded: this worker cannot start nested Web Workers';
  return null;
}

/** Most threads a model or a pruning run may use. */
export const MAX_THREADS = 256;

/**
 * `t` when it is a valid thread count (a whole number from 1 to MAX_THREADS) or undefined; otherwise E_ARGS naming
 * `name` and showing `shown` (the value as the caller wrote it).
 */
export function checkThreads(t: number | undefined, name = 'threads', shown: string = JSON.stringify(t)): number | undefined {
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > MAX_THREADS)) {
    fail('E_ARGS', `${name} must be a whole number from 1 to ${MAX_THREADS}, found ${shown}`);
  }
  return t;
}

/** The thread count for a model or a pruning run: `t` checked (checkThreads), or the machine's cores when absent. */
export async function resolveThreads(t: number | undefined): Promise<number> {
  return checkThreads(t) ?? defaultThreads();
}

/** Threads to use when the caller does not say: the machine's cores. */
export async function defaultThreads(): Promise<number> {
  const node = nodeModules();
  if (node) return node.os.availableParallelism();
  const n = (globalThis as unknown as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Number.isInteger(n) && n! >= 1 ? Math.min(n!, 256) : 1;
}

type WorkerData = { module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: SharedArrayBuffer; cmds: SharedArrayBuffer; index: number; names: readonly string[]; capacity: number };

/** Start one worker; resolves once it is listening, reports its error messages to onError. */
async function startWorker(data: WorkerData, onError: (msg: string) => void, started: PoolWorker[]): Promise<void> {
  const node = nodeModules();
  if (node) {
    const w = new node.workerThreads.Worker(NODE_WORKER_SOURCE, { eval: true, workerData: data });
    started.push(w);
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', (e: Error) => reject(e));
    });
    w.on('message', (m: { error?: string }) => { if (m.error) onError(m.error); });
    w.unref();
    return;
  }
  const url = URL.createObjectURL(new Blob([BROWSER_WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  started.push(w);
  try {
    await new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => { e.preventDefault(); reject(new Error(e.message || 'worker failed to start')); };
      w.postMessage(data);
    });
  } finally {
    URL.revokeObjectURL(url);
  }
  w.onmessage = (e: MessageEvent<{ error?: string }>) => { if (e.data?.error) onError(e.data.error); };
}

/** Lists handed to worker threads by ThreadPool.start, for finish(). */
export interface Started {
  seq: number;
  busy: number[];
}

export class ThreadPool {
  /** threads including the caller */
  readonly size: number;
  private readonly workers: PoolWorker[];
  private readonly ctrl: Int32Array;
  private readonly cmds: Float64Array;
  private readonly local: KernelExports;
  private seq = 0;
  /** the last error message a worker posted (arrives asynchronously) */
  private readonly errors: { last: string };

  private constructor(local: KernelExports, workers: PoolWorker[], ctrl: Int32Array, cmds: Float64Array, errors: { last: string }) {
    this.local = local;
    this.errors = errors;
    this.workers = workers;
    this.ctrl = ctrl;
    this.cmds = cmds;
    this.size = workers.length + 1;
  }

  /** Start `threads − 1` workers over `memory` (which must be shared) running `module`. */
  static async create(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, local: KernelExports): Promise<ThreadPool> {
    const n = Math.max(0, threads - 1);
    const ctrlBuf = new SharedArrayBuffer(4 * 4 * Math.max(1, n + 1));
    const cmdBuf = new SharedArrayBuffer(8 * CMD_CAPACITY * Math.max(1, n + 1));
    const workers: PoolWorker[] = [];
    const errors = { last: '' };
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => startWorker(
        { module, memory, ctrl: ctrlBuf, cmds: cmdBuf, index: i + 1, names: KERNELS, capacity: CMD_CAPACITY },
        (msg) => { errors.last = msg; },
        workers,
      )));
    } catch (err) {
      for (const w of workers) void w.terminate();
      fail('E_WASM', `cannot start worker threads: ${(err as Error).message}`);
    }
    return new ThreadPool(local, workers, new Int32Array(ctrlBuf), new Float64Array(cmdBuf), errors);
  }

  /** Run list i on thread i (list 0 on the caller) and return when all are done. */
  run(lists: Command[][]): void {
    const started = this.dispatch(lists);
    const k = this.local as unknown as Record<string, (...a: number[]) => void>;
    for (const [name, ...args] of lists[0] ?? []) k[name](...args);
    this.finish(started);
  }

  /**
   * Start list i on worker thread i (list 0 must be empty: the caller's own work is not a kernel list) and return at
   * once; finish() waits for them. Meanwhile the caller may run JavaScript but no other pool work.
   */
  start(lists: Command[][]): Started {
    if (lists[0]?.length) fail('E_ARGS', 'ThreadPool.start: list 0 is the caller\'s; it must be empty');
    return this.dispatch(lists);
  }

  /** Hand lists 1… to the workers (list 0 is the caller's). */
  private dispatch(lists: Command[][]): Started {
    if (lists.length > this.size) fail('E_ARGS', `ThreadPool.run: ${lists.length} lists for ${this.size} threads`);
    const seq = ++this.seq;
    const busy: number[] = [];
    for (let t = 1; t < lists.length; t++) {
      if (lists[t].length === 0) continue;
      let p = t * CMD_CAPACITY;
      const q = this.cmds;
      q[p++] = lists[t].length;
      for (const [name, ...args] of lists[t]) {
        q[p++] = KERNELS.indexOf(name);
        q[p++] = args.length;
        for (const a of args) q[p++] = a;
        if (p >= (t + 1) * CMD_CAPACITY) fail('E_ARGS', 'ThreadPool.run: command list too long');
      }
      Atomics.store(this.ctrl, t * 4 + SEQ, seq);
      Atomics.notify(this.ctrl, t * 4 + SEQ);
      busy.push(t);
    }
    return { seq, busy };
  }

  /** Wait for the lists start() handed out. */
  finish({ seq, busy }: Started): void {
    for (const t of busy) {
      for (;;) {
        const done = Atomics.load(this.ctrl, t * 4 + DONE);
        if (done === seq) break;
        Atomics.wait(this.ctrl, t * 4 + DONE, done, 1000);
      }
      if (Atomics.load(this.ctrl, t * 4 + ERR)) {
        Atomics.store(this.ctrl, t * 4 + ERR, 0);
        fail('E_TRAP', `a kernel trapped in worker thread ${t}${this.errors.last ? ` (${this.errors.last})` : ''}; this is a slimwav bug, please report it`);
      }
    }
  }

  /** Stop the workers. */
  terminate(): void {
    for (let t = 1; t < this.size; t++) {
      Atomics.store(this.ctrl, t * 4 + SEQ, -1);
      Atomics.notify(this.ctrl, t * 4 + SEQ);
    }
    for (const w of this.workers) void w.terminate();
  }
}
