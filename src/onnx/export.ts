/**
 * ONNX export: the same computation as src/runtime/engine.ts, op for op, as an ONNX graph that any ONNX runtime
 * can execute (tested against onnxruntime's CPU execution provider).
 *
 * Contract of the exported graph
 *   input   waveform           float32 [1, samples]            16 kHz mono, any length ≥ the receptive field
 *   output  hidden_states      float32 [L+1, frames, hidden]   every Hugging Face hidden state (batch dim dropped),
 *                                                               index 0..L exactly as `slimwav features --layers all`
 *           last_hidden_state  float32 [frames, hidden]        = hidden_states[L]
 *
 * How the model maps to ops (time-major [T, C] everywhere after the conv stack, as in the engine):
 *   - optional do_normalize: ReduceMean/Sub/Div over the waveform (eps 1e-7)
 *   - conv stack: Conv (kernel/stride, no padding) on [1, C, T]; GroupNorm = InstanceNormalization (eps 1e-5) on
 *     layer 0, or LayerNormalization over channels (transposed to [1, T, C]) on every layer; exact GELU via Erf
 *   - DPHuBERT `dummy_weight`: a per-channel Mul
 *   - feature projection: LayerNormalization (or, after compaction of the last conv layer, the LayerNorm over
 *     `feat_proj_layer_norm_size` channels of which the missing ones are exact zeros, spelled out with ReduceSum, plus
 *     `pruned_channel_weight` times the per-frame shift added after the projection), then Gemm
 *   - positional conv: grouped Conv (group G, pad K/2, weight norm folded at export), last frame sliced off for even
 *     K, GELU, residual add
 *   - encoder layers, post-LN or pre-LN; attention as one Gemm for the fused [q; k; v] rows (the attention scale
 *     (hidden/heads)^-0.5 folded into the q rows and bias at export), then per kept head: Slice q/k/v columns,
 *     Gemm(q, k, transB) scores, + WavLM gated bias, Softmax, MatMul with v; heads Concat'ed, out_proj Gemm.
 *     A head with query/key width 0 has all-zero scores: without a position bias its output is the mean of its
 *     values over time (ReduceMean + Expand), with one it is Softmax(bias)·v. Removed blocks add their stored bias.
 *   - WavLM relative position bias, for any T: Range → j − i → Clip to ±C → Gather from a per-head table
 *     E[bucket(d)][h], d ∈ [−C, C], computed at export with slimwav's own bucket function (C = the distance from
 *     which every bucket is the last one, checked at export, so clipping is exact). Gate per row from
 *     gru_rel_pos_linear (its two 4-sums folded into a 2-column weight at export), Sigmoid, a·(b·const − 1) + 2.
 */
import { fail } from '../errors.js';
import { parseConfig, type ModelConfig } from '../arch/config.js';
import { checkTensors } from '../arch/tensors.js';
import { relativeBucket } from '../arch/wavlm.js';
import type { RawTensor } from '../format/tensor.js';
import { toFloat32 } from '../format/tensor.js';
import { foldWeightNorm } from '../runtime/pack.js';
import { F, GraphBuilder } from './graph.js';
import { DataType, encodeModel, type ModelMsg } from './proto.js';

export const OPSET_MIN = 17;
export const OPSET_MAX = 21;
/** IR version that goes with each opset (onnx/helper.py's VERSION_TABLE) */
const IR_FOR_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
const CONV_NORM_EPS = 1e-5; // GroupNorm / LayerNorm of the conv blocks (as the engine)
const MAX_PROTO_BYTES = 2 ** 31 - 1; // protobuf's hard message limit; larger models would need ONNX external data

export interface OnnxExportOptions {
  /** ONNX opset of the default domain, 17..21 (default 17: LayerNormalization is the newest op used) */
  opset?: number;
  /** name used in error messages */
  source?: string;
}

export interface OnnxExport {
  bytes: Uint8Array;
  opset: number;
  nodes: number;
  initializers: number;
  /** hidden states produced: L + 1 */
  hiddenStates: number;
  hidden: number;
}

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

/** The distance from which every relative offset falls into the last bucket of its sign (so |j − i| can be clipped). */
function bucketSaturation(numBuckets: number, maxDistance: number): number {
  let c = Math.max(1, maxDistance);
  const check = (from: number): boolean => {
    const pos = relativeBucket(from, numBuckets, maxDistance), neg = relativeBucket(-from, numBuckets, maxDistance);
    for (let n = from; n <= from + 4 * maxDistance + 100_000; n++) {
      if (relativeBucket(n, numBuckets, maxDistance) !== pos || relativeBucket(-n, numBuckets, maxDistance) !== neg) return false;
    }
    return true;
  };
  while (!check(c)) {
    c *= 2;
    if (c > 1 << 24) fail('E_CONFIG', `WavLM buckets (num_buckets ${numBuckets}, max_bucket_distance ${maxDistance}) never saturate; cannot export`);
  }
  return c;
}

/** Build the ONNX model of `configJson` + `tensors` (validated like load()). */
export function exportOnnx(configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, opts: OnnxExportOptions = {}): OnnxExport {
  const source = opts.source ?? 'model';
  const opset = opts.opset ?? OPSET_MIN;
  if (!Number.isInteger(opset) || opset < OPSET_MIN || opset > OPSET_MAX) {
    fail('E_ARGS', `ONNX opset must be an integer from ${OPSET_MIN} to ${OPSET_MAX}, found ${JSON.stringify(opset)}`);
  }
  const cfg: ModelConfig = parseConfig(configJson, source);
  checkTensors(cfg, tensors, source);
  const g = new GraphBuilder(opset);
  const get = (name: string): Float32Array | null => {
    const t = tensors.get(name);
    return t && t.shape.every((d) => d > 0) ? toFloat32(t, name) : null;
  };
  const need = (name: string): Float32Array => get(name) ?? fail('E_SHAPE', `${source}: missing tensor ${name}`);
  const init = (name: string, data: Float32Array, dims: number[]) => g.f32(name, data, dims);
  const param = (name: string, dims: number[]) => init(name, need(name), dims);
  const D = cfg.hidden, H = cfg.numHeads, hd = cfg.headDim, eps = cfg.layerNormEps;
  const layerNorm = (x: string, p: string, width: number, e = eps) =>
    g.op('LayerNormalization', [x, param(`${p}.weight`, [width]), param(`${p}.bias`, [width])], { axis: -1, epsilon: F(e) }, 'ln');

  // ---- waveform [1, N]
  let wave = g.input('waveform');
  if (cfg.doNormalize) {
    const d = g.op('Sub', [wave, g.reduceMean(wave, [1], true, 'wave_mean')], {}, 'wave_centered');
    const v = g.reduceMean(g.op('Mul', [d, d]), [1], true, 'wave_var');
    wave = g.op('Div', [d, g.op('Sqrt', [g.op('Add', [v, g.scalar(1e-7)])])], {}, 'wave_normalized');
  }

  // ---- conv stack on [1, C, T]
  let x = g.op('Unsqueeze', [wave, g.i64([1])], {}, 'wave_nct');
  let cin = 1;
  cfg.conv.forEach((l, i) => {
    const p = `feature_extractor.conv_layers.${i}`;
    const inputs = [x, param(`${p}.conv.weight`, [l.dim, cin, l.kernel])];
    if (cfg.convBias) inputs.push(param(`${p}.conv.bias`, [l.dim]));
    x = g.op('Conv', inputs, { kernel_shape: [l.kernel], strides: [l.stride] }, `conv${i}`);
    if (cfg.featExtractNorm === 'group' && i === 0) {
      x = g.op('InstanceNormalization', [x, param(`${p}.layer_norm.weight`, [l.dim]), param(`${p}.layer_norm.bias`, [l.dim])], { epsilon: F(CONV_NORM_EPS) }, `conv${i}_gn`);
    } else if (cfg.featExtractNorm === 'layer') {
      const t = g.op('Transpose', [x], { perm: [0, 2, 1] });
      x = g.op('Transpose', [layerNorm(t, `${p}.layer_norm`, l.dim, CONV_NORM_EPS)], { perm: [0, 2, 1] }, `conv${i}_ln`);
    }
    x = g.gelu(x, `conv${i}_gelu`);
    cin = l.dim;
  });
  // time-major [T, C]
  x = g.op('Transpose', [g.op('Squeeze', [x, g.i64([0])])], { perm: [1, 0] }, 'features');
  const dummy = get('feature_extractor.dummy_weight');
  if (dummy) x = g.op('Mul', [x, init('feature_extractor.dummy_weight', dummy, [cin])], {}, 'features_scaled');

  // ---- feature projection
  let rowShift: string | null = null;
  const virtualZeros = cfg.featProjLayerNorm && cfg.featProjNormSize > cin;
  if (virtualZeros) {
    // LayerNorm over `total` channels of which the last total − n are exact zeros (engine.layerNormVirtualZeros)
    const total = cfg.featProjNormSize, n = cin;
    const mean = g.op('Mul', [g.reduceSum(x, [1], true), g.scalar(1 / total)], {}, 'vz_mean');
    const d = g.op('Sub', [x, mean], {}, 'vz_centered');
    const ss = g.reduceSum(g.op('Mul', [d, d]), [1], true);
    const zeros = g.op('Mul', [g.op('Mul', [mean, mean]), g.scalar(total - n)], {}, 'vz_zero_ss');
    const variance = g.op('Mul', [g.op('Add', [ss, zeros]), g.scalar(1 / total)], {}, 'vz_var');
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])], {}, 'vz_inv');
    const y = g.op('Mul', [g.op('Mul', [d, inv]), param('feature_projection.layer_norm.weight', [n])]);
    x = g.op('Add', [y, param('feature_projection.layer_norm.bias', [n])], {}, 'proj_ln');
    rowShift = g.op('Neg', [g.op('Mul', [mean, inv])], {}, 'vz_row_shift'); // [T, 1]
  } else if (cfg.featProjLayerNorm) {
    x = layerNorm(x, 'feature_projection.layer_norm', cin);
  }
  x = g.linear(x, param('feature_projection.projection.weight', [D, cin]), param('feature_projection.projection.bias', [D]), 'proj');
  const pcw = get('feature_projection.pruned_channel_weight');
  if (pcw && rowShift) {
    x = g.op('Add', [x, g.op('Mul', [rowShift, init('feature_projection.pruned_channel_weight', pcw, [D])])], {}, 'proj_pruned');
  }

  // ---- positional conv: x += GELU(conv(x))
  const Kw = cfg.posConvKernel, G = cfg.posConvGroups, cg = D / G, pad = Math.floor(Kw / 2);
  const pc = 'encoder.pos_conv_embed.conv';
  const Wpos = get(`${pc}.weight`) ?? foldWeightNorm(need(`${pc}.weight_g`), need(`${pc}.weight_v`), D, cg, Kw);
  let p = g.op('Unsqueeze', [g.op('Transpose', [x], { perm: [1, 0] }), g.i64([0])], {}, 'pos_in'); // [1, D, T]
  p = g.op('Conv', [p, init(`${pc}.weight`, Wpos, [D, cg, Kw]), param(`${pc}.bias`, [D])], { kernel_shape: [Kw], pads: [pad, pad], group: G }, 'pos_conv');
  if (Kw % 2 === 0) p = g.op('Slice', [p, g.i64([0]), g.i64([-1]), g.i64([2])], {}, 'pos_conv_trim');
  p = g.op('Transpose', [g.op('Squeeze', [g.gelu(p, 'pos_gelu'), g.i64([0])])], { perm: [1, 0] }, 'pos_tm');
  x = g.op('Add', [x, p], {}, 'pos_out');

  const hidden: string[] = [];
  if (!cfg.preLayerNorm) x = layerNorm(x, 'encoder.layer_norm', D);
  hidden.push(x);

  // ---- WavLM relative position bias: one [T, T] matrix per original head that some layer keeps
  const wavlmBias = cfg.modelType === 'wavlm' && cfg.numLayers > 0 && cfg.layers[0].heads.length > 0;
  const headBias = new Map<number, string>();
  let relIndex: string | null = null;
  let biasForHead: (h: number) => string = () => fail('E_CONFIG', 'no position bias');
  if (wavlmBias) {
    const E = need('encoder.layers.0.attention.rel_attn_embed.weight');
    const C = bucketSaturation(cfg.numBuckets, cfg.maxBucketDistance);
    const bucketOf = Array.from({ length: 2 * C + 1 }, (_, k) => relativeBucket(k - C, cfg.numBuckets, cfg.maxBucketDistance));
    biasForHead = (h: number) => {
      let b = headBias.get(h);
      if (b) return b;
      if (!relIndex) {
        const T = g.op('Gather', [g.op('Shape', [x]), g.i64([0], [])], { axis: 0 }, 'frames');
        const r = g.op('Range', [g.i64([0], []), T, g.i64([1], [])], {}, 'frame_index');
        const rel = g.op('Sub', [g.op('Unsqueeze', [r, g.i64([0])]), g.op('Unsqueeze', [r, g.i64([1])])], {}, 'rel_pos'); // [i][j] = j − i
        const clipped = g.op('Clip', [rel, g.i64([-C], []), g.i64([C], [])], {}, 'rel_pos_clipped');
        relIndex = g.op('Add', [clipped, g.i64([C], [])], {}, 'rel_index');
      }
      const table = Float32Array.from(bucketOf, (k) => E[k * H + h]);
      b = g.op('Gather', [init(`rel_bias_table_head${h}`, table, [2 * C + 1]), relIndex], { axis: 0 }, `rel_bias_h${h}`);
      headBias.set(h, b);
      return b;
    };
  }

  // ---- encoder layers
  const scale = 1 / Math.sqrt(hd);
  cfg.layers.forEach((L, l) => {
    const pre = `encoder.layers.${l}`;
    // attention sub-block
    const attIn = cfg.preLayerNorm ? layerNorm(x, `${pre}.layer_norm`, D) : x;
    if (L.heads.length > 0) {
      const qk = sum(L.qkDims), vt = sum(L.vDims), rows = 2 * qk + vt;
      const W = new Float32Array(rows * D), b = new Float32Array(rows);
      if (qk > 0) {
        const wq = need(`${pre}.attention.q_proj.weight`), bq = need(`${pre}.attention.q_proj.bias`);
        for (let i = 0; i < qk * D; i++) W[i] = wq[i] * scale;
        for (let i = 0; i < qk; i++) b[i] = bq[i] * scale;
        W.set(need(`${pre}.attention.k_proj.weight`), qk * D);
        b.set(need(`${pre}.attention.k_proj.bias`), qk);
      }
      W.set(need(`${pre}.attention.v_proj.weight`), 2 * qk * D);
      b.set(need(`${pre}.attention.v_proj.bias`), 2 * qk);
      const qkv = g.linear(attIn, init(`${pre}.attention.qkv.weight`, W, [rows, D]), init(`${pre}.attention.qkv.bias`, b, [rows]), `l${l}_qkv`);

      let gate: string | null = null;
      if (wavlmBias) {
        // gru_rel_pos_linear on each head-sized chunk; only the two 4-sums are used, so sum the rows at export
        const gw = need(`${pre}.attention.gru_rel_pos_linear.weight`), gb = need(`${pre}.attention.gru_rel_pos_linear.bias`);
        const w2 = new Float32Array(hd * 2), b2 = new Float32Array(2);
        for (let k = 0; k < 2; k++) {
          for (let r = 4 * k; r < 4 * k + 4; r++) {
            for (let c = 0; c < hd; c++) w2[c * 2 + k] += gw[r * hd + c];
            b2[k] += gb[r];
          }
        }
        const chunks = g.op('Reshape', [attIn, g.i64([-1, H, hd])], {}, `l${l}_gate_in`);
        const ab = g.op('Sigmoid', [g.op('Add', [g.op('MatMul', [chunks, init(`${pre}.attention.gru_rel_pos.w2`, w2, [hd, 2])]), init(`${pre}.attention.gru_rel_pos.b2`, b2, [2])])], {}, `l${l}_gate_ab`);
        const a = g.sliceLast(ab, 0, 1, `l${l}_gate_a`), bb = g.sliceLast(ab, 1, 2, `l${l}_gate_b`); // [T, H, 1]
        const cst = param(`${pre}.attention.gru_rel_pos_const`, [H, 1]);
        const inner = g.op('Sub', [g.op('Mul', [bb, cst]), g.scalar(1)]);
        gate = g.op('Squeeze', [g.op('Add', [g.op('Mul', [a, inner]), g.scalar(2)]), g.i64([2])], {}, `l${l}_gate`); // [T, H]
      }

      const outs: string[] = [];
      let qOff = 0, vOff = 2 * qk;
      L.heads.forEach((h, i) => {
        const dq = L.qkDims[i], dv = L.vDims[i];
        const v = g.sliceLast(qkv, vOff, vOff + dv, `l${l}_h${h}_v`);
        let scores: string | null = null;
        if (dq > 0) {
          const q = g.sliceLast(qkv, qOff, qOff + dq, `l${l}_h${h}_q`);
          const k = g.sliceLast(qkv, qk + qOff, qk + qOff + dq, `l${l}_h${h}_k`);
          scores = g.op('Gemm', [q, k], { transB: 1 }, `l${l}_h${h}_scores`);
        }
        if (gate) {
          const gh = g.sliceLast(gate, h, h + 1, `l${l}_h${h}_gate`); // [T, 1]
          const bias = g.op('Mul', [gh, biasForHead(h)], {}, `l${l}_h${h}_bias`);
          scores = scores ? g.op('Add', [scores, bias], {}, `l${l}_h${h}_scores_biased`) : bias;
        }
        if (scores) {
          outs.push(g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }, `l${l}_h${h}_probs`), v], {}, `l${l}_h${h}_out`));
        } else {
          // all scores zero: a uniform average of the values over time
          outs.push(g.op('Expand', [g.reduceMean(v, [0], true, `l${l}_h${h}_vmean`), g.op('Shape', [v])], {}, `l${l}_h${h}_out`));
        }
        qOff += dq;
        vOff += dv;
      });
      const o = outs.length === 1 ? outs[0] : g.op('Concat', outs, { axis: 1 }, `l${l}_heads`);
      const att = g.linear(o, param(`${pre}.attention.out_proj.weight`, [D, vt]), param(`${pre}.attention.out_proj.bias`, [D]), `l${l}_attn`);
      x = g.op('Add', [x, att], {}, `l${l}_attn_res`);
    } else {
      const ob = get(`${pre}.attention.out_proj.bias`);
      if (ob) x = g.op('Add', [x, init(`${pre}.attention.out_proj.bias`, ob, [D])], {}, `l${l}_attn_bias`);
    }
    if (!cfg.preLayerNorm) x = layerNorm(x, `${pre}.layer_norm`, D);

    // feed-forward sub-block
    const ffIn = cfg.preLayerNorm ? layerNorm(x, `${pre}.final_layer_norm`, D) : x;
    const f = `${pre}.feed_forward`;
    if (L.ffn > 0) {
      const h1 = g.gelu(g.linear(ffIn, param(`${f}.intermediate_dense.weight`, [L.ffn, D]), param(`${f}.intermediate_dense.bias`, [L.ffn]), `l${l}_ffn1`), `l${l}_ffn_gelu`);
      const h2 = g.linear(h1, param(`${f}.output_dense.weight`, [D, L.ffn]), param(`${f}.output_dense.bias`, [D]), `l${l}_ffn2`);
      x = g.op('Add', [x, h2], {}, `l${l}_ffn_res`);
    } else {
      const ob = get(`${f}.output_dense.bias`);
      if (ob) x = g.op('Add', [x, init(`${f}.output_dense.bias`, ob, [D])], {}, `l${l}_ffn_bias`);
    }
    if (!cfg.preLayerNorm) x = layerNorm(x, `${pre}.final_layer_norm`, D);
    hidden.push(cfg.preLayerNorm && l === cfg.numLayers - 1 ? layerNorm(x, 'encoder.layer_norm', D) : x);
  });

  // ---- outputs
  const stacked = hidden.map((h) => g.op('Unsqueeze', [h, g.i64([0])], {}, 'hs'));
  if (stacked.length === 1) g.named('Identity', stacked, 'hidden_states');
  else g.named('Concat', stacked, 'hidden_states', { axis: 0 });
  g.named('Identity', [hidden[hidden.length - 1]], 'last_hidden_state');

  if (g.initBytes > MAX_PROTO_BYTES - 64 * 1024 * 1024) {
    fail('E_ARGS', `${source}: ${(g.initBytes / 2 ** 30).toFixed(2)} GiB of weights do not fit in one ONNX protobuf file (2 GiB limit); external data is not supported`);
  }
  const dim = (v: number | string) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v });
  const tensorType = (dims: (number | string)[]) => ({ tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map(dim) } } });
  const L1 = cfg.numLayers + 1;
  const model: ModelMsg = {
    irVersion: IR_FOR_OPSET[opset],
    producerName: 'slimwav',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: opset }],
    metadataProps: [
      { key: 'slimwav_config', value: JSON.stringify(configJson) },
      { key: 'hidden_states', value: `[${L1}, frames, ${D}]: index 0 = encoder input, i = output of layer i (Hugging Face output_hidden_states, batch dim dropped)` },
    ],
    graph: {
      name: `slimwav_${cfg.modelType}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: 'waveform', type: tensorType([1, 'samples']), docString: '16 kHz mono float32 samples' }],
      output: [
        { name: 'hidden_states', type: tensorType([L1, 'frames', D]) },
        { name: 'last_hidden_state', type: tensorType(['frames', D]) },
      ],
    },
  };
  const bytes = encodeModel(model);
  return { bytes, opset, nodes: g.nodes.length, initializers: g.initializers.length, hiddenStates: L1, hidden: D };
}
