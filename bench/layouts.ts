// Deterministic pruned layouts of a dense model, for benchmarks: keep-masks that leave about `keep` of the
// parameters with fine-grained heads (per-head q/k and value widths), ragged FFN and pruned conv channels —
// the shape of what the pruner produces, without needing a pruning run.
import type { KeepMasks } from '../src/prune/compact.js';
import type { ModelConfig } from '../src/arch/config.js';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** keep the first round(n·frac) entries of a random permutation */
function keepFraction(n: number, frac: number, r: () => number): boolean[] {
  const order = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
  const keep = new Array(n).fill(false);
  order.slice(0, Math.max(1, Math.round(n * frac))).forEach((i) => (keep[i] = true));
  return keep;
}

/**
 * `scale` shrinks every encoder structure together (heads kept, head widths, FFN width); conv channels keep `convKeep`.
 * Layers differ (deeper layers keep less), as pruned models do.
 */
export function prunedMasks(cfg: ModelConfig, scale: number, convKeep: number, seed = 1): KeepMasks {
  const r = rng(seed);
  const L = cfg.numLayers;
  const depth = (l: number) => 1.25 - 0.5 * (l / Math.max(1, L - 1)); // 1.25 … 0.75
  return {
    conv: cfg.conv.map((c) => keepFraction(c.dim, convKeep, r)),
    heads: cfg.layers.map((Ly, l) => keepFraction(Ly.heads.length, Math.min(1, 0.75 * depth(l) * Math.sqrt(scale) + 0.1), r)),
    qk: cfg.layers.map((Ly, l) => Ly.qkDims.map((d) => keepFraction(d, Math.min(1, depth(l) * scale * (0.6 + 0.8 * r())), r))),
    v: cfg.layers.map((Ly, l) => Ly.vDims.map((d) => keepFraction(d, Math.min(1, depth(l) * scale * (0.6 + 0.8 * r())), r))),
    ffn: cfg.layers.map((Ly, l) => keepFraction(Ly.ffn, Math.min(1, depth(l) * scale * 0.8), r)),
  };
}
