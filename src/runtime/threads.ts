/**
 * Worker threads over one shared WebAssembly.Memory.
 *
 * Every worker instantiates the same compiled kernel module over the same shared memory, then sleeps in
 * Atomics.wait. To run a parallel step the caller hands one command list per thread: list 0 runs on the calling
 * thread, list i on worker i. A command is a kernel name and its numeric arguments; the lists are written into a
 * shared Float64Array, each worker's sequence number is bumped and notified, and the caller waits until every
 * worker has published that sequence number as done. No message passing, no allocation per step.
 *
 * The worker body is plain JavaScript in a string (eval worker), so the same code runs under tsx, from dist/,
 * and later from a Blob URL in browsers.
 */
import { Worker } from 'node:worker_threads';
import { fail } from '../errors.js';
import type { KernelExports } from './wasm.js';

/** Kernels a command may name, by index (the worker resolves the same list). */
export const KERNELS = [
  'f32_gemm_packed', 'f32_gemm', 'f32_transpose', 'f32_attention', 'f32_layernorm', 'f32_gelu', 'f32_copy2d', 'f32_fill',
  'f32_groupnorm_time',
  // training (src/prune/ops.ts)
  'f32_pack_b', 'f32_pack_rows', 'f32_softmax_rows', 'f32_softmax_rows_backward', 'f32_attn_logits', 'f32_attn_logits_backward',
  'f32_gelu_backward', 'f32_layernorm_backward', 'f32_colsum', 'f32_colsum_mul', 'f32_mul_cols', 'f32_mul_cols_add', 'f32_add',
  'f32_axpy', 'f32_adamw', 'f32_col2im_add',
] as const;
export type KernelName = (typeof KERNELS)[number];
export type Command = [KernelName, ...number[]];

const CMD_CAPACITY = 16384; // float64 slots per worker
// control block per worker (Int32): [seq, done, error, spare]
const SEQ = 0, DONE = 1, ERR = 2;

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrl, cmds, index, names, capacity } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel assertion failed'); } } });
const fns = names.map((n) => inst.exports[n]);
const c = new Int32Array(ctrl);
const q = new Float64Array(cmds);
const base = index * 4;
const args = [];
let seen = 0;
parentPort.postMessage({ ready: true });
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
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
  Atomics.store(c, base + 1, seq);
  Atomics.notify(c, base + 1);
}
`;

export class ThreadPool {
  /** threads including the caller */
  readonly size: number;
  private readonly workers: Worker[];
  private readonly ctrl: Int32Array;
  private readonly cmds: Float64Array;
  private readonly local: KernelExports;
  private seq = 0;
  private lastError = '';

  private constructor(local: KernelExports, workers: Worker[], ctrl: Int32Array, cmds: Float64Array) {
    this.local = local;
    this.workers = workers;
    this.ctrl = ctrl;
    this.cmds = cmds;
    this.size = workers.length + 1;
    for (const w of workers) {
      w.on('message', (m: { error?: string }) => { if (m.error) this.lastError = m.error; });
      w.unref();
    }
  }

  /** Start `threads − 1` workers over `memory` (which must be shared) running `module`. */
  static async create(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, local: KernelExports): Promise<ThreadPool> {
    const n = Math.max(0, threads - 1);
    const ctrlBuf = new SharedArrayBuffer(4 * 4 * Math.max(1, n + 1));
    const cmdBuf = new SharedArrayBuffer(8 * CMD_CAPACITY * Math.max(1, n + 1));
    const workers: Worker[] = [];
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((resolve, reject) => {
        const w = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { module, memory, ctrl: ctrlBuf, cmds: cmdBuf, index: i + 1, names: KERNELS, capacity: CMD_CAPACITY },
        });
        workers.push(w);
        w.once('message', () => resolve());
        w.once('error', (e) => reject(e));
      })));
    } catch (err) {
      for (const w of workers) void w.terminate();
      fail('E_WASM', `cannot start worker threads: ${(err as Error).message}`);
    }
    return new ThreadPool(local, workers, new Int32Array(ctrlBuf), new Float64Array(cmdBuf));
  }

  /** Run list i on thread i (list 0 on the caller) and return when all are done. */
  run(lists: Command[][]): void {
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
    const k = this.local as unknown as Record<string, (...a: number[]) => void>;
    for (const [name, ...args] of lists[0] ?? []) k[name](...args);
    for (const t of busy) {
      for (;;) {
        const done = Atomics.load(this.ctrl, t * 4 + DONE);
        if (done === seq) break;
        Atomics.wait(this.ctrl, t * 4 + DONE, done, 1000);
      }
      if (Atomics.load(this.ctrl, t * 4 + ERR)) {
        Atomics.store(this.ctrl, t * 4 + ERR, 0);
        fail('E_TRAP', `a kernel trapped in worker thread ${t}${this.lastError ? ` (${this.lastError})` : ''}; this is a slimwav bug, please report it`);
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
