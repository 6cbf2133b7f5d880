/**
 * Expected parameters and MACs of the compacted model as functions of the gate probabilities, with gradients.
 *
 * Each structure's presence is replaced by its probability, products for nested structures: a head's q/k rows
 * count only if its layer's attention block, the head itself and at least one of its value dimensions are kept
 * (1 − Π(1 − p_v)), a layer's WavLM gate parameters only if any head is kept. With 0/1 probabilities this is the
 * exact count `inspect` reports for the model `compact()` produces (DPHuBERT-style slicing of the last conv layer,
 * exactLastConv: false) — tested in test/prune-size.test.ts.
 */
import { convFrames, type ModelConfig } from '../arch/config.js';
import { TensorNames } from '../arch/binding.js';
import { gateArrays, type GateArrays } from './gates.js';

export interface SizeConstants {
  /** parameters that no gate touches: positional conv, encoder LayerNorm, per-layer LayerNorms, WavLM embedding */
  fixedParams: number;
  /** MACs per second of audio that no gate touches (positional conv) */
  fixedMacs: number;
  /** the teacher carries DPHuBERT's dummy_weight (one value per last-layer channel) */
  dummyWeight: boolean;
  /** per layer: out_proj.bias / output_dense.bias exist (an already-pruned teacher may lack a removed block's) */
  attnBias: boolean[];
  ffnBias: boolean[];
}

export interface ExpectedSize {
  params: number;
  macs: number;
  dParams: GateArrays;
  dMacs: GateArrays;
}

/** Constant parts, from the teacher's config and the tensors it has. */
export function sizeConstants(cfg: ModelConfig, tensorNames: Set<string>, posConvParams: number): SizeConstants {
  const D = cfg.hidden;
  let fixedParams = posConvParams + 2 * D + cfg.numLayers * 4 * D;
  if (cfg.modelType === 'wavlm') fixedParams += cfg.numBuckets * cfg.numHeads;
  const T = convFrames(cfg, 16000).at(-1)!;
  const fixedMacs = T * D * (D / cfg.posConvGroups) * cfg.posConvKernel;
  return {
    fixedParams, fixedMacs, dummyWeight: tensorNames.has(TensorNames.dummy),
    attnBias: cfg.layers.map((_, l) => tensorNames.has(`${TensorNames.out(l)}.bias`)),
    ffnBias: cfg.layers.map((_, l) => tensorNames.has(`${TensorNames.ffn2(l)}.bias`)),
  };
}

export function expectedSize(cfg: ModelConfig, p: GateArrays, c: SizeConstants): ExpectedSize {
  const D = cfg.hidden;
  const dP = gateArrays(cfg, 0), dM = gateArrays(cfg, 0);
  const frames = convFrames(cfg, 16000);
  const T = frames.at(-1)!;
  let P = c.fixedParams, M = c.fixedMacs;
  const sumOf = (a: Float32Array) => { let s = 0; for (const x of a) s += x; return s; };
  const addAll = (g: Float32Array, v: number) => { for (let j = 0; j < g.length; j++) g[j] += v; };

  // conv stack: weights E[c_{i-1}]·E[c_i]·k, bias, norm
  let prev = 1;
  cfg.conv.forEach((l, i) => {
    const E = sumOf(p.conv[i]);
    const hasNorm = cfg.featExtractNorm === 'layer' || i === 0;
    const perUnit = prev * l.kernel + (cfg.convBias ? 1 : 0) + (hasNorm ? 2 : 0);
    P += E * perUnit;
    addAll(dP.conv[i], perUnit);
    M += frames[i] * l.kernel * prev * E;
    addAll(dM.conv[i], frames[i] * l.kernel * prev);
    if (i > 0) {
      addAll(dP.conv[i - 1], E * l.kernel);
      addAll(dM.conv[i - 1], frames[i] * l.kernel * E);
    }
    prev = E;
  });
  const last = cfg.conv.length - 1;
  const perLast = (cfg.featProjLayerNorm ? 2 : 0) + D + (c.dummyWeight ? 1 : 0);
  P += prev * perLast + D;
  addAll(dP.conv[last], perLast);
  M += T * prev * D;
  addAll(dM.conv[last], T * D);

  const wavlm = cfg.modelType === 'wavlm';
  const gru = 8 * cfg.headDim + 8 + cfg.numHeads;
  cfg.layers.forEach((L, l) => {
    const a = p.attn[l];
    let qo = 0, vo = 0;
    let attnP = 0, attnM = 0;
    const present: number[] = []; // ph·any per head, for WavLM's "any head kept"
    const anyOf: number[] = [];
    L.heads.forEach((_, h) => {
      const ph = p.heads[l][h];
      const q = p.qk[l].subarray(qo, qo + L.qkDims[h]), v = p.v[l].subarray(vo, vo + L.vDims[h]);
      const dq = dP.qk[l].subarray(qo, qo + L.qkDims[h]), dv = dP.v[l].subarray(vo, vo + L.vDims[h]);
      const mq = dM.qk[l].subarray(qo, qo + L.qkDims[h]), mv = dM.v[l].subarray(vo, vo + L.vDims[h]);
      const Sq = sumOf(q), Sv = sumOf(v);
      let none = 1;
      for (const x of v) none *= 1 - x;
      const any = 1 - none;
      const qkP = 2 * (D + 1), vP = 2 * D + 1, qkM = 2 * T * D + T * T, vM = 2 * T * D + T * T;
      const headP = any * qkP * Sq + vP * Sv, headM = any * qkM * Sq + vM * Sv;
      attnP += ph * headP;
      attnM += ph * headM;
      dP.heads[l][h] += a * headP;
      dM.heads[l][h] += a * headM;
      addAll(dq, a * ph * any * qkP);
      addAll(mq, a * ph * any * qkM);
      for (let j = 0; j < v.length; j++) {
        let others = 1; // ∂any/∂v_j = Π_{k≠j}(1 − v_k)
        for (let k2 = 0; k2 < v.length; k2++) if (k2 !== j) others *= 1 - v[k2];
        dv[j] += a * ph * (vP + qkP * Sq * others);
        mv[j] += a * ph * (vM + qkM * Sq * others);
      }
      present.push(ph * any);
      anyOf.push(any);
      qo += L.qkDims[h];
      vo += L.vDims[h];
    });
    const ob = c.attnBias[l] ? D : 0;
    P += a * (attnP + ob);
    M += a * attnM;
    dP.attn[l] += attnP + ob;
    dM.attn[l] += attnM;
    if (wavlm && L.heads.length > 0) {
      // gate parameters exist iff the block and at least one head remain
      let none = 1;
      for (const x of present) none *= 1 - x;
      const has = a * (1 - none);
      const gM = T * cfg.numHeads * cfg.headDim * 8;
      P += gru * has;
      M += gM * has;
      dP.attn[l] += gru * (1 - none);
      dM.attn[l] += gM * (1 - none);
      vo = 0;
      L.heads.forEach((_, h) => {
        let others = 1;
        present.forEach((x, k2) => { if (k2 !== h) others *= 1 - x; });
        const dPresent = a * others; // ∂has/∂present_h
        const ph = p.heads[l][h];
        dP.heads[l][h] += gru * dPresent * anyOf[h];
        dM.heads[l][h] += gM * dPresent * anyOf[h];
        const v = p.v[l].subarray(vo, vo + L.vDims[h]);
        for (let j = 0; j < v.length; j++) {
          let o2 = 1;
          for (let k2 = 0; k2 < v.length; k2++) if (k2 !== j) o2 *= 1 - v[k2];
          dP.v[l][vo + j] += gru * dPresent * ph * o2;
          dM.v[l][vo + j] += gM * dPresent * ph * o2;
        }
        vo += L.vDims[h];
      });
    }
    const b = p.ffnBlock[l], Sf = sumOf(p.ffn[l]), fb = c.ffnBias[l] ? D : 0;
    P += b * ((2 * D + 1) * Sf + fb);
    M += b * 2 * T * D * Sf;
    dP.ffnBlock[l] += (2 * D + 1) * Sf + fb;
    dM.ffnBlock[l] += 2 * T * D * Sf;
    addAll(dP.ffn[l], b * (2 * D + 1));
    addAll(dM.ffn[l], b * 2 * T * D);
  });
  return { params: P, macs: M, dParams: dP, dMacs: dM };
}
