/**
 * A model's audio preprocessing, as Hugging Face writes it in `preprocessor_config.json` beside config.json
 * (Wav2Vec2FeatureExtractor), or in a single .safetensors model's `__metadata__.preprocessor` as the same JSON text:
 *
 *   { "do_normalize": true, "sampling_rate": 16000, "feature_size": 1, "padding_value": 0.0, ... }
 *
 * Only two fields change what the model sees:
 *   - `do_normalize`: when true, the whole 16 kHz waveform x is replaced by (x − mean(x)) / sqrt(var(x) + 1e-7)
 *     before the model, exactly as transformers' feature extractor does (wav2vec2-base and the large models are
 *     trained that way; HuBERT and WavLM base are not). Absent or false: the waveform is used as it is.
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
/** Added to the variance before the square root, as transformers does. */
export const NORM_EPS = 1e-7;

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
 * (x − mean) / sqrt(var + 1e-7) over the whole waveform (population variance), in float64, into a new array.
 * A constant waveform becomes zeros.
 */
export function normalizeWaveform(x: Float32Array): Float32Array {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i];
  const mean = n ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
  const inv = 1 / Math.sqrt((n ? ss / n : 0) + NORM_EPS);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) * inv;
  return out;
}
