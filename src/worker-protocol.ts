/**
 * Messages between createWorkerModel() (src/worker-client.ts, the page side) and the worker slimwav ships
 * (src/worker.ts). Every request carries an id; the worker answers each with the same id, a result or an error,
 * except 'abort', which is never answered.
 *
 *   load                      → loaded
 *   extract (chunk, context)  → features            one Model.extract
 *   stream                    → opened              Model.stream(); the stream is known by this request's id
 *   push / flush (stream: id) → frames              that stream's push() / flush(); flush closes it
 *   abort (id)                                      the extract or stream `id` stops, as if its AbortSignal fired
 *                                                   (only requests sent with `abortable`); not answered
 */
import type { ErrorCode } from './errors.js';
import type { Features, LoadOptions, ModelInfo } from './model-core.js';
import type { LayerSelection } from './layers.js';
import type { StreamBlock, StreamFrames } from './stream.js';

/** LoadOptions that survive postMessage: wasmUrl as a table of absolute URLs by kernel file name. */
export type WorkerLoadOptions = Omit<LoadOptions, 'wasmUrl' | 'wasmBase'> & { wasmBase?: string; wasmUrls?: Record<string, string> };

/** ExtractOptions / StreamOptions that cross to the worker (the signal stays on the page: see 'abort'). */
export interface WorkerRunOptions {
  layers?: LayerSelection;
  chunk?: number | 'off' | 'auto';
  context?: number;
  /** the page holds an AbortSignal for this call: the worker gives the model one it can fire on 'abort' */
  abortable?: boolean;
}

export type WorkerRequest =
  | { id: number; type: 'load'; url?: string; config?: Record<string, unknown>; weights?: ArrayBuffer | Uint8Array; name?: string; preprocessor?: Record<string, unknown>; opts: WorkerLoadOptions }
  | ({ id: number; type: 'extract'; pcm: Float32Array } & WorkerRunOptions)
  | ({ id: number; type: 'stream' } & WorkerRunOptions)
  | { id: number; type: 'push'; stream: number; block: StreamBlock }
  | { id: number; type: 'flush'; stream: number }
  | { id: number; type: 'abort' };

export type WorkerReply =
  | { id: number; ok: true; loaded: { info: ModelInfo; threads: number; warnings: string[] } }
  | { id: number; ok: true; features: Features }
  | { id: number; ok: true; opened: true }
  | { id: number; ok: true; frames: StreamFrames }
  | { id: number; ok: false; code: ErrorCode; message: string };
