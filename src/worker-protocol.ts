/**
 * Messages between createWorkerModel() (src/worker-client.ts, the page side) and the worker slimwav ships
 * (src/worker.ts). Every request carries an id; the worker answers each with the same id, a result or an error.
 */
import type { ErrorCode } from './errors.js';
import type { Features, LoadOptions, ModelInfo } from './model-core.js';
import type { LayerSelection } from './layers.js';

/** LoadOptions that survive postMessage: wasmUrl as a table of absolute URLs by kernel file name. */
export type WorkerLoadOptions = Omit<LoadOptions, 'wasmUrl' | 'wasmBase'> & { wasmBase?: string; wasmUrls?: Record<string, string> };

export type WorkerRequest =
  | { id: number; type: 'load'; url?: string; config?: Record<string, unknown>; weights?: ArrayBuffer | Uint8Array; name?: string; preprocessor?: Record<string, unknown>; opts: WorkerLoadOptions }
  | { id: number; type: 'extract'; pcm: Float32Array; layers?: LayerSelection };

export type WorkerReply =
  | { id: number; ok: true; loaded: { info: ModelInfo; threads: number; warnings: string[] } }
  | { id: number; ok: true; features: Features }
  | { id: number; ok: false; code: ErrorCode; message: string };
