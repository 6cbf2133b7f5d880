/**
 * Streaming: model.stream() returns a FeatureStream. push() takes 16 kHz sample blocks of any size; a window of the
 * chunked extraction (src/runtime/chunking.ts) runs as soon as its last sample has arrived, and its kept frames come
 * back from that push. flush() runs what is left (the last window ends with the last sample) and closes the stream.
 * The windows are exactly those extract() makes for the whole signal with the same chunk and context, so the
 * concatenated frames are the same numbers (bit for bit). Latency: a frame comes back once the audio up to its
 * chunk's end plus `context` seconds has been pushed (with context 0: one more frame, 20 ms, since a window must
 * know it is not the last).
 *
 * Only the samples the next window needs are kept, so memory is bounded by one window whatever the stream's length.
 */
import { fail } from './errors.js';
import type { ModelConfig } from './arch/config.js';
import type { Features } from './model-core.js';
import { framesOf, throwIfAborted, totalStride, windowAt, windowCount, type Chunking, type Window } from './runtime/chunking.js';

/** What push() and flush() resolve to: the frames that became final, `first` being the index of the first of them. */
export interface StreamFrames extends Features {
  first: number;
}

/** One 16 kHz block: Float32 (−1..1) or Int16 (scaled by 1/32768), or { samples, sampleRate: 16000 }. */
export type StreamBlock = Float32Array | Int16Array | { samples: Float32Array | Int16Array; sampleRate: number };

type RunWindows = (wave: Float32Array, windows: Window[]) => Promise<Features>;

export class FeatureStream {
  private buf = new Float32Array(0);
  /** samples held in buf; buf[0] is sample `bufStart` of the stream */
  private used = 0;
  private bufStart = 0;
  /** samples pushed so far */
  private received = 0;
  /** next window to run */
  private next = 0;
  private ended = false;
  private failure: unknown = null;
  private chain: Promise<unknown> = Promise.resolve();

  /** @internal use model.stream() */
  constructor(private readonly cfg: ModelConfig, private readonly chunking: Chunking, private readonly indices: number[],
    private readonly signal: AbortSignal | undefined, private readonly run: RunWindows) {}

  /** Samples pushed so far. */
  get samples(): number {
    return this.received;
  }

  /**
   * Append a block; resolves to the frames that became final (often none). A zero-length block does nothing. A block
   * with a non-finite sample or another rate is refused whole (E_AUDIO) and the stream carries on without it.
   */
  push(block: StreamBlock): Promise<StreamFrames> {
    let x: Float32Array;
    try {
      if (this.ended) fail('E_ARGS', 'stream.push() after flush(); the stream is closed, start another with model.stream()');
      this.alive();
      x = toBlock(block);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(() => this.take(x, false));
  }

  /** Run the windows left (the last ends with the last sample pushed) and close the stream. */
  flush(): Promise<StreamFrames> {
    try {
      if (this.ended) fail('E_ARGS', 'stream.flush() called twice; the stream is closed, start another with model.stream()');
      this.alive();
    } catch (err) {
      return Promise.reject(err);
    }
    this.ended = true;
    return this.serial(() => this.take(new Float32Array(0), true));
  }

  /** an aborted or failed stream stays failed: every later call rejects with the same error */
  private alive(): void {
    if (this.failure !== null) throw this.failure;
    throwIfAborted(this.signal);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(() => {
      this.alive();
      return fn();
    });
    this.chain = r.catch(() => undefined);
    return r;
  }

  private async take(x: Float32Array, final: boolean): Promise<StreamFrames> {
    this.append(x);
    const c = this.chunking, T = framesOf(this.cfg, this.received);
    const windows: Window[] = [];
    if (final) {
      for (let k = this.next; T > 0 && k < windowCount(c, T); k++) windows.push(windowAt(this.cfg, c, k, T, this.received));
    } else {
      // window k is final once frame (k+1)·C + X − 1 exists and it is not the last (one frame beyond its chunk exists)
      for (let k = this.next; (k + 1) * c.chunkFrames + Math.max(c.contextFrames, 1) <= T; k++) {
        windows.push(windowAt(this.cfg, c, k, T, this.received));
      }
    }
    if (windows.length === 0) return this.empty(this.next * c.chunkFrames);
    const local = windows.map((w) => ({ ...w, start: w.start - this.bufStart, end: w.end - this.bufStart }));
    let res: Features;
    try {
      // one window is the whole signal (a stream shorter than a chunk): the one-pass run, as extract() does
      res = await this.run(this.buf.subarray(0, this.used), local);
    } catch (err) {
      this.failure = err;
      throw err;
    }
    this.next += windows.length;
    this.drop(Math.max(0, this.next * c.chunkFrames - c.contextFrames) * totalStride(this.cfg));
    return { ...res, first: windows[0].keepFrom };
  }

  private empty(first: number): StreamFrames {
    return { layers: this.indices.map(() => new Float32Array(0)), indices: this.indices, frames: 0, dim: this.cfg.hidden, first };
  }

  private append(x: Float32Array): void {
    if (x.length === 0) return;
    if (this.used + x.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.used + x.length, 2 * this.buf.length));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    this.buf.set(x, this.used);
    this.used += x.length;
    this.received += x.length;
  }

  /** forget the samples before stream sample `keepFrom` */
  private drop(keepFrom: number): void {
    const n = keepFrom - this.bufStart;
    if (n <= 0) return;
    this.buf.copyWithin(0, n, this.used);
    this.used -= n;
    this.bufStart = keepFrom;
  }
}

/** A pushed block checked and as Float32 (E_ARGS: wrong type; E_AUDIO: wrong rate or a non-finite sample). */
function toBlock(block: StreamBlock): Float32Array {
  const kind = (v: unknown) => Object.prototype.toString.call(v);
  let s: unknown = block;
  if (block !== null && typeof block === 'object' && !ArrayBuffer.isView(block) && 'samples' in block) {
    if (block.sampleRate !== 16000) {
      fail('E_AUDIO', `stream.push(): the stream takes 16 kHz blocks, found sampleRate ${JSON.stringify(block.sampleRate) ?? kind(block.sampleRate)}; resample the audio first (resample())`);
    }
    s = block.samples;
  }
  if (s instanceof Int16Array) return Float32Array.from(s, (v) => v / 32768);
  if (!(s instanceof Float32Array)) fail('E_ARGS', `stream.push() needs a Float32Array or Int16Array of 16 kHz samples (or { samples, sampleRate }), found ${kind(s)}`);
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) fail('E_AUDIO', `stream.push(): sample ${i} of this block is ${s[i]}; samples must be finite (the block was not taken)`);
  }
  return s;
}
