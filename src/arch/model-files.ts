/**
 * Opening a model from disk (Node): format/model-files.ts reads the bytes, arch/checkpoint.ts maps names and config.
 */
import type { RawTensor } from '../format/tensor.js';
import { readModelSource, type ReadOptions } from '../format/model-files.js';
import type { Preprocessor } from '../format/preprocessor.js';
import { toSlimwavModel } from './checkpoint.js';

/** A model as slimwav runs it: config.json contents and tensors under Hugging Face names, from any source form. */
export interface ModelFiles {
  config: Record<string, unknown>;
  tensors: Map<string, RawTensor>;
  /** the file the tensors came from (named in error messages) */
  source: string;
  /** what the loader did that a user may want to know (dropped task heads, renamed keys) */
  notes: string[];
  /** preprocessor_config.json beside config.json, or a single file's __metadata__.preprocessor */
  preprocessor?: Preprocessor;
}

/**
 * Open a model folder (config.json + model.safetensors or pytorch_model.bin), a single .safetensors with its config in
 * __metadata__.config, or a PyTorch checkpoint (its own config, or shapes alone): the bytes are read by
 * format/model-files.ts, the names and config mapped here. `opts.lazy`: a safetensors file's tensors stay in the file
 * until used (load() reads them chunk by chunk while packing).
 */
export async function openModelFiles(path: string, opts: ReadOptions = {}): Promise<ModelFiles> {
  const r = await readModelSource(path, opts);
  const m = toSlimwavModel(r.tensors, r.checkpointConfig, r.source, r.config, r.configSource);
  const files: ModelFiles = { config: m.config, tensors: m.tensors, source: r.source, notes: [...r.notes, ...m.notes] };
  return r.preprocessor ? { ...files, preprocessor: r.preprocessor } : files;
}
