/**
 * A complete random-initialised model for a config, bit-identical to what scripts/make_fixtures.py builds with the
 * same seed: how tests and benchmarks get a base-sized model without committing or downloading 380 MB.
 */
import type { RawTensor } from '../format/tensor.js';
import { fromFloat32 } from '../format/tensor.js';
import type { ModelConfig } from './config.js';
import { hashFill, initRule } from './random-init.js';
import { tensorSpecs, TensorNames } from './binding.js';

export function randomTensors(cfg: ModelConfig, seed: number): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const s of tensorSpecs(cfg)) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (size === 0 || !s.used) continue;
    // one spelling of the positional conv (weight_g + weight_v); no DPHuBERT channel scale or compaction extras
    if ([`${TensorNames.posConv}.weight`, TensorNames.dummy, TensorNames.prunedChannelWeight].includes(s.name)) continue;
    const { scale, offset } = initRule(s.name, s.shape);
    const data = hashFill(new Float32Array(size), s.name, seed, scale, offset);
    const t = fromFloat32(data, s.shape);
    out.set(s.name, t);
  }
  return out;
}
