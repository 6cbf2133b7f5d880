/**
 * Reading a model's files from disk, in every form docs/format.md allows:
 *   - a folder with config.json and model.safetensors (or pytorch_model.bin)
 *   - one .safetensors file whose __metadata__.config holds the config JSON as a string
 *   - one PyTorch checkpoint that carries its own config (DPHuBERT .pth: {state_dict, config})
 * The result is the bytes read (tensors as stored, any config JSON found); nothing here knows the model: the names
 * and configs are mapped by arch/checkpoint.ts (arch/model-files.ts openModelFiles).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { readFileBytes } from './fsutil.js';
import { isJsonObject, parseJsonBytes, parseJson } from './json.js';
import { openSafetensorsFile, parseSafetensors } from './safetensors.js';
import type { RawTensor } from './tensor.js';
import { readTorchStateDict } from './pytorch.js';
import { parsePreprocessor, type Preprocessor } from './preprocessor.js';

/** What a model's files hold, read but not interpreted (arch/checkpoint.ts maps names and configs). */
export interface ModelSource {
  /** tensors as stored (weight-norm parametrization spellings canonicalised) */
  tensors: Map<string, RawTensor>;
  /** a config.json beside the weights, or a single .safetensors file's __metadata__.config */
  config?: Record<string, unknown>;
  /** the file `config` came from when it is a config.json beside the weights (named in config errors) */
  configSource?: string;
  /** preprocessor_config.json beside config.json, or a single file's __metadata__.preprocessor (preprocessor.ts) */
  preprocessor?: Preprocessor;
  /** a PyTorch checkpoint's own config (DPHuBERT: the kwargs of wav2vec2_model) */
  checkpointConfig?: Record<string, unknown>;
  /** the file the tensors came from (named in error messages) */
  source: string;
  /** what reading dropped that a user may want to know */
  notes: string[];
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

export interface ReadOptions {
  /**
   * Leave a safetensors file's tensor bytes in the file until they are used (openSafetensorsFile): what load()
   * does, so that it packs the weights chunk by chunk and never holds the whole file in memory.
   */
  lazy?: boolean;
}

export async function readModelSource(path: string, opts: ReadOptions = {}): Promise<ModelSource> {
  const readTable = async (p: string) => (opts.lazy ? openSafetensorsFile(p) : parseSafetensors(await readFileBytes(p), p));
  const k = await kind(path);
  if (k === 'missing') fail('E_IO', `${path}: no such model file or folder`);
  if (k === 'dir') {
    const cfgPath = join(path, 'config.json');
    if ((await kind(cfgPath)) !== 'file') fail('E_IO', `${path}: a model folder needs config.json (not found)`);
    const config = parseJsonBytes(await readFileBytes(cfgPath), cfgPath, 'config');
    if (!isJsonObject(config)) fail('E_CONFIG', `${cfgPath}: expected a JSON object`);
    const prePath = join(path, 'preprocessor_config.json');
    const preJson = (await kind(prePath)) === 'file' ? parseJsonBytes(await readFileBytes(prePath), prePath, 'preprocessor') : undefined;
    const withPre = (f: ModelSource): ModelSource => preJson === undefined ? f : { ...f, preprocessor: parsePreprocessor(preJson, prePath, f.notes) };
    const st = join(path, 'model.safetensors');
    if ((await kind(st)) === 'file') {
      const table = await readTable(st);
      return withPre({ tensors: canonicalNames(table.tensors), config, configSource: cfgPath, source: st, notes: [] });
    }
    const bin = join(path, 'pytorch_model.bin');
    if ((await kind(bin)) === 'file') return withPre(await openTorch(bin, config, undefined, cfgPath));
    fail('E_IO', `${path}: a model folder needs model.safetensors or pytorch_model.bin next to config.json (neither found)`);
  }
  if (path.endsWith('.safetensors')) {
    const table = await readTable(path);
    const cfgText = table.metadata.config;
    if (cfgText === undefined) fail('E_CONFIG', `${path}: a single .safetensors model needs its config JSON in __metadata__.config (not found); use a folder with config.json instead`);
    const config = parseJson(cfgText, path, '__metadata__.config');
    if (!isJsonObject(config)) fail('E_CONFIG', `${path}: __metadata__.config must be a JSON object`);
    const files: ModelSource = { tensors: canonicalNames(table.tensors), config, source: path, notes: [] };
    const preText = table.metadata.preprocessor;
    if (preText === undefined) return files;
    const where = `${path} (__metadata__.preprocessor)`;
    return { ...files, preprocessor: parsePreprocessor(parseJson(preText, path, '__metadata__.preprocessor'), where, files.notes) };
  }
  return openTorch(path, undefined, await readFileBytes(path));
}

/** A PyTorch zip checkpoint: HF pytorch_model.bin (config.json beside it) or one that carries its config (DPHuBERT). */
async function openTorch(path: string, config: Record<string, unknown> | undefined, bytes?: Uint8Array, configSource?: string): Promise<ModelSource> {
  const sd = readTorchStateDict(bytes ?? (await readFileBytes(path)), path);
  return { tensors: canonicalNames(sd.tensors), config, configSource, checkpointConfig: sd.config, source: path, notes: [...sd.extra] };
}
