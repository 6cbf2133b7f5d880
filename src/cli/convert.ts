/**
 * `slimwav convert`: any model form docs/format.md accepts (folder with model.safetensors or pytorch_model.bin, single
 * .safetensors with its config, DPHuBERT/torchaudio checkpoint) → a slimwav model in F32 or F16:
 *   - a folder `<out>/config.json` + `<out>/model.safetensors`, or
 *   - with `singleFile`, one `<out>.safetensors` whose `__metadata__.config` is the config JSON.
 * A preprocessor_config.json (do_normalize, sampling_rate) is carried over as it was read: into `<out>/` beside
 * config.json, or as `__metadata__.preprocessor` of the single file.
 * The input is validated exactly as load() validates it, so whatever convert writes loads. Tensors keep their
 * HF names and their layout (weight norm stays unfolded, DPHuBERT's dummy_weight stays), so an F32 conversion of an
 * F32 model runs bit-identically to the original.
 *
 * Nothing is written until everything has been read, checked and serialized in memory. A folder is assembled in a
 * fresh temp folder next to `out` and renamed into place in one step; a single file is written to a temp file and
 * linked into place (fsutil.ts: exclusive creation, fsync, never over something that appeared meanwhile). A failure
 * removes what this call created and leaves no `out` behind; temps of a killed earlier run are removed by the next.
 */
import { lstat, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fail } from '../errors.js';
import { parseConfig } from '../arch/config.js';
import { checkTensors, countParams } from '../arch/tensors.js';
import { openModelFiles } from '../arch/model-files.js';
import { serializeSafetensors } from '../format/safetensors.js';
import { writeFileAtomic, writeModelFolderAtomic } from '../format/fsutil.js';
import { fromFloat32, toFloat32, type RawTensor } from '../format/tensor.js';

export type ConvertDType = 'f32' | 'f16';

export interface ConvertOptions {
  /** storage type of every tensor (default 'f32'); BF16/F64/F16 inputs are converted */
  dtype?: ConvertDType;
  /** write one .safetensors file (config in `__metadata__.config`) instead of a folder */
  singleFile?: boolean;
}

export interface ConvertResult {
  /** the config JSON written (config.json, or `__metadata__.config`) */
  config: Record<string, unknown>;
  /** parameters the forward pass uses (as `inspect` counts them) */
  params: number;
  /** what opening and converting did (dropped heads, renamed keys, dtype changes) */
  notes: string[];
  /** the files written, in the order written */
  files: string[];
}

/** Largest finite F16 is 65504; anything from 65520 up rounds to infinity. */
const F16_OVERFLOW = 65520;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path); // a dangling symlink counts: renaming onto it would replace it
    return true;
  } catch {
    return false;
  }
}

/** `out` must not exist and its parent must be a folder (checked before any reading, so mistakes fail fast). */
async function checkOut(out: string): Promise<void> {
  if (await exists(out)) fail('E_IO', `${out} exists; choose another --out or remove it`);
  const parent = dirname(out);
  let s;
  try {
    s = await stat(parent);
  } catch {
    return fail('E_IO', `${out}: cannot write: its parent folder ${parent} does not exist`);
  }
  if (!s.isDirectory()) fail('E_IO', `${out}: cannot write: ${parent} is not a folder`);
}

/** One tensor in the requested storage type. Same-type tensors are passed through byte for byte. */
function convertTensor(name: string, t: RawTensor, to: 'F32' | 'F16', source: string): RawTensor {
  if (t.dtype === to) return t;
  const f = toFloat32(t, name);
  if (to === 'F16') {
    let max = 0;
    for (let i = 0; i < f.length; i++) {
      const a = Math.abs(f[i]);
      if (a > max) max = a; // NaN and ±Inf pass through as themselves
    }
    if (max >= F16_OVERFLOW && Number.isFinite(max)) {
      fail('E_SHAPE', `${source}: tensor ${name} holds values up to ${max.toPrecision(4)}, beyond the F16 range (±65504); use --dtype f32`);
    }
  }
  return fromFloat32(f, t.shape, to);
}

function parseDType(v: unknown): 'F32' | 'F16' {
  if (v === undefined || v === 'f32') return 'F32';
  if (v === 'f16') return 'F16';
  return fail('E_ARGS', `--dtype must be f32 or f16, found ${JSON.stringify(v)}`);
}

/**
 * Convert the model at `input` into a slimwav model at `out` (see the file comment). Errors are SlimwavErrors with
 * one-line messages: E_ARGS for bad options, E_IO for an existing `out` or a failed write, and whatever load() would
 * report for an input that cannot run (E_FORMAT, E_CONFIG, E_SHAPE, E_UNSAFE).
 */
export async function convertModel(input: string, out: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  if (typeof input !== 'string' || input === '') fail('E_ARGS', `convert needs a path to a model folder or file, found ${JSON.stringify(input)}`);
  if (typeof out !== 'string' || out === '') fail('E_ARGS', `convert needs --out <folder> (or <file.safetensors> with --single-file), found ${JSON.stringify(out)}`);
  const to = parseDType(opts.dtype);
  const single = !!opts.singleFile;
  if (single && !out.endsWith('.safetensors')) fail('E_ARGS', `--single-file writes one .safetensors file; --out must end in .safetensors, found "${out}"`);
  if (!single && out.endsWith('.safetensors')) fail('E_ARGS', `--out "${out}" names a .safetensors file; add --single-file to write one file, or give a folder name`);
  const outPath = out.replace(/[\\/]+$/, '') || out;
  await checkOut(outPath);

  // Read and validate exactly as load() does.
  const files = await openModelFiles(input);
  const cfgSource = files.source.replace(/model\.safetensors$|pytorch_model\.bin$/, 'config.json');
  const cfg = parseConfig(files.config, cfgSource);
  checkTensors(cfg, files.tensors, files.source);

  const notes = [...files.notes];
  const tensors = new Map<string, RawTensor>();
  const changed = new Map<string, number>();
  for (const [name, t] of files.tensors) {
    if (t.dtype !== to) changed.set(t.dtype, (changed.get(t.dtype) ?? 0) + 1);
    tensors.set(name, convertTensor(name, t, to, files.source));
  }
  if (changed.size) {
    const what = [...changed].map(([d, n]) => `${n} ${d}`).join(', ');
    notes.push(`stored ${what} tensor${[...changed.values()].reduce((a, b) => a + b, 0) === 1 ? '' : 's'} as ${to}`);
  }

  const metadata: Record<string, string> = { format: 'pt', slimwav_source: files.source };
  if (single) metadata.config = JSON.stringify(files.config);
  const pre = files.preprocessor?.json;
  if (single && pre) metadata.preprocessor = JSON.stringify(pre);
  const bytes = serializeSafetensors({ tensors, metadata });
  const params = countParams(cfg, tensors);
  const result = (written: string[]): ConvertResult => ({ config: files.config, params, notes, files: written });

  if (single) {
    await writeFileAtomic(outPath, bytes, { noReplace: true });
    return result([outPath]);
  }
  // Folder: assembled under a temp name beside `out`, renamed into place in one step (never over anything)
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
  const written: [string, Uint8Array][] = [['config.json', enc(files.config)], ['model.safetensors', bytes]];
  if (pre) written.push(['preprocessor_config.json', enc(pre)]);
  await writeModelFolderAtomic(outPath, written);
  return result(written.map(([name]) => join(outPath, name)));
}
