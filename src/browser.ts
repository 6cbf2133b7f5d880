/**
 * slimwav in a browser (or a Web Worker, or anywhere without a file system): load a model from bytes or a URL.
 * Imports nothing from Node, not even dynamically; the kernels are fetched from the package's build/ folder next to
 * dist/ unless the wasmBase / wasmUrl option says where they are.
 *
 *   import { loadFromUrl } from 'slimwav/browser';
 *   const model = await loadFromUrl('/models/my-model/');           // config.json + model.safetensors
 *   const { layers } = await model.extract(pcm16k, { layers: 'all' });
 *   model.dispose();
 *
 * Threads: used only inside a Web Worker of a cross-origin isolated page (COOP same-origin + COEP require-corp);
 * elsewhere the model runs on one thread and says why in one console.warn line. createWorkerModel() runs the model
 * in the worker slimwav ships (dist/src/worker.js), with the same extract/dispose API:
 *
 *   const model = await createWorkerModel('/models/my-model/', { threads: 4 });
 *
 * Bundlers: copy the package's build/*.wasm next to the bundle and pass { wasmBase: '/assets/' } (or wasmUrl).
 */
import { fail } from './errors.js';
import { isJsonObject } from './format/json.js';
import { parseSafetensors } from './format/safetensors.js';
import { buildModel, Model, type LoadOptions } from './model-core.js';
import { parsePreprocessor, withPreprocessor } from './format/preprocessor.js';

export { Model } from './model-core.js';
export type { LoadOptions, ExtractOptions, Features, ModelInfo, AudioInput, StreamOptions } from './model-core.js';
export type { FeatureStream, StreamFrames, StreamBlock } from './stream.js';
export { resample } from './format/resample.js';
export type { ModelConfig } from './arch/config.js';
export { SlimwavError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { LayerSelection } from './layers.js';
export { createWorkerModel } from './worker-client.js';
export type { WorkerModel, WorkerModelOptions } from './worker-client.js';
export type { WasmLocation } from './runtime/wasm.js';

export interface ModelBuffers {
  /** the parsed config.json (Hugging Face wav2vec2 / HuBERT / WavLM config) */
  config: Record<string, unknown>;
  /** the model.safetensors file's bytes */
  weights: ArrayBuffer | Uint8Array;
  /** a name for error messages (default 'model.safetensors') */
  name?: string;
  /** the parsed preprocessor_config.json, if the model has one (`do_normalize` is honoured) */
  preprocessor?: Record<string, unknown>;
}

/** Build a model from an already-parsed config and the safetensors bytes. */
export async function loadFromBuffers(buffers: ModelBuffers, opts: LoadOptions = {}): Promise<Model> {
  if (!buffers || !isJsonObject(buffers.config)) fail('E_ARGS', 'loadFromBuffers() needs { config: <parsed config.json object>, weights: <safetensors bytes> }');
  const w = buffers.weights;
  const bytes = w instanceof Uint8Array ? w : w instanceof ArrayBuffer ? new Uint8Array(w) : null;
  if (!bytes) fail('E_ARGS', `loadFromBuffers(): weights must be an ArrayBuffer or Uint8Array, found ${Object.prototype.toString.call(w)}`);
  const name = buffers.name ?? 'model.safetensors';
  const { tensors } = parseSafetensors(bytes, name);
  const notes: string[] = [];
  const pre = buffers.preprocessor === undefined ? null : parsePreprocessor(buffers.preprocessor, name.replace(/[^/]*$/, 'preprocessor_config.json'), notes);
  return buildModel(withPreprocessor(buffers.config, pre, notes), tensors, name, notes, opts, pre);
}

/**
 * Fetch `<folderUrl>/config.json` and `<folderUrl>/model.safetensors` (and `preprocessor_config.json` if the server
 * has it: HTTP 404 means the model has none) and build the model.
 */
export async function loadFromUrl(folderUrl: string | URL, opts: LoadOptions = {}): Promise<Model> {
  const base = new URL(String(folderUrl).replace(/\/?$/, '/'), (globalThis as { location?: { href: string } }).location?.href);
  const get = async (file: string): Promise<Response> => {
    const url = new URL(file, base);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      return fail('E_IO', `${url.href}: cannot fetch: ${(err as Error).message}`);
    }
    if (!res.ok) fail('E_IO', `${url.href}: HTTP ${res.status} ${res.statusText}`.trim());
    return res;
  };
  const preUrl = new URL('preprocessor_config.json', base);
  const optional = fetch(preUrl).then((r) => r.status === 404 ? null : r.ok ? r : fail('E_IO', `${preUrl.href}: HTTP ${r.status} ${r.statusText}`.trim()),
    (err) => fail('E_IO', `${preUrl.href}: cannot fetch: ${(err as Error).message}`));
  const [cfgRes, wRes, preRes] = await Promise.all([get('config.json'), get('model.safetensors'), optional]);
  let config: unknown;
  try {
    config = JSON.parse(await cfgRes.text());
  } catch (err) {
    fail('E_FORMAT', `${cfgRes.url}: not valid JSON (${(err as Error).message})`);
  }
  if (!isJsonObject(config)) fail('E_FORMAT', `${cfgRes.url}: expected a JSON object`);
  let preprocessor: Record<string, unknown> | undefined;
  if (preRes) {
    let pre: unknown;
    try {
      pre = JSON.parse(await preRes.text());
    } catch (err) {
      fail('E_FORMAT', `${preUrl.href}: not valid JSON (${(err as Error).message})`);
    }
    preprocessor = pre as Record<string, unknown>; // checked by loadFromBuffers (E_CONFIG naming the file)
  }
  return loadFromBuffers({ config, weights: await wRes.arrayBuffer(), name: new URL('model.safetensors', base).href, preprocessor }, opts);
}
