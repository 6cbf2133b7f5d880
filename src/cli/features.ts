/**
 * `slimwav features`: one audio file to one output (--out), or a corpus (--out-dir): folders, manifests and files in,
 * one output per input with relative paths kept, the model loaded once, finished outputs skipped on a rerun, failures
 * counted and reported at the end, and `--shard i/N` for splitting a corpus across machines.
 *
 * Outputs go through writeFileAtomic (temp name in the target folder, then rename), so an output that exists is
 * complete; temp files a killed run left behind are removed when the next run reaches their output.
 */
import { readdir, readFile, realpath, stat, mkdir, unlink } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SlimwavError, fail, type ErrorCode } from '../errors.js';
import { load, type Model } from '../model.js';
import { readAudioFile } from '../format/audio.js';
import { encodeNpy } from '../format/npy.js';
import { serializeSafetensors } from '../format/safetensors.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { resolveLayers } from '../layers.js';
import { parseCommand, threadsOpt, usageError, type Values } from './args.js';

/** Extensions a folder walk picks up (explicit files and manifest lines are taken whatever their name). */
export const AUDIO_EXTENSIONS = ['.wav', '.wave', '.flac', '.mp3', '.ogg', '.oga', '.opus'];

export type OutputFormat = 'npy' | 'safetensors';

export interface FeatureSpec {
  /** hidden-state indices to keep, in order */
  indices: number[];
  pool: 'none' | 'mean';
  /** softmax-normalised weights, one per kept layer, or null for no weighted sum */
  weights: Float64Array | null;
  format: OutputFormat;
  /** --chunk / --context: how long inputs are windowed (extract()'s chunk and context options) */
  chunking?: { chunk?: number | 'off'; context?: number };
}

/** Hidden states → the output array and its shape (see `slimwav features --help` for the shapes). */
export function shapeFeatures(layers: Float32Array[], frames: number, dim: number, spec: FeatureSpec): { data: Float32Array; shape: number[] } {
  const per = frames * dim;
  if (spec.weights) {
    const w = spec.weights;
    const sum = new Float64Array(per);
    layers.forEach((l, i) => { for (let j = 0; j < per; j++) sum[j] += w[i] * l[j]; });
    if (spec.pool === 'mean') return { data: meanRows(sum, frames, dim), shape: [dim] };
    return { data: Float32Array.from(sum), shape: [frames, dim] };
  }
  if (spec.pool === 'mean') {
    const out = new Float32Array(layers.length * dim);
    layers.forEach((l, i) => out.set(meanRows(l, frames, dim), i * dim));
    return { data: out, shape: [layers.length, dim] };
  }
  const all = new Float32Array(layers.length * per);
  layers.forEach((l, i) => all.set(l, i * per));
  return { data: all, shape: [layers.length, frames, dim] };
}

function meanRows(x: ArrayLike<number>, rows: number, dim: number): Float32Array {
  const acc = new Float64Array(dim);
  for (let t = 0; t < rows; t++) for (let d = 0; d < dim; d++) acc[d] += x[t * dim + d];
  return Float32Array.from(acc, (v) => v / rows);
}

export function encodeFeatures(data: Float32Array, shape: number[], spec: FeatureSpec): Uint8Array {
  if (spec.format === 'npy') return encodeNpy(data, shape);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const metadata: Record<string, string> = { layers: spec.indices.join(','), pool: spec.pool };
  if (spec.weights) metadata.layer_weights = Array.from(spec.weights, (w) => String(w)).join(',');
  return serializeSafetensors({ tensors: new Map([['features', { dtype: 'F32', shape, data: bytes }]]), metadata });
}

/** Softmax of the weights in a JSON file (an array of numbers, one per kept layer), as s3prl's weighted sum. */
export async function readLayerWeights(path: string, count: number): Promise<Float64Array> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as { code?: string }).code;
    fail(code ? 'E_IO' : 'E_FORMAT', `${path}: ${code ? `cannot read (${code})` : `not JSON (${(err as Error).message.split('\n')[0]})`}`);
  }
  if (!Array.isArray(json) || !json.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    fail('E_ARGS', `${path}: --layer-weights must be a JSON array of finite numbers, one per kept layer`);
  }
  if (json.length !== count) {
    fail('E_ARGS', `${path}: ${json.length} layer weight(s) for ${count} kept hidden state(s) (--layers); give one weight per kept layer`);
  }
  const max = Math.max(...(json as number[]));
  const e = (json as number[]).map((v) => Math.exp(v - max));
  const z = e.reduce((a, b) => a + b, 0);
  return Float64Array.from(e, (v) => v / z);
}


/** The same file, if both exist (symlinks, ../ and case-equal paths on case-insensitive file systems included). */
function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return existsSync(a) && existsSync(b) && realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

const OPTIONS = {
  out: { type: 'string' }, 'out-dir': { type: 'string' }, layers: { type: 'string' }, threads: { type: 'string' },
  format: { type: 'string' }, pool: { type: 'string' }, 'layer-weights': { type: 'string' }, shard: { type: 'string' },
  overwrite: { type: 'boolean' }, chunk: { type: 'string' }, context: { type: 'string' },
} as const;

/** --chunk S|off and --context S, checked in one usage line each; undefined: extract()'s defaults */
function chunkingOpts(values: Values): { chunk?: number | 'off'; context?: number } {
  const secs = (name: string, v: string, positive: boolean): number => {
    const x = /^\s*\d*\.?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!(positive ? x > 0 : x >= 0)) usageError('features', `--${name} must be a number of seconds ${positive ? '> 0 or off' : '≥ 0'}, found "${v}"`);
    return x;
  };
  const out: { chunk?: number | 'off'; context?: number } = {};
  const c = values.chunk as string | undefined, x = values.context as string | undefined;
  if (c !== undefined) out.chunk = c === 'off' ? 'off' : secs('chunk', c, true);
  if (x !== undefined) {
    if (out.chunk === 'off') usageError('features', '--context means nothing with --chunk off');
    out.context = secs('context', x, false);
  }
  return out;
}

/** Returns the exit status: 0, or 130 when a corpus run was stopped by SIGINT (between two files). */
export async function features(argv: string[]): Promise<number> {
  const { values, pos } = parseCommand('features', argv, OPTIONS, ['model', 'audio'], true);
  const out = values.out as string | undefined, outDir = values['out-dir'] as string | undefined;
  if (out !== undefined && outDir !== undefined) usageError('features', 'give either --out (one file) or --out-dir (a corpus), not both');
  if (out === undefined && outDir === undefined) usageError('features', 'features needs --out <file.npy> (one file) or --out-dir <folder> (a corpus)');
  const pool = (values.pool as string | undefined) ?? 'none';
  if (pool !== 'none' && pool !== 'mean') usageError('features', `--pool must be mean, found "${pool}"`);
  let format = values.format as string | undefined;
  if (format !== undefined && format !== 'npy' && format !== 'safetensors') usageError('features', `--format must be npy or safetensors, found "${format}"`);
  const threads = threadsOpt('features', values.threads);
  const shard = parseShard(values.shard as string | undefined);
  const chunking = chunkingOpts(values);
  if (out !== undefined) {
    if (pos.length > 2) usageError('features', `--out takes one audio file; for ${pos.length - 1} inputs use --out-dir <folder>`);
    for (const k of ['shard', 'overwrite']) if (values[k] !== undefined) usageError('features', `--${k} works with --out-dir only`);
    const ext = extname(out);
    if (ext !== '.npy' && ext !== '.safetensors') usageError('features', `--out must name a .npy or .safetensors file, found "${out}"`);
    if (format !== undefined && `.${format}` !== ext) usageError('features', `--format ${format} does not match --out "${out}"`);
    format = ext.slice(1);
    if (samePath(out, pos[1])) usageError('features', `--out "${out}" is the input audio file; refusing to overwrite it`);
  }
  const model = await load(pos[0], { threads });
  try {
    const indices = resolveLayers((values.layers as string | undefined) ?? 'all', model.config.numLayers, '--layers');
    const lw = values['layer-weights'] as string | undefined;
    const spec: FeatureSpec = {
      indices, pool: pool as 'none' | 'mean', format: (format ?? 'npy') as OutputFormat,
      weights: lw === undefined ? null : await readLayerWeights(lw, indices.length),
      chunking,
    };
    if (out !== undefined) {
      const r = await featuresOf(model, pos[1], spec);
      await writeFileAtomic(out, r.bytes);
      const [L, T, D] = r.shape;
      const what = r.shape.length === 3 ? `${L} layer(s) × ${T} frames × ${D}` : r.shape.join(' × ');
      process.stderr.write(`wrote ${out}: ${what} (${r.seconds.toFixed(2)} s of audio)\n`);
      return 0;
    }
    return await corpus(model, pos.slice(1), outDir!, spec, values, shard);
  } finally {
    model.dispose();
  }
}

async function featuresOf(model: Model, audioPath: string, spec: FeatureSpec): Promise<{ bytes: Uint8Array; shape: number[]; seconds: number }> {
  const pcm = await readAudioFile(audioPath);
  let res;
  try {
    res = await model.extract(pcm, { layers: spec.indices, ...spec.chunking });
  } catch (err) {
    if (err instanceof SlimwavError && err.code === 'E_AUDIO') fail('E_AUDIO', `${audioPath}: ${err.message}`);
    throw err;
  }
  const { data, shape } = shapeFeatures(res.layers, res.frames, res.dim, spec);
  return { bytes: encodeFeatures(data, shape, spec), shape, seconds: pcm.length / 16000 };
}

// ---- corpus mode ----

export interface CorpusItem {
  /** the audio file as given (or as found by the walk) */
  input: string;
  /** output path relative to --out-dir, '/'-separated, extension replaced */
  rel: string;
}

const toPosix = (p: string) => p.split(sep).join('/');

function commonDir(files: string[]): string {
  let parts = dirname(resolve(files[0])).split(sep);
  for (const f of files.slice(1)) {
    const q = dirname(resolve(f)).split(sep);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(sep) || sep;
}

/** Audio files under `dir`, following symlinks; a directory already being walked (a symlink loop) and `skip` are left out. */
async function walk(dir: string, skip: string, ancestors: Set<string>, found: string[], notes: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    notes.push(`${dir}: cannot list (${(err as { code?: string }).code ?? (err as Error).message}); skipped`);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      try {
        isDir = (await stat(full)).isDirectory();
      } catch {
        isDir = false; // dangling or looping link: taken as a file if it looks like audio, and reported when read
      }
    }
    if (isDir) {
      const real = await realpath(full).catch(() => full);
      if (real === skip) continue;
      if (ancestors.has(real)) {
        notes.push(`${full}: a symlink loop (leads back to ${real}); not followed`);
        continue;
      }
      ancestors.add(real);
      await walk(full, skip, ancestors, found, notes);
      ancestors.delete(real);
    } else if (AUDIO_EXTENSIONS.includes(extname(e.name).toLowerCase())) {
      found.push(full);
    }
  }
}

/**
 * Every input with its output path, sorted by output path. Folders are walked (their own paths kept), manifests
 * (.txt) read (paths relative to the manifest; outputs relative to the entries' common folder), loose files mirrored
 * relative to their common folder. Two inputs that would write the same output are refused up front.
 */
export async function gatherInputs(args: string[], outDir: string, ext: string, notes: string[]): Promise<CorpusItem[]> {
  const outReal = await realpath(outDir).catch(() => resolve(outDir));
  const items: CorpusItem[] = [];
  const loose: string[] = [];
  const mirror = (files: string[], root: string) => {
    for (const f of files) {
      const r = relative(root, resolve(f));
      items.push({ input: f, rel: toPosix(r.slice(0, r.length - extname(r).length) + ext) });
    }
  };
  for (const a of args) {
    let st;
    try {
      st = await stat(a);
    } catch (err) {
      return fail('E_IO', `${a}: cannot read: ${(err as { code?: string }).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      const real = await realpath(a);
      await walk(a, outReal, new Set([real]), found, notes);
      if (found.length === 0) notes.push(`${a}: no audio files (${AUDIO_EXTENSIONS.join(' ')}) found`);
      mirror(found, a);
    } else if (extname(a).toLowerCase() === '.txt') {
      const text = await readFile(a, 'utf8').catch((err) => fail('E_IO', `${a}: cannot read the manifest: ${(err as { code?: string }).code ?? err}`));
      const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      const files = lines.map((l) => (isAbsolute(l) ? l : join(dirname(a), l)));
      if (files.length === 0) notes.push(`${a}: the manifest lists no files`);
      else mirror(files, commonDir(files));
    } else {
      loose.push(a);
    }
  }
  if (loose.length) mirror(loose, commonDir(loose));
  // the same file given twice (a folder and a file inside it) counts once; two files onto one output are an error
  const byRel = new Map<string, CorpusItem>();
  for (const it of items) {
    const prev = byRel.get(it.rel);
    if (!prev) byRel.set(it.rel, it);
    else if (!samePath(prev.input, it.input)) {
      fail('E_ARGS', `${prev.input} and ${it.input} would both write ${join(outDir, it.rel)}; give their common folder instead, so that each keeps its own path`);
    }
  }
  const sorted = [...byRel.values()].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const it of sorted) {
    const o = join(outDir, it.rel);
    if (samePath(o, it.input)) fail('E_ARGS', `${it.input}: its output ${o} is the input itself; refusing to overwrite an input (choose another --out-dir)`);
  }
  return sorted;
}

/** `--shard i/N` → [i, N]; shard i takes the inputs at sorted positions k with k mod N = i. */
export function parseShard(text: string | undefined): [number, number] {
  if (text === undefined) return [0, 1];
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const i = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i >= n) usageError('features', `--shard must be i/N with N ≥ 1 and 0 ≤ i < N (shards count from 0), found "${text}"`);
  return [i, n];
}

export function shardOf<T>(items: T[], [i, n]: [number, number]): T[] {
  return items.filter((_, k) => k % n === i);
}

/**
 * The pid in `entry` if it is one of our atomic writes' temp names for the output `name` (`name.tmp-<pid>`, or
 * `.name.tmp-slimwav-<pid>-<hex>`), else undefined.
 */
export function tempOwner(entry: string, name: string): number | undefined {
  const m = entry.startsWith(`${name}.tmp-`) ? /^(\d+)$/.exec(entry.slice(name.length + 5))
    : entry.startsWith(`.${name}.tmp-slimwav-`) ? /^(\d+)-[0-9a-f]+$/.exec(entry.slice(name.length + 14))
    : null;
  return m ? Number(m[1]) : undefined;
}

function running(pid: number): boolean {
  if (pid === process.pid) return false; // ours from an earlier life of this pid: nothing of ours is in flight yet
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Remove temp files that writers no longer running (a killed run) left next to these outputs. */
async function removeStaleTemps(outDir: string, items: CorpusItem[]): Promise<number> {
  const byDir = new Map<string, string[]>();
  for (const it of items) {
    const p = join(outDir, it.rel);
    const d = dirname(p);
    byDir.set(d, [...(byDir.get(d) ?? []), basename(p)]);
  }
  let removed = 0;
  for (const [d, names] of byDir) {
    const entries = await readdir(d).catch(() => [] as string[]);
    for (const e of entries) {
      const owner = names.map((n) => tempOwner(e, n)).find((p) => p !== undefined);
      if (owner !== undefined && !running(owner)) {
        await unlink(join(d, e)).then(() => removed++, () => undefined);
      }
    }
  }
  return removed;
}

const clock = (s: number) => {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${String(sec).padStart(2, '0')}`;
};

/** Where progress goes: process.stderr, or anything with its shape. */
export interface ProgressStream { write(s: string): unknown; isTTY?: boolean; columns?: number }

/** A bar with ETA on a terminal; one plain line per computed or failed file when the stream is piped. */
export class Progress {
  private readonly t0 = performance.now();
  private computed = 0;
  constructor(private readonly total: number, private readonly out: ProgressStream = process.stderr) {}

  file(done: number, label: string, ok: boolean, wasComputed: boolean): void {
    if (wasComputed) this.computed++;
    const elapsed = (performance.now() - this.t0) / 1000;
    const eta = this.computed ? (elapsed / this.computed) * (this.total - done) : NaN;
    if (this.out.isTTY) {
      const width = 24, fill = Math.round((width * done) / this.total);
      const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ${((100 * done) / this.total).toFixed(0)}%` +
        ` ${clock(elapsed)} elapsed, ETA ${Number.isNaN(eta) ? '-' : clock(eta)}  ${label}`;
      this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 100) - 1)}${done === this.total ? '\n' : ''}`);
    } else if (!ok || wasComputed) {
      this.out.write(`[${done}/${this.total}] ${label}\n`);
    }
  }

  /** a line that must stay visible above the bar (a failure); piped, file() prints it */
  note(s: string): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[K${s}\n`);
  }
}

async function corpus(model: Model, inputs: string[], outDir: string, spec: FeatureSpec, values: Values, shard: [number, number]): Promise<number> {
  const notes: string[] = [];
  const all = await gatherInputs(inputs, outDir, `.${spec.format}`, notes);
  if (all.length === 0) fail('E_ARGS', `no audio files in ${inputs.join(', ')} (a folder is searched for ${AUDIO_EXTENSIONS.join(' ')})`);
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  await mkdir(outDir, { recursive: true }).catch((err) => fail('E_IO', `${outDir}: cannot create the output folder: ${(err as { code?: string }).code ?? err}`));
  const mine = shardOf(all, shard);
  const shardText = shard[1] > 1 ? ` (shard ${shard[0]}/${shard[1]} of ${all.length} inputs)` : '';
  if (mine.length === 0) {
    process.stderr.write(`nothing to do: no inputs${shardText}\n`);
    return 0;
  }
  const stale = await removeStaleTemps(outDir, mine);
  if (stale) process.stderr.write(`removed ${stale} temp file(s) left by an interrupted run\n`);
  const overwrite = Boolean(values.overwrite);
  const todo = overwrite ? mine : mine.filter((it) => !existsSync(join(outDir, it.rel)));
  const skipped = mine.length - todo.length;
  process.stderr.write(`${mine.length} input(s)${shardText}: ${todo.length} to compute, ${skipped} already in ${outDir}\n`);
  const progress = new Progress(todo.length);
  const failures: { input: string; code: ErrorCode | 'internal'; message: string }[] = [];
  let written = 0, interrupted = false;
  // Ctrl-C: finish the file being computed, then stop with a summary (a second Ctrl-C stops at once; the next run
  // removes the temp file that leaves)
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.note('interrupted: finishing the current file (Ctrl-C again to stop now)');
  };
  process.on('SIGINT', onSigint);
  for (const [k, it] of todo.entries()) {
    if (interrupted) break;
    const o = join(outDir, it.rel);
    const t0 = performance.now();
    try {
      const r = await featuresOf(model, it.input, spec);
      await mkdir(dirname(o), { recursive: true });
      await writeFileAtomic(o, r.bytes);
      written++;
      progress.file(k + 1, `${it.input} → ${it.rel}: ${r.seconds.toFixed(2)} s audio in ${((performance.now() - t0) / 1000).toFixed(2)} s`, true, true);
    } catch (err) {
      const se = err instanceof SlimwavError;
      const message = ((err as Error)?.message ?? String(err)).split('\n')[0];
      failures.push({ input: it.input, code: se ? err.code : 'internal', message: se ? message : `internal error: ${message}` });
      const line = `FAILED ${it.input}: ${message}`;
      progress.note(line);
      progress.file(k + 1, line, false, false);
    }
  }
  process.off('SIGINT', onSigint);
  const left = todo.length - written - failures.length;
  process.stderr.write(`${interrupted ? 'interrupted' : 'done'}${shardText}: ${written} written, ${skipped} already there, ${failures.length} failed` +
    `${interrupted ? `, ${left} not started (rerun to continue)` : ''}\n`);
  if (failures.length) {
    for (const f of failures) process.stderr.write(`  failed: ${f.message.startsWith(f.input) ? f.message : `${f.input}: ${f.message}`}\n`);
    const code = failures[0].code === 'internal' ? 'E_IO' : failures[0].code;
    throw new SlimwavError(code, `${failures.length} of ${todo.length} input(s) failed (listed above); the rest were written, a rerun retries only the failed ones`);
  }
  return interrupted ? 130 : 0;
}
