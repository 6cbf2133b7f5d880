// The demo page's built-in models, made in the page from a seed (nothing to download, nothing large committed):
//   small: a 4-layer, 256-wide wav2vec2 (≈5 M parameters), untrained, deterministic weights from its seed
//   base:  the exact wav2vec2-base shape (≈94 M parameters, 380 MB of f32), for timing
// each with its pruned form: `slimwav bench`'s ≈28%-of-parameters layout (src/arch/bench-layout.ts), compacted.
// The browser test imports this file under Node too, to compute the same features outside the browser.
import { parseConfig } from '../dist/src/arch/config.js';
import { randomTensors } from '../dist/src/arch/random-model.js';
import { benchMasks } from '../dist/src/arch/bench-layout.js';
import { countParams } from '../dist/src/arch/tensors.js';
import { compact } from '../dist/src/prune/compact.js';
import { serializeSafetensors } from '../dist/src/format/safetensors.js';

/** The small shape: wav2vec2-base's conv kernels and strides, narrower and shallower. */
export function smallConfig(base) {
  return {
    ...base,
    conv_dim: base.conv_dim.map(() => 256),
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 1024,
    num_conv_pos_embedding_groups: 16,
    slimwav_init_seed: 11,
  };
}

/**
 * Dense and pruned model from a config: { dense, pruned }, each { config, weights (safetensors bytes), params }.
 * The dense tensors are dropped once serialised, so only the bytes stay in memory.
 */
export function buildPair(configJson) {
  const cfg = parseConfig(configJson, 'demo config');
  const tensors = randomTensors(cfg, configJson.slimwav_init_seed ?? 1);
  const pruned = compact(configJson, tensors, benchMasks(cfg));
  const pack = (config, t) => ({ config, weights: serializeSafetensors({ tensors: t, metadata: {} }), params: countParams(parseConfig(config), t) });
  const out = { dense: pack(configJson, tensors), pruned: pack(pruned.config, pruned.tensors) };
  tensors.clear();
  pruned.tensors.clear();
  return out;
}
