/**
 * A model's audio preprocessing, as Hugging Face writes it in `preprocessor_config.json` beside config.json
 * (Wav2Vec2FeatureExtractor), or in a single .safetensors model's `__metadata__.preprocessor` as the same JSON text:
 *
 *   { "do_normalize": true, "sampling_rate": 16000, "feature_size": 1, "padding_value": 0.0, ... }
 *
 * Only two fields change what the model sees:
 *   - `do_normalize`: when true, the whole 16 kHz waveform x is replaced by (x − mean(x)) / sqrt(var(x) + 1e-7)
 *     before the model, exactly as transformers' feature extractor does (wav2vec2-base and the large models are
 *     trained that way). The engine does it (src/runtime/engine.ts) when the config's `do_normalize` is true;
 *     withPreprocessor() sets that from this file. False: the waveform is used as it is.
 *   - `sampling_rate`: the rate the model was trained at. slimwav's models run at 16 000 Hz (audio is resampled to
 *     it), so any other value contradicts the model and is refused.
 * The other Wav2Vec2FeatureExtractor fields are checked for their type and otherwise have no effect here; unknown
 * fields are ignored with a note (they belong to other tools).
 */
import { fail } from '../errors.js';
import { isJsonObject } from './json.js';

export interface Preprocessor {
  /** zero-mean, unit-variance normalisation of the whole waveform before the model */
  doNormalize: boolean;
  /** always 16000 (anything else is refused) */
  samplingRate: number;
  /** where it was read from (named in messages and shown by inspect) */
  source: string;
  /** the JSON object as read, so that convert can carry it over unchanged */
  json: Record<string, unknown>;
}

export const MODEL_RATE = 16000;

const KNOWN: Record<string, 'boolean' | 'number' | 'string' | 'integer'> = {
  do_normalize: 'boolean',
  sampling_rate: 'integer',
  feature_size: 'integer',
  padding_value: 'number',
  padding_side: 'string',
  return_attention_mask: 'boolean',
  feature_extractor_type: 'string',
  processor_class: 'string',
};

/** Check a preprocessor_config.json object; `notes` receives one line about ignored unknown keys. */
export function parsePreprocessor(json: unknown, source: string, notes: string[] = []): Preprocessor {
  if (!isJsonObject(json)) return fail('E_CONFIG', `${source}: expected a JSON object (Hugging Face preprocessor_config.json)`);
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(json)) {
    const want = KNOWN[k];
    if (!want) { unknown.push(k); continue; }
    const ok = want === 'integer' ? Number.isInteger(v) : typeof v === want && (want !== 'number' || Number.isFinite(v));
    if (!ok) fail('E_CONFIG', `${source}: "${k}" must be ${want === 'integer' ? 'an integer' : `a ${want}`}, found ${JSON.stringify(v)}`);
  }
  if (json.feature_size !== undefined && json.feature_size !== 1) {
    fail('E_CONFIG', `${source}: "feature_size" is ${json.feature_size}, but wav2vec2/HuBERT/WavLM take one raw waveform (feature_size 1)`);
  }
  const rate = (json.sampling_rate as number | undefined) ?? MODEL_RATE;
  if (rate !== MODEL_RATE) {
    fail('E_CONFIG', `${source}: "sampling_rate" is ${rate}, but the model runs at ${MODEL_RATE} Hz (wav2vec2/HuBERT/WavLM); fix the file or remove the field`);
  }
  if (unknown.length) notes.push(`${source}: ignored unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`);
  return { doNormalize: json.do_normalize === true, samplingRate: rate, source, json };
}

/**
 * The config JSON the model runs with. The engine normalises when the config's `do_normalize` is true (slimwav's own
 * config key, also set from fairseq/torchaudio checkpoints); a preprocessor file that has `do_normalize` decides over
 * it, with a note when the two disagree.
 */
export function withPreprocessor(config: Record<string, unknown>, pre: Preprocessor | null | undefined, notes: string[]): Record<string, unknown> {
  if (!pre || pre.json.do_normalize === undefined) return config;
  const own = config.do_normalize;
  if (own !== undefined && own !== pre.doNormalize) notes.push(`${pre.source}: do_normalize ${pre.doNormalize} overrides the config's ${JSON.stringify(own)}`);
  return { ...config, do_normalize: pre.doNormalize };
}
