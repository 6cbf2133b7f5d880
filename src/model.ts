/**
 * load(): open a model folder, safetensors file or PyTorch checkpoint from disk (Node) and build the Model
 * (src/model-core.ts, which browsers use through src/browser.ts).
 */
import './util/node-host.js'; // slimwav's Node built-ins (src/util/host.ts), injected by this entry only
import { fail } from './errors.js';
import { parseConfig } from './arch/config.js';
import { openModelFiles, type ModelFiles } from './arch/model-files.js';
import { withPreprocessor } from './format/preprocessor.js';
import { buildModel, checkThreads, type LoadOptions, type Model } from './model-core.js';

export { Model, buildModel } from './model-core.js';
export type { LoadOptions, ExtractOptions, Features, ModelInfo, AudioInput, StreamOptions } from './model-core.js';

/**
 * Open a model folder, single .safetensors file or PyTorch checkpoint (docs/format.md) and prepare it to run.
 * `opts.dtype`: 'auto' (default) computes as stored (int8 weights run the int8 kernels), 'q8' quantizes f32 weights
 * to int8 at load, 'f32' computes in f32 even for an int8 file; model.info.dtype reports it.
 */
export async function load(path: string, opts: LoadOptions = {}): Promise<Model> {
  if (typeof path !== 'string' || path === '') fail('E_ARGS', `load() needs a path to a model folder or file, found ${JSON.stringify(path)}`);
  checkThreads(opts.threads);
  // lazy: the tensors' bytes stay in the file; the engine streams them through a small buffer while it packs them
  return loadFiles(await openModelFiles(path, { lazy: true }), opts);
}

/** load() for a model already opened with openModelFiles (`inspect` also reads how its tensors are stored). */
export async function loadFiles(files: ModelFiles, opts: LoadOptions = {}): Promise<Model> {
  checkThreads(opts.threads);
  const cfgSource = files.source.replace(/model\.safetensors$|pytorch_model\.bin$/, 'config.json');
  const config = withPreprocessor(files.config, files.preprocessor, files.notes);
  parseConfig(config, cfgSource);
  return buildModel(config, files.tensors, files.source, files.notes, opts, files.preprocessor ?? null);
}
