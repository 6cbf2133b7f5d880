/**
 * Opening a model from disk, in every form docs/format.md allows:
 *   - a folder with config.json and model.safetensors (or pytorch_model.bin)
 *   - one .safetensors file whose __metadata__.config holds the config JSON as a string
 *   - one PyTorch checkpoint that carries its own config (DPHuBERT .pth: {state_dict, config})
 * The result is always {config JSON, tensors with slimwav/HF names}; nothing here knows about wasm.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { readFileBytes } from './fsutil.js';
import { isJsonObject, parseJsonBytes, parseJson } from './json.js';
import { parseSafetensors } from './safetensors.js';
import type { RawTensor } from './tensor.js';
import { readTorchStateDict } from './pytorch.js';
import { toSlimwavModel } from './checkpoint.js';
import { parsePreprocessor, type Preprocessor } from './preprocessor.js';

export interface ModelFiles {
  config: Record<string, unknown>;
  tensors: Map<string, RawTensor>;
  /** the file the tensors came from (named in error messages) */
  source: string;
  /** what the loader did that a user may want to know (dropped task heads, renamed keys) */
  notes: string[];
  /** preprocessor_config.json beside config.json, or a single file's __metadata__.preprocessor (preprocessor.ts) */
  preprocessor?: Preprocessor;
}

const WEIGHT_NORM_ALIASES: [RegExp, string][] = [
  [/^(.*)\.parametrizations\.weight\.original0$/, '$1.weight_g'],
  [/^(.*)\.parametrizations\.weight\.original1$/, '$1.weight_v'],
];

/** Apply the renames every source needs (weight-norm spellings); richer mapping lives in checkpoint.ts. */
function canonicalNames(tensors: Map<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    let n = name;
    for (const [re, to] of WEIGHT_NORM_ALIASES) n = n.replace(re, to);
    out.set(n, t);
  }
  return out;
}

async function kind(path: string): Promise<'dir' | 'file' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

export async function openModelFiles(path: string): Promise<ModelFiles> {
  const k = await kind(path);
  if (k === 'missing') fail('E_IO', `${path}: no such model file or folder`);
  if (k === 'dir') {
    const cfgPath = join(path, 'config.json');
    if ((await kind(cfgPath)) !== 'file') fail('E_IO', `${path}: a model folder needs config.json (not found)`);
    const config = parseJsonBytes(await readFileBytes(cfgPath), cfgPath, 'config');
    if (!isJsonObject(config)) fail('E_CONFIG', `${cfgPath}: expected a JSON object`);
    const prePath = join(path, 'preprocessor_config.json');
    const preJson = (await kind(prePath)) === 'file' ? parseJsonBytes(await readFileBytes(prePath), prePath, 'preprocessor') : undefined;
    const withPre = (f: ModelFiles): ModelFiles => preJson === undefined ? f : { ...f, preprocessor: parsePreprocessor(preJson, prePath, f.notes) };
    const st = join(path, 'model.safetensors');
    if ((await kind(st)) === 'file') {
      const table = parseSafetensors(await readFileBytes(st), st);
      return withPre(mapped(toSlimwavModel(canonicalNames(table.tensors), undefined, st, config, cfgPath), st));
    }
    const bin = join(path, 'pytorch_model.bin');
    if ((await kind(bin)) === 'file') return withPre(await openTorch(bin, config, undefined, cfgPath));
    fail('E_IO', `${path}: a model folder needs model.safetensors or pytorch_model.bin next to config.json (neither found)`);
  }
  const bytes = await readFileBytes(path);
  if (path.endsWith('.safetensors')) {
    const table = parseSafetensors(bytes, path);
    const cfgText = table.metadata.config;
    if (cfgText === undefined) fail('E_CONFIG', `${path}: a single .safetensors model needs its config JSON in __metadata__.config (not found); use a folder with config.json instead`);
    const config = parseJson(cfgText, path, '__metadata__.config');
    if (!isJsonObject(config)) fail('E_CONFIG', `${path}: __metadata__.config must be a JSON object`);
    const files = mapped(toSlimwavModel(canonicalNames(table.tensors), undefined, path, config), path);
    const preText = table.metadata.preprocessor;
    if (preText === undefined) return files;
    const where = `${path} (__metadata__.preprocessor)`;
    return { ...files, preprocessor: parsePreprocessor(parseJson(preText, path, '__metadata__.preprocessor'), where, files.notes) };
  }
  return openTorch(path, undefined, bytes);
}

function mapped(m: { config: Record<string, unknown>; tensors: Map<string, RawTensor>; notes: string[] }, source: string): ModelFiles {
  return { config: m.config, tensors: m.tensors, source, notes: m.notes };
}

/** A PyTorch zip checkpoint: HF pytorch_model.bin (config.json beside it) or one that carries its config (DPHuBERT). */
async function openTorch(path: string, hfConfig: Record<string, unknown> | undefined, bytes?: Uint8Array, cfgPath?: string): Promise<ModelFiles> {
  const sd = readTorchStateDict(bytes ?? (await readFileBytes(path)), path);
  const m = toSlimwavModel(canonicalNames(sd.tensors), sd.config, path, hfConfig, cfgPath);
  return { config: m.config, tensors: m.tensors, source: path, notes: [...sd.extra, ...m.notes] };
}
