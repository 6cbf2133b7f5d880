/**
 * `slimwav convert`: any model form docs/format.md accepts (folder with model.safetensors or pytorch_model.bin, single
 * .safetensors with its config, DPHuBERT/torchaudio checkpoint) → a slimwav model in F32, F16 or q8:
 *   - a folder `<out>/config.json` + `<out>/model.safetensors`, or
 *   - with `singleFile`, one `<out>.safetensors` whose `__metadata__.config` is the config JSON.
 * A preprocessor_config.json (do_normalize, sampling_rate) is carried over as it was read: into `<out>/` beside
 * config.json, or as `__metadata__.preprocessor` of the single file.
 * The input is validated exactly as load() validates it, so whatever convert writes loads. Tensors keep their
 * HF names and their layout (weight norm stays unfolded, DPHuBERT's dummy_weight stays), so an F32 conversion of an
 * F32 model runs bit-identically to the original.
 *
 * q8 (docs/format.md "int8 weights"): every weight arch/binding.ts storableInt8() names (linear layers, conv layers
 * from 1 on, and the positional conv's stored tensor: weight, or weight_v beside an F32 weight_g) becomes I8 plus
 * its F32 `<weight>_scale` [rows], quantized by arch/quant.ts quantizeRows (the one definition the engine and the
 * ONNX export share); every other tensor is stored F32. The positional conv is int8 in the file only (load
 * dequantizes it into the f32 weight it runs on): 4.7 MB instead of 18.9 MB of the base shape's ~95 MB. A q8 input
 * keeps its int8 values byte for byte; converting a q8 model to f32 or f16 writes the dequantized weights
 * (q · scale) and no scales.
 * `__metadata__.slimwav_dtype` records the dtype written (f32, f16 or q8).
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
import { checkTensors, countParams, scaleOwner } from '../arch/tensors.js';
import { firstNonFinite } from '../arch/limits.js';
import { storableInt8 } from '../arch/binding.js';
import { dequantizeRows, quantizeRows, scaleName } from '../arch/quant.js';
import { openModelFiles } from '../arch/model-files.js';
import { serializeSafetensors } from '../format/safetensors.js';
import { writeFileAtomic, writeModelFolderAtomic } from '../format/fsutil.js';
import { fromFloat32, numel, toFloat32, type RawTensor } from '../format/tensor.js';

export type ConvertDType = 'f32' | 'f16' | 'q8';

export interface ConvertOptions {
  /**
   * storage type (default 'f32'); BF16/F64/F16 inputs are converted. 'q8': int8 weights with per-row scales for the
   * linear layers, conv layers ≥ 1 and the positional conv (stored only), F32 for the rest
   */
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

/** The dtypes convert writes, for option checks and help text. */
export const CONVERT_DTYPES: readonly ConvertDType[] = ['f32', 'f16', 'q8'];

function parseDType(v: unknown): ConvertDType {
  if (v === undefined) return 'f32';
  if (CONVERT_DTYPES.includes(v as ConvertDType)) return v as ConvertDType;
  return fail('E_ARGS', `--dtype must be f32, f16 or q8, found ${JSON.stringify(v)}`);
}

/** [rows, cols] of a weight as quantizeRows sees it (a conv [Cout][Cin][K] is [Cout][Cin·K]). */
const rowsCols = (t: RawTensor): [number, number] => {
  const rows = t.shape[0], n = numel(t.shape);
  return [rows, n / rows];
};

/** An I8 weight and its scale tensor as arch/quant.ts's Q8. */
const q8Of = (t: RawTensor, scale: RawTensor, name: string) => ({
  q: new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  scale: toFloat32(scale, scaleName(name)),
});

/**
 * The input tensors in the storage `dtype` asks for (see the file comment), with one note per kind of change.
 * The tensors have passed checkTensors: every I8 weight is quantizable and has its scales.
 */
function convertTable(input: Map<string, RawTensor>, dtype: ConvertDType, source: string, notes: string[]): Map<string, RawTensor> {
  const to = dtype === 'f16' ? 'F16' : 'F32';
  const tensors = new Map<string, RawTensor>();
  const changed = new Map<string, number>();
  let quantized = 0, dequantized = 0;
  for (const [name, t] of input) {
    const owner = scaleOwner(name);
    if (owner !== null && input.get(owner)?.dtype === 'I8') continue; // written with its weight
    if (t.dtype === 'I8') {
      const scale = input.get(scaleName(name))!;
      if (dtype === 'q8') {
        tensors.set(name, t);
        tensors.set(scaleName(name), scale);
      } else {
        const [rows, cols] = rowsCols(t);
        // through convertTensor, so f16 gets its range check
        tensors.set(name, convertTensor(name, fromFloat32(dequantizeRows(q8Of(t, scale, name), rows, cols), t.shape), to, source));
        dequantized++;
      }
    } else if (dtype === 'q8' && storableInt8(name) && numel(t.shape) > 0) {
      const [rows, cols] = rowsCols(t);
      const q = quantizeRows(toFloat32(t, name), rows, cols);
      tensors.set(name, { dtype: 'I8', shape: [...t.shape], data: new Uint8Array(q.q.buffer) });
      tensors.set(scaleName(name), fromFloat32(q.scale, [rows]));
      quantized++;
    } else {
      if (t.dtype !== to) changed.set(t.dtype, (changed.get(t.dtype) ?? 0) + 1);
      tensors.set(name, convertTensor(name, t, to, source));
    }
  }
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (quantized) notes.push(`quantized ${plural(quantized, 'weight')} to int8 with one F32 scale per output row`);
  if (dequantized) notes.push(`stored ${plural(dequantized, 'int8 weight')} as ${to} (q · scale)`);
  if (changed.size) {
    const what = [...changed].map(([d, n]) => `${n} ${d}`).join(', ');
    notes.push(`stored ${what} tensor${[...changed.values()].reduce((a, b) => a + b, 0) === 1 ? '' : 's'} as ${to}`);
  }
  return tensors;
}

/**
 * Convert the model at `input` into a slimwav model at `out` (see the file comment). Errors are SlimwavErrors with
 * one-line messages: E_ARGS for bad options, E_IO for an existing `out` or a failed write, and whatever load() would
 * report for an input that cannot run (E_FORMAT, E_CONFIG, E_SHAPE, E_UNSAFE).
 */
export async function convertModel(input: string, out: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  if (typeof input !== 'string' || input === '') fail('E_ARGS', `convert needs a path to a model folder or file, found ${JSON.stringify(input)}`);
  if (typeof out !== 'string' || out === '') fail('E_ARGS', `convert needs --out <folder> (or <file.safetensors> with --single-file), found ${JSON.stringify(out)}`);
  const dtype = parseDType(opts.dtype);
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
  if (dtype === 'q8') {
    // a NaN or ±Inf weight has no int8 form (its row's scale would be NaN or infinite)
    for (const [name, t] of files.tensors) {
      const i = storableInt8(name) ? firstNonFinite(t) : -1;
      if (i >= 0) fail('E_SHAPE', `${files.source}: tensor ${name} holds a NaN or infinite value (element ${i}), which has no int8 form; use --dtype f32 or f16`);
    }
  }

  const notes = [...files.notes];
  const tensors = convertTable(files.tensors, dtype, files.source, notes);

  const metadata: Record<string, string> = { format: 'pt', slimwav_source: files.source, slimwav_dtype: dtype };
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
