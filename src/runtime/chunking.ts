/**
 * Long audio in linear time: stride chunking. Attention spans its whole input, so one pass over an hour is quadratic
 * in time; instead the input is cut into windows of `chunk` seconds plus `context` seconds on each side, every window
 * runs through the whole model, and only the frames of its own chunk are kept (the context frames, computed with a
 * truncated view, are dropped), on every hidden state. Hugging Face's CTC pipeline does this on logits.
 *
 * Frame t of a full run reads samples [t·S, t·S + R) (S: the conv stack's total stride, R: its receptive field; 320
 * and 400 for wav2vec2), so a window that starts on a multiple of S gives exactly the frames a full run gives there,
 * up to what lies outside the window: attention and the positional conv see less, and each window's waveform
 * normalisation (do_normalize) and conv-0 GroupNorm statistics are its own (per window, which is all a stream can
 * do; chunked extraction and streaming therefore give the same numbers). The frame count equals the full run's.
 *
 * Windows, in frames of the full run (T frames, N samples): chunk k keeps [k·C, min(T, (k+1)·C)); its window covers
 * frames [max(0, k·C − X), min(T, (k+1)·C + X)), i.e. samples [first·S, (last − 1)·S + R), except that the last
 * window runs to the end of the input (sample N), so a chunk at least as long as the input gives the full run exactly.
 */
import { fail } from '../errors.js';
import { convFrames, receptiveField, type ModelConfig } from '../arch/config.js';

/**
 * Default window: chunks of 20 s with 1.5 s of context each side. The context covers the positional conv's reach
 * (64 frames = 1.28 s each side for wav2vec2), below which the deviation from full context jumps; 20 s keeps the
 * extra work of the context (23/20) and the attention over a 23 s window near 1.2× the 10 s real-time factor
 * (BENCHMARKS.md, "Long audio: chunked vs full context").
 */
export const DEFAULT_CHUNK_SECONDS = 20;
export const DEFAULT_CONTEXT_SECONDS = 1.5;
/**
 * chunk 'auto' windows inputs longer than this (two chunks), shorter ones run in one piece as with 'off': around
 * 40 s one pass starts to cost more per second than the windows do, and memory stays small either way.
 */
export const AUTO_CHUNK_ABOVE_SECONDS = 40;

const RATE = 16000;

/** Product of the conv strides: samples per frame. */
export function totalStride(cfg: ModelConfig): number {
  return cfg.conv.reduce((s, l) => s * l.stride, 1);
}

export interface ChunkOptions {
  /** seconds of audio whose frames each window keeps; 'off' = one pass over the whole input; 'auto' (default) = chunks when it pays */
  chunk?: number | 'off' | 'auto';
  /** seconds of context on each side of a chunk (default 1.5) */
  context?: number;
}

/** Chunk and context in frames (C ≥ 1, X ≥ 0) */
export interface Chunking {
  chunkFrames: number;
  contextFrames: number;
}

/** One window: frames [keepFrom, keepTo) of the full run are kept; it runs on samples [start, end). */
export interface Window {
  keepFrom: number;
  keepTo: number;
  /** first frame of the full run the window's output starts at */
  firstFrame: number;
  start: number;
  end: number;
}

/**
 * The chunk/context options checked (E_ARGS naming `who`'s option), in frames; null = one pass. `samples` (the input
 * length; undefined for a stream) decides 'auto'.
 */
export function resolveChunking(cfg: ModelConfig, opts: ChunkOptions, who: string, samples?: number): Chunking | null {
  const { chunk = 'auto', context } = opts;
  if (context !== undefined && (typeof context !== 'number' || !Number.isFinite(context) || context < 0)) {
    fail('E_ARGS', `${who}: context must be a number of seconds ≥ 0, found ${JSON.stringify(context) ?? String(context)}`);
  }
  if (chunk === 'off') {
    if (context !== undefined) fail('E_ARGS', `${who}: context needs chunking; it means nothing with chunk: 'off'`);
    return null;
  }
  if (chunk !== 'auto' && (typeof chunk !== 'number' || !Number.isFinite(chunk) || chunk <= 0)) {
    fail('E_ARGS', `${who}: chunk must be a number of seconds > 0, 'auto' or 'off', found ${JSON.stringify(chunk) ?? String(chunk)}`);
  }
  if (chunk === 'auto' && samples !== undefined && samples <= AUTO_CHUNK_ABOVE_SECONDS * RATE) return null;
  const S = totalStride(cfg);
  const seconds = chunk === 'auto' ? DEFAULT_CHUNK_SECONDS : chunk;
  return {
    chunkFrames: Math.max(1, Math.round((seconds * RATE) / S)),
    contextFrames: Math.round(((context ?? DEFAULT_CONTEXT_SECONDS) * RATE) / S),
  };
}

/** Frames a full run gives for `samples` samples. */
export function framesOf(cfg: ModelConfig, samples: number): number {
  const f = convFrames(cfg, samples);
  return f[f.length - 1];
}

/** Window k of an input of T frames and N samples (T ≥ 1, k·C < T). */
export function windowAt(cfg: ModelConfig, c: Chunking, k: number, T: number, N: number): Window {
  const S = totalStride(cfg), R = receptiveField(cfg);
  const keepFrom = k * c.chunkFrames, keepTo = Math.min(T, keepFrom + c.chunkFrames);
  const firstFrame = Math.max(0, keepFrom - c.contextFrames), lastFrame = Math.min(T, keepTo + c.contextFrames);
  return { keepFrom, keepTo, firstFrame, start: firstFrame * S, end: keepTo >= T ? N : (lastFrame - 1) * S + R };
}

/** Number of windows for T frames. */
export function windowCount(c: Chunking, T: number): number {
  return Math.ceil(T / c.chunkFrames);
}

/** Most samples any window takes (the arena is planned for this, not for the input). */
export function maxWindowSamples(cfg: ModelConfig, c: Chunking, N: number): number {
  const T = framesOf(cfg, N);
  let most = 0;
  // the first, a middle one and the last two are the only distinct sizes
  for (const k of new Set([0, 1, windowCount(c, T) - 2, windowCount(c, T) - 1])) {
    if (k < 0 || k >= windowCount(c, T)) continue;
    const w = windowAt(cfg, c, k, T, N);
    most = Math.max(most, w.end - w.start);
  }
  return most;
}

/** Largest window a stream with this chunking runs, whatever its length: C + 2X frames plus the trailing samples. */
export function streamWindowSamples(cfg: ModelConfig, c: Chunking): number {
  return (c.chunkFrames + 2 * c.contextFrames + 1) * totalStride(cfg) + receptiveField(cfg);
}

/** Resolves on the event loop's next turn (after timers and I/O), so an AbortSignal can fire between two steps. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    // MessageChannel: no 4 ms clamp of nested timers in browsers
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(0);
  });
}

/** An `signal` option checked: undefined or something AbortSignal-shaped (E_ARGS naming `who`). */
export function checkSignal(signal: unknown, who: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).aborted !== 'boolean') {
    fail('E_ARGS', `${who}: signal must be an AbortSignal, found ${Object.prototype.toString.call(signal)}`);
  }
  return signal as AbortSignal;
}

/** Throw the signal's reason (an AbortError DOMException unless the caller gave another) if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
