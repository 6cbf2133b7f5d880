/**
 * The pruned layout the benchmarks time: keep-masks leaving about 28% of the wav2vec2-base shape's parameters,
 * deterministic from a seed, deeper layers pruned harder (roughly what the pruner produces). Browser-safe, so the
 * demo page (web/) builds the same dense and pruned pair as `slimwav bench`.
 */
import type { KeepMasks } from '../prune/compact.js';
import { Rng } from '../util/rng.js';
import type { ModelConfig } from './config.js';

/** The ~28%-of-parameters layout used across the benches (deterministic). */
export function benchMasks(cfg: ModelConfig, scale = 0.335, convKeep = 0.52, seed = 1): KeepMasks {
  const rng = new Rng(seed), r = () => rng.next();
  const keep = (n: number, frac: number) => {
    // Fisher–Yates: the same order on every engine (sorting with a random comparator depends on the sort algorithm,
    // so Node 20's V8 and a newer Chromium's picked different units from the same seed)
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const m = new Array(n).fill(false);
    order.slice(0, Math.max(1, Math.round(n * frac))).forEach((i) => (m[i] = true));
    return m;
  };
  const L = cfg.numLayers;
  const depth = (l: number) => 1.25 - 0.5 * (l / Math.max(1, L - 1));
  return {
    conv: cfg.conv.map((c) => keep(c.dim, convKeep)),
    heads: cfg.layers.map((Ly, l) => keep(Ly.heads.length, Math.min(1, 0.75 * depth(l) * Math.sqrt(scale) + 0.1))),
    qk: cfg.layers.map((Ly, l) => Ly.qkDims.map((d) => keep(d, Math.min(1, depth(l) * scale * (0.6 + 0.8 * r()))))),
    v: cfg.layers.map((Ly, l) => Ly.vDims.map((d) => keep(d, Math.min(1, depth(l) * scale * (0.6 + 0.8 * r()))))),
    ffn: cfg.layers.map((Ly, l) => keep(Ly.ffn, Math.min(1, depth(l) * scale * 0.8))),
  };
}
