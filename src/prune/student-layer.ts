/**
 * One encoder layer of the gated student (student.ts) as a forward–backward pair: its saved-activation buffers
 * (planned as one block), its gates, and the walk of the layer's block plan (arch/binding.ts layerSteps) forwards in
 * forward() and backwards in backward(), the same plan the engine and the ONNX export interpret.
 */
import { fail } from '../errors.js';
import type { ModelConfig } from '../arch/config.js';
import { unknownStep, type LayerStep } from '../arch/binding.js';
import type { LinearMemory } from '../runtime/memory.js';
import type { AttentionHead, AttentionHeadGrads, Ops } from './ops.js';
import type { GateValues } from './student.js';

/** What a layer needs from the student it belongs to (student.ts implements it). */
export interface StudentContext {
  readonly config: ModelConfig;
  readonly ops: Ops;
  readonly mem: LinearMemory;
  readonly D: number;
  /** backward scratch shared by all layers (ensureScratch sizes it) */
  readonly scratch: Record<string, number>;
  readonly encLn: { g: number; b: number; gg: number; gb: number };
  /** WavLM relative position embedding and its gradient, when the model has the bias */
  readonly rel: { w: number; g: number } | null;
  relativeBias(T: number): Float32Array | null;
  scatterRelb(T: number, heads: number[], drelb: number): void;
  /** the buffers of one part, a group of the Ops workspace (training memory) */
  planBuffers<K extends string>(group: string, sizes: Record<K, number>): Record<K, number>;
  ensureScratch(T: number): void;
  /** frames for `samples` samples */
  frames(samples: number): number;
}

/** Parameter, gradient and gate pointers of one encoder layer (laid out by the student). */
export interface LayerW {
  nh: number;
  qk: number;
  v: number;
  ld: number; // 2·qk + v
  qOff: number[];
  vOff: number[];
  qkv: number; // [ld][D] fused q; k; v
  qkvB: number;
  gqkv: number;
  gqkvB: number;
  out: number; // [D][v]
  outB: number; // out_proj.bias (also for a block of bias only), 0 if absent
  gout: number;
  goutB: number;
  gru: number;
  gruB: number;
  gruC: number;
  ggru: number;
  ggruB: number;
  ggruC: number;
  ln1: [number, number];
  gln1: [number, number];
  F: number;
  ffn1: number;
  ffn1B: number;
  ffn2: number;
  ffn2B: number; // also for a block of bias only, 0 if absent
  gffn1: number;
  gffn1B: number;
  gffn2: number;
  gffn2B: number;
  ln2: [number, number];
  gln2: [number, number];
  /** the block plan of this layer */
  steps: LayerStep[];
  // gate vectors in memory
  zqkv: number;
  zo: number;
  zf: number;
}

/** The buffers of one encoder layer's saved activations (pointers). */
type LayerBuffers = Omit<LayerAct, 'cap' | 'T' | 'relbOwn' | 'zA' | 'zF' | 'src'>;

/** Saved activations of one encoder layer. */
export interface LayerAct {
  cap: number; // frames the buffers hold
  T: number; // frames of the saved forward (0 = none)
  xin: number;
  ln1: number;
  qkvU: number;
  qkvG: number;
  P: number;
  O: number;
  Og: number;
  A: number;
  r1: number;
  x1: number;
  ln2: number;
  H: number;
  G: number;
  Gg: number;
  Fo: number;
  r2: number;
  out: number;
  gru: number;
  gates: number;
  relb: number;
  relbOwn: boolean;
  zA: number;
  zF: number;
  /** input pointer of each block-plan step in the saved forward */
  src: number[];
}

export class LayerRoom {
  /** the saved forward (null until the first forward or buffers()) */
  act: LayerAct | null = null;

  constructor(private readonly ctx: StudentContext, readonly l: number, readonly W: LayerW) {}

  /** Sizes (floats) of the saved activations for T frames. */
  sizes(T: number): Record<keyof LayerBuffers, number> {
    const cfg = this.ctx.config, W = this.W, l = this.l, D = this.ctx.D, pre = cfg.preLayerNorm;
    const TD = T * D;
    const has = W.nh > 0;
    return {
      xin: TD,
      ln1: pre ? TD : 0,
      qkvU: has ? T * W.ld : 0,
      qkvG: has ? T * W.ld : 0,
      P: has ? W.nh * T * T : 0,
      O: has ? T * W.v : 0,
      Og: has ? T * W.v : 0,
      A: TD,
      r1: TD,
      x1: pre ? 0 : TD,
      ln2: pre ? TD : 0,
      H: T * W.F,
      G: T * W.F,
      Gg: T * W.F,
      Fo: TD,
      r2: TD,
      out: pre && l < cfg.numLayers - 1 ? 0 : TD,
      gru: has && this.ctx.rel ? T * cfg.numHeads * 8 : 0,
      gates: has && this.ctx.rel ? W.nh * T : 0,
      relb: has && this.ctx.rel ? cfg.numHeads * (2 * T - 1) : 0,
    };
  }

  /** The saved-activation buffers for crops of up to T frames (planned again, larger, when T grows). */
  buffers(T: number): LayerAct {
    const have = this.act;
    if (have && have.cap >= T) return have;
    const b = this.ctx.planBuffers(`layer.${this.l}`, this.sizes(T));
    const a: LayerAct = { cap: T, T: 0, ...b, relbOwn: false, zA: 1, zF: 1, src: new Array(this.W.steps.length).fill(0) };
    if (this.ctx.config.preLayerNorm) a.x1 = a.r1;
    if (!a.out) a.out = a.r2;
    this.act = a;
    this.ctx.ensureScratch(T);
    return a;
  }

  private setGates(g: GateValues, a: LayerAct): void {
    const W = this.W, l = this.l, L = this.ctx.config.layers[l];
    if (W.nh > 0) {
      const zq = this.ctx.mem.f32(W.zqkv, W.ld);
      zq.set(g.qk[l], 0);
      zq.set(g.qk[l], W.qk);
      zq.set(g.v[l], 2 * W.qk);
      const zo = this.ctx.mem.f32(W.zo, W.v);
      L.vDims.forEach((dv, k) => zo.fill(g.heads[l][k], W.vOff[k], W.vOff[k] + dv));
    }
    if (W.F) this.ctx.mem.f32(W.zf, W.F).set(g.ffn[l]);
    a.zA = g.attn[l];
    a.zF = g.ffnBlock[l];
  }

  /** The norm a block-plan step names: [gamma, beta, d gamma, d beta] pointers. */
  private normOf(W: LayerW, norm: 'norm1' | 'norm2' | 'encoder'): [number, number, number, number] {
    if (norm === 'norm1') return [W.ln1[0], W.ln1[1], W.gln1[0], W.gln1[1]];
    if (norm === 'norm2') return [W.ln2[0], W.ln2[1], W.gln2[0], W.gln2[1]];
    return [this.ctx.encLn.g, this.ctx.encLn.b, this.ctx.encLn.gg, this.ctx.encLn.gb];
  }

  /**
   * Encoder layer l, walking its block plan (arch/binding.ts layerSteps) as the engine does, with the gates where
   * compaction expects them. Every step's input pointer is saved (a.src) for backLayer, which walks the plan back.
   */
  forward(xin: number, T: number, gates: GateValues, relBias: Float32Array | null): number {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, W = this.W, eps = cfg.layerNormEps;
    const a = this.buffers(T);
    const TD = T * D;
    this.setGates(gates, a);
    if (xin !== a.xin) ops.copy2d(1, TD, xin, TD, a.xin, TD);
    let x = a.xin, y = 0, out = x;
    W.steps.forEach((st, i) => {
      switch (st.op) {
        case 'norm': {
          const src = st.from === 'x' ? x : y;
          const dst = st.to === 'y' ? (st.norm === 'norm1' ? a.ln1 : st.norm === 'norm2' ? a.ln2 : a.out) : (st.norm === 'norm1' ? a.x1 : a.out);
          const [g, b] = this.normOf(W, st.norm);
          a.src[i] = src;
          ops.layerNormForward(T, D, src, dst, g, b, eps);
          if (st.to === 'y') y = dst;
          else x = dst;
          break;
        }
        case 'attention':
          a.src[i] = st.from === 'x' ? x : y;
          this.attentionForward(a, a.src[i], T, relBias);
          ops.residualForward(TD, x, a.A, a.zA, a.r1);
          x = a.r1;
          break;
        case 'attentionBias':
          ops.copy2d(T, D, W.outB, 0, a.A, D);
          ops.residualForward(TD, x, a.A, a.zA, a.r1);
          x = a.r1;
          break;
        case 'ffn':
          a.src[i] = st.from === 'x' ? x : y;
          ops.linearForward(T, W.F, D, a.src[i], D, W.ffn1, W.ffn1B, a.H, W.F);
          ops.geluForward(T * W.F, a.H, a.G);
          ops.mulColsForward(T, W.F, a.G, W.F, W.zf, a.Gg, W.F);
          ops.linearForward(T, D, W.F, a.Gg, W.F, W.ffn2, W.ffn2B, a.Fo, D);
          ops.residualForward(TD, x, a.Fo, a.zF, a.r2);
          x = a.r2;
          break;
        case 'ffnBias':
          ops.copy2d(T, D, W.ffn2B, 0, a.Fo, D);
          ops.residualForward(TD, x, a.Fo, a.zF, a.r2);
          x = a.r2;
          break;
        case 'emit':
          out = st.from === 'x' ? x : y;
          break;
        default: unknownStep('student layer', st);
      }
    });
    a.T = T;
    return out;
  }

  /** The attention block's output before its gate, into a.A: out_proj(heads(gated q|k|v of attIn)). */
  private attentionForward(a: LayerAct, attIn: number, T: number, relBias: Float32Array | null): void {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, W = this.W, l = this.l;
    ops.linearForward(T, W.ld, D, attIn, D, W.qkv, W.qkvB, a.qkvU, W.ld);
    ops.mulColsForward(T, W.ld, a.qkvU, W.ld, W.zqkv, a.qkvG, W.ld);
    if (a.gates) {
      ops.wavlmGateForward(T, cfg.numHeads, cfg.headDim, attIn, W.gru, W.gruB, W.gruC, cfg.layers[l].heads, a.gru, a.gates);
      const n = cfg.numHeads * (2 * T - 1);
      if (relBias) {
        if (relBias.length !== n) fail('E_ARGS', `student: relBias has ${relBias.length} values, expected ${n} (H·(2T−1))`);
        this.ctx.mem.f32(a.relb, n).set(relBias);
        a.relbOwn = false;
      } else {
        this.ctx.mem.f32(a.relb, n).set(this.ctx.relativeBias(T)!);
        a.relbOwn = true;
      }
    }
    ops.attentionForward(T, this.heads(a, T), 1 / Math.sqrt(cfg.headDim));
    ops.mulColsForward(T, W.v, a.O, W.v, W.zo, a.Og, W.v);
    ops.linearForward(T, D, W.v, a.Og, W.v, W.out, W.outB, a.A, D);
  }

  /** The attention heads of layer l over its saved buffers. */
  private heads(a: LayerAct, T: number): AttentionHead[] {
    const W = this.W, L = this.ctx.config.layers[this.l];
    return L.heads.map((h, k) => ({
      dq: L.qkDims[k], dv: L.vDims[k],
      Q: a.qkvG + W.qOff[k] * 4, K: a.qkvG + (W.qk + W.qOff[k]) * 4, ldqk: W.ld,
      V: a.qkvG + (2 * W.qk + W.vOff[k]) * 4, ldv: W.ld,
      O: a.O + W.vOff[k] * 4, ldo: W.v,
      P: a.P + k * T * T * 4,
      relb: a.relb ? a.relb + h * (2 * T - 1) * 4 : 0,
      gate: a.gates ? a.gates + k * T * 4 : 0,
    }));
  }

  /**
   * dOut pointer → dIn written into dIn (may not alias dOut), walking layer l's block plan backwards: dx is the
   * gradient at the residual stream (s.d1 / s.d2), dy at the normalised copy a pre-LN block reads (s.d4 or dOut).
   */
  backward(dOut: number, dIn: number, gateGrad: GateValues): void {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, W = this.W, l = this.l, eps = cfg.layerNormEps;
    const a = this.act;
    if (!a || a.T === 0) fail('E_ARGS', `student: backward of layer ${l} without its forward`);
    const T = a.T, TD = T * D, s = this.ctx.scratch;
    let dx = 0, dy = 0;
    for (let i = W.steps.length - 1; i >= 0; i--) {
      const st = W.steps[i];
      switch (st.op) {
        case 'emit':
          if (st.from === 'y') dy = dOut;
          else { dx = s.d1; ops.copy2d(1, TD, dOut, TD, dx, TD); }
          break;
        case 'norm': {
          const [g, , gg, gb] = this.normOf(W, st.norm);
          if (st.to === 'y') {
            // y = LN(x): its gradient joins the residual stream's
            if (dx) ops.layerNormBackward(T, D, a.src[i], dy, g, dx, gg, gb, eps, true);
            else { dx = s.d1; ops.layerNormBackward(T, D, a.src[i], dy, g, dx, gg, gb, eps); }
            dy = 0;
          } else {
            const nd = dx === s.d1 ? s.d2 : s.d1;
            ops.layerNormBackward(T, D, a.src[i], dx, g, nd, gg, gb, eps);
            dx = nd;
          }
          break;
        }
        case 'ffn': {
          const dFo = s.d3;
          gateGrad.ffnBlock[l] += ops.residualBackward(TD, a.Fo, a.zF, dx, 0, dFo);
          const dG = s.dH;
          ops.linearBackward(T, D, W.F, a.Gg, W.F, W.ffn2, dFo, D, dG, W.F, W.gffn2, W.gffn2B);
          const dz = s.vec;
          ops.fill(W.F, dz);
          ops.mulColsBackward(T, W.F, a.G, W.F, W.zf, dG, W.F, dG, W.F, dz);
          this.addTo(gateGrad.ffn[l], dz, W.F);
          ops.geluBackward(T * W.F, a.H, dG, dG);
          const toX = st.from === 'x';
          if (!toX) dy = s.d4;
          ops.linearBackward(T, W.F, D, a.src[i], D, W.ffn1, dG, W.F, toX ? dx : dy, D, W.gffn1, W.gffn1B, toX);
          break;
        }
        case 'ffnBias':
          gateGrad.ffnBlock[l] += this.biasBlockBackward(T, dx, W.ffn2B, W.gffn2B, a.zF);
          break;
        case 'attention': {
          const toX = st.from === 'x';
          if (!toX) dy = s.d4;
          this.attentionBackward(a, T, dx, a.src[i], toX ? dx : dy, toX, gateGrad);
          break;
        }
        case 'attentionBias':
          gateGrad.attn[l] += this.biasBlockBackward(T, dx, W.outB, W.goutB, a.zA);
          break;
        default: unknownStep('student layer', st);
      }
    }
    ops.copy2d(1, TD, dx, TD, dIn, TD);
  }

  /** Backward of attentionForward and its gated residual: dr (at the block's output) → dAtt (+= when accumulate). */
  private attentionBackward(a: LayerAct, T: number, dr: number, attIn: number, dAtt: number, accumulate: boolean, gateGrad: GateValues): void {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, W = this.W, l = this.l, TD = T * D, s = this.ctx.scratch, L = cfg.layers[l];
    const dA = s.d3;
    gateGrad.attn[l] += ops.residualBackward(TD, a.A, a.zA, dr, 0, dA);
    const dO = s.dO;
    ops.linearBackward(T, D, W.v, a.Og, W.v, W.out, dA, D, dO, W.v, W.gout, W.goutB);
    const dz = s.vec;
    ops.fill(W.v, dz);
    ops.mulColsBackward(T, W.v, a.O, W.v, W.zo, dO, W.v, dO, W.v, dz);
    {
      const d = this.ctx.mem.f32(dz, W.v), out = gateGrad.heads[l];
      L.vDims.forEach((dv, k) => { let t = 0; for (let j = 0; j < dv; j++) t += d[W.vOff[k] + j]; out[k] += t; });
    }
    const dqkv = s.dqkv;
    if (a.relb) {
      ops.fill(cfg.numHeads * (2 * T - 1), s.drelb);
      ops.fill(W.nh * T, s.dgates);
    }
    const heads = this.heads(a, T);
    const grads: AttentionHeadGrads[] = L.heads.map((h, k) => ({
      dQ: dqkv + W.qOff[k] * 4, dK: dqkv + (W.qk + W.qOff[k]) * 4, lddqk: W.ld,
      dV: dqkv + (2 * W.qk + W.vOff[k]) * 4, lddv: W.ld,
      dO: dO + W.vOff[k] * 4, lddo: W.v,
      drelb: a.relb ? s.drelb + h * (2 * T - 1) * 4 : 0,
      dgate: a.gates ? s.dgates + k * T * 4 : 0,
    }));
    ops.attentionBackward(T, heads, grads, 1 / Math.sqrt(cfg.headDim));
    const dzq = s.vec2;
    ops.fill(W.ld, dzq);
    ops.mulColsBackward(T, W.ld, a.qkvU, W.ld, W.zqkv, dqkv, W.ld, dqkv, W.ld, dzq);
    {
      const d = this.ctx.mem.f32(dzq, W.ld), gq = gateGrad.qk[l], gv = gateGrad.v[l];
      for (let j = 0; j < W.qk; j++) gq[j] += d[j] + d[W.qk + j];
      for (let j = 0; j < W.v; j++) gv[j] += d[2 * W.qk + j];
    }
    ops.linearBackward(T, W.ld, D, attIn, D, W.qkv, dqkv, W.ld, dAtt, D, W.gqkv, W.gqkvB, accumulate);
    if (a.gates) {
      ops.wavlmGateBackward(T, cfg.numHeads, cfg.headDim, attIn, W.gru, W.gruC, L.heads, a.gru, s.dgates, dAtt, W.ggru, W.ggruB, W.ggruC, true);
      if (a.relbOwn) this.ctx.scatterRelb(T, L.heads, s.drelb);
    }
  }

  /** A block of bias only, out = z·b per frame: d b += z·Σ_t dOut, returns ∂/∂z = Σ_t dOut·b. */
  private biasBlockBackward(T: number, dOut: number, b: number, gb: number, z: number): number {
    const D = this.ctx.D, cs = this.ctx.scratch.vec;
    this.ctx.ops.fill(D, cs);
    this.ctx.ops.colsum(T, D, dOut, D, cs);
    const dz = this.ctx.ops.dot(D, cs, b);
    if (gb) this.ctx.ops.axpy(D, z, cs, gb);
    return dz;
  }

  private addTo(out: Float32Array, ptr: number, n: number): void {
    const d = this.ctx.mem.f32(ptr, n);
    for (let j = 0; j < n; j++) out[j] += d[j];
  }
}
