/**
 * Hard-concrete L0 gates with a straight-through estimator (docs/pruner.md, "Gates").
 *
 * One learnable log α per prunable unit. Each training step draws u ~ U(ε, 1−ε) per unit and
 *   s = σ((ln u − ln(1−u) + log α)/β),  z = clamp(s·(r−l) + l, 0, 1)            (β = 2/3, l = −0.1, r = 1.1)
 * The forward pass uses z_b = 1[z > 0.5]; the backward pass treats ∂z_b/∂z as 1, so ∂L/∂log α = ∂L/∂z_b · ∂z/∂log α
 * with ∂z/∂log α = (r−l)·s(1−s)/β where 0 < z < 1 and 0 where z is clamped. P(z_b = 1) = σ(log α) exactly, which is
 * the probability the size model uses.
 *
 * Without the straight-through estimator (`ste: false`, `prune --no-ste`: the hard-concrete relaxation alone, as in
 * the L0 paper and DPHuBERT) the forward pass uses the relaxed z itself, so the same ∂z/∂log α is now the true
 * derivative of the forward pass (∂L/∂log α = ∂L/∂z · ∂z/∂log α, no estimator); a unit is absent iff z = 0, so the
 * size model uses P(z > 0) = σ(log α − β·ln(−l/r)); the deterministic value of a unit is the L0 paper's
 * ẑ = clamp(σ(log α)·(r−l) + l, 0, 1), folded into the weights when the model is compacted (foldGateScales, train.ts).
 */
import { Rng } from '../util/rng.js';
import { fail } from '../errors.js';
import type { ModelConfig } from '../arch/config.js';
import { hasRelativeBias } from '../arch/binding.js';
import type { KeepMasks } from './compact.js';

export const BETA = 2 / 3;
export const LIMIT_L = -0.1;
export const LIMIT_R = 1.1;
const EPS = 1e-6;

export type UnitKind = 'conv' | 'head' | 'qk' | 'v' | 'attn' | 'ffn' | 'ffnblock';
export const UNIT_KINDS: UnitKind[] = ['conv', 'head', 'qk', 'v', 'attn', 'ffn', 'ffnblock'];

/** One value per prunable unit, grouped like the model (the Student's GateValues have this shape). */
export interface GateArrays {
  /** [conv layer][channel] */
  conv: Float32Array[];
  /** [layer][kept head] */
  heads: Float32Array[];
  /** [layer][Σ q/k widths of the layer's heads, head by head] */
  qk: Float32Array[];
  /** [layer][Σ value widths] */
  v: Float32Array[];
  /** [layer] attention-block gates */
  attn: Float32Array;
  /** [layer][FFN unit] */
  ffn: Float32Array[];
  /** [layer] FFN-block gates */
  ffnBlock: Float32Array;
}

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

/** Arrays of the right shapes for a config, every entry `fill`. */
export function gateArrays(cfg: ModelConfig, fill = 1): GateArrays {
  const f = (n: number) => new Float32Array(n).fill(fill);
  return {
    conv: cfg.conv.map((l) => f(l.dim)),
    heads: cfg.layers.map((L) => f(L.heads.length)),
    qk: cfg.layers.map((L) => f(sum(L.qkDims))),
    v: cfg.layers.map((L) => f(sum(L.vDims))),
    attn: f(cfg.numLayers),
    ffn: cfg.layers.map((L) => f(L.ffn)),
    ffnBlock: f(cfg.numLayers),
  };
}

/**
 * The smallest structure the given unit kinds can reach: every unit of those kinds off, except one channel per conv
 * layer and WavLM layer 0's attention block when it holds the relative position bias (Gates never removes those);
 * the other kinds stay whole. For the reachability checks of a size or speed target.
 */
export function leastGates(cfg: ModelConfig, kinds: Iterable<UnitKind>): GateArrays {
  const on = new Set(kinds);
  const g = gateArrays(cfg, 0);
  for (const { kind, data } of gateList(g)) if (!on.has(kind)) data.fill(1);
  if (on.has('conv')) g.conv.forEach((c) => (c[0] = 1));
  for (let j = 0; j < g.attn.length; j++) if (pinnedUnit(cfg, 'attn', j)) g.attn[j] = 1;
  return g;
}

/** WavLM: layer 0's attention block must stay when it holds the relative position bias (it feeds every layer). */
function pinnedUnit(cfg: ModelConfig, kind: UnitKind, j: number): boolean {
  return kind === 'attn' && j === 0 && hasRelativeBias(cfg);
}

/** Every array of a GateArrays with its unit kind, in a fixed order (for iteration and serialisation). */
export function gateList(g: GateArrays): { kind: UnitKind; name: string; data: Float32Array }[] {
  return [
    ...g.conv.map((data, i) => ({ kind: 'conv' as const, name: `conv.${i}`, data })),
    ...g.heads.map((data, l) => ({ kind: 'head' as const, name: `heads.${l}`, data })),
    ...g.qk.map((data, l) => ({ kind: 'qk' as const, name: `qk.${l}`, data })),
    ...g.v.map((data, l) => ({ kind: 'v' as const, name: `v.${l}`, data })),
    { kind: 'attn' as const, name: 'attn', data: g.attn },
    ...g.ffn.map((data, l) => ({ kind: 'ffn' as const, name: `ffn.${l}`, data })),
    { kind: 'ffnblock' as const, name: 'ffnBlock', data: g.ffnBlock },
  ];
}

/** Binary gate values → compaction keep-masks (per-head slices of the qk / v arrays). */
export function gatesToMasks(cfg: ModelConfig, g: GateArrays): KeepMasks {
  const on = (a: Float32Array) => Array.from(a, (x) => x !== 0);
  const perHead = (a: Float32Array, widths: number[]) => {
    let o = 0;
    return widths.map((w) => on(a.subarray(o, (o += w))));
  };
  return {
    conv: g.conv.map(on),
    heads: g.heads.map(on),
    qk: cfg.layers.map((L, l) => perHead(g.qk[l], L.qkDims)),
    v: cfg.layers.map((L, l) => perHead(g.v[l], L.vDims)),
    attention: on(g.attn),
    ffn: g.ffn.map(on),
    ffnBlock: on(g.ffnBlock),
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Initial mean drop rate per unit kind (docs/pruner.md): whole structures 0.01, fine-grained units 0.05. */
export const INIT_DROP: Record<UnitKind, number> = { conv: 0.01, head: 0.01, attn: 0.01, ffnblock: 0.01, ffn: 0.01, qk: 0.01, v: 0.01 };

/**
 * The learnable gates of a model: log α per unit for the enabled kinds; disabled kinds (and units that must stay,
 * such as WavLM layer 0's attention block) have no log α and always pass.
 */
export class Gates {
  readonly cfg: ModelConfig;
  readonly kinds: Set<UnitKind>;
  /** log α, or null where the kind is not pruned */
  readonly logAlpha: GateArrays;
  readonly grad: GateArrays;
  private readonly enabled: boolean[];
  /** ∂z/∂log α of the last sample (0 where clamped) */
  private readonly dz: GateArrays;
  /** forward with z_b = 1[z > 0.5] (straight-through) or with the relaxed z */
  readonly ste: boolean;

  constructor(cfg: ModelConfig, kinds: Iterable<UnitKind>, rng: Rng, opts: { ste?: boolean } = {}) {
    this.cfg = cfg;
    this.ste = opts.ste ?? true;
    this.kinds = new Set(kinds);
    for (const k of this.kinds) if (!UNIT_KINDS.includes(k)) fail('E_ARGS', `unknown unit kind "${k}"; choose from ${UNIT_KINDS.join(', ')}`);
    this.logAlpha = gateArrays(cfg, 0);
    this.grad = gateArrays(cfg, 0);
    this.dz = gateArrays(cfg, 0);
    this.enabled = gateList(this.logAlpha).map((g) => this.kinds.has(g.kind));
    gateList(this.logAlpha).forEach((g, i) => {
      const m = INIT_DROP[g.kind];
      const mu = Math.log((1 - m) / m);
      for (let j = 0; j < g.data.length; j++) g.data[j] = this.enabled[i] ? mu + 0.01 * rng.normal() : 0;
    });
  }

  /** true when this unit's gate is learned (false: it always passes) */
  isEnabled(index: number): boolean {
    return this.enabled[index];
  }

  /**
   * Draw gate values for one training step (and remember ∂z/∂log α for `backward`): binary z_b with the
   * straight-through estimator, the relaxed z in [0, 1] without it.
   */
  sample(rng: Rng): GateArrays {
    const out = gateArrays(this.cfg, 1);
    const la = gateList(this.logAlpha), dz = gateList(this.dz), o = gateList(out);
    la.forEach((g, i) => {
      if (!this.enabled[i]) return;
      for (let j = 0; j < g.data.length; j++) {
        if (pinnedUnit(this.cfg, g.kind, j)) { dz[i].data[j] = 0; continue; }
        const u = EPS + (1 - 2 * EPS) * rng.next();
        const s = sigmoid((Math.log(u) - Math.log(1 - u) + g.data[j]) / BETA);
        const z = s * (LIMIT_R - LIMIT_L) + LIMIT_L;
        o[i].data[j] = this.ste ? (z > 0.5 ? 1 : 0) : Math.min(1, Math.max(0, z));
        dz[i].data[j] = z > 0 && z < 1 ? ((LIMIT_R - LIMIT_L) * s * (1 - s)) / BETA : 0;
      }
    });
    return out;
  }

  /**
   * Accumulate ∂L/∂log α from ∂L/∂z (the sampled gate values: straight-through for z_b, exact for the relaxed z) plus
   * ∂L/∂p from the size terms (p = probs()).
   */
  backward(dGate: GateArrays | null, dProb: GateArrays | null): void {
    const la = gateList(this.logAlpha), gr = gateList(this.grad), dz = gateList(this.dz);
    const dg = dGate ? gateList(dGate) : null, dp = dProb ? gateList(dProb) : null;
    la.forEach((g, i) => {
      if (!this.enabled[i]) return;
      for (let j = 0; j < g.data.length; j++) {
        if (pinnedUnit(this.cfg, g.kind, j)) continue;
        let d = 0;
        if (dg) d += dg[i].data[j] * dz[i].data[j];
        if (dp) { const p = sigmoid(g.data[j] - this.shift); d += dp[i].data[j] * p * (1 - p); }
        gr[i].data[j] += d;
      }
    });
  }

  zeroGrad(): void {
    for (const g of gateList(this.grad)) g.data.fill(0);
  }

  /** log α − logit(P(unit present)): 0 with the estimator (P(z_b = 1) = σ(log α)), β·ln(−l/r) without (P(z > 0)). */
  private get shift(): number {
    return this.ste ? 0 : BETA * Math.log(-LIMIT_L / LIMIT_R);
  }

  /** P(unit present) per unit: σ(log α) with the estimator, P(z > 0) without (1 for units that are not pruned). */
  probs(): GateArrays {
    const out = gateArrays(this.cfg, 1);
    const la = gateList(this.logAlpha), o = gateList(out);
    la.forEach((g, i) => {
      if (!this.enabled[i]) return;
      for (let j = 0; j < g.data.length; j++) o[i].data[j] = pinnedUnit(this.cfg, g.kind, j) ? 1 : sigmoid(g.data[j] - this.shift);
    });
    return out;
  }

  /** Deterministic binary gates: a unit stays iff it is more likely present than not (p > 0.5). */
  deterministic(): GateArrays {
    const p = this.probs();
    for (const g of gateList(p)) for (let j = 0; j < g.data.length; j++) g.data[j] = g.data[j] > 0.5 ? 1 : 0;
    return p;
  }

  /**
   * The L0 paper's deterministic gate values ẑ = clamp(σ(log α)·(r−l) + l, 0, 1) (1 for units that are not pruned):
   * what a unit of a run without the estimator is scaled by once training ends.
   */
  relaxedValues(): GateArrays {
    const out = gateArrays(this.cfg, 1);
    const la = gateList(this.logAlpha), o = gateList(out);
    la.forEach((g, i) => {
      if (!this.enabled[i]) return;
      for (let j = 0; j < g.data.length; j++) {
        if (!pinnedUnit(this.cfg, g.kind, j)) o[i].data[j] = Math.min(1, Math.max(0, sigmoid(g.data[j]) * (LIMIT_R - LIMIT_L) + LIMIT_L));
      }
    });
    return out;
  }
}
