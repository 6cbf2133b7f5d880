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
 *
 * dtype 'q8': the graph onnxruntime's dynamic quantization (quantize_dynamic, IntegerOps) writes, built from
 * slimwav's own int8 weights (arch/quant.ts: per output channel, symmetric) instead of re-quantizing:
 *   - every weight the binding holds in int8 (linear layers, conv layers ≥ 1): the input goes through
 *     DynamicQuantizeLinear (uint8, one scale and zero point per tensor, computed per run), then MatMulInteger
 *     (weight Wᵀ int8 [in][out]) or ConvInteger (int8 [Cout][Cin][K]) with weight zero point 0, Cast to float,
 *     Mul by x_scale · w_scale (w_scale: one per output channel, slimwav's scales as they are), Add of the bias.
 *     One DynamicQuantizeLinear per quantized value, shared by its consumers.
 *   - the attention scale is not folded into int8 q rows: the score Gemm carries it as alpha.
 *   - everything else (conv layer 0, positional conv, norms, WavLM's gate, attention itself) is the f32 graph above.
 *     The positional conv's weight is int8 in a q8 model for storage only: its f32 initializer is the weight slimwav
 *     runs, i.e. q · scale (weight norm folded), not the original f32 values.
 * A model whose file already holds int8 weights exports them as they are; with dtype 'f32' they are dequantized.
 */
import { fail } from '../errors.js';
import { parseConfig, type ModelConfig } from '../arch/config.js';
import { checkTensors } from '../arch/tensors.js';
import {
  bindWeights, CONV_NORM_EPS, TensorNames, unknownStep, type Dense, type LayerWeights, type ModelWeights, type Norm,
} from '../arch/binding.js';
import { relativeBucket } from '../arch/wavlm.js';
import type { RawTensor } from '../format/tensor.js';
import { F, GraphBuilder } from './graph.js';
import { DataType, encodeModel, type ModelMsg } from './proto.js';

/** Weight types of the exported graph: 'f32' (Gemm/Conv on float weights) or 'q8' (int8 weights, see the header). */
export const ONNX_DTYPES = ['f32', 'q8'] as const;
export type OnnxDtype = (typeof ONNX_DTYPES)[number];

export const OPSET_MIN = 17;
export const OPSET_MAX = 21;
/** IR version that goes with each opset (onnx/helper.py's VERSION_TABLE) */
const IR_FOR_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
const MAX_PROTO_BYTES = 2 ** 31 - 1; // protobuf's hard message limit; larger models would need ONNX external data

export interface OnnxExportOptions {
  /** ONNX opset of the default domain, 17..21 (default 17: LayerNormalization is the newest op used) */
  opset?: number;
  /** name used in error messages */
  source?: string;
  /** 'f32' (default) or 'q8': int8 weights with onnxruntime's dynamic-quantization ops (see the header) */
  dtype?: OnnxDtype;
}

export interface OnnxExport {
  bytes: Uint8Array;
  opset: number;
  dtype: OnnxDtype;
  nodes: number;
  initializers: number;
  /** hidden states produced: L + 1 */
  hiddenStates: number;
  hidden: number;
}

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
  const dtype = opts.dtype ?? 'f32';
  if (!(ONNX_DTYPES as readonly string[]).includes(dtype)) {
    fail('E_ARGS', `ONNX dtype must be one of ${ONNX_DTYPES.join(', ')}, found ${JSON.stringify(dtype)}`);
  }
  const cfg: ModelConfig = parseConfig(configJson, source);
  checkTensors(cfg, tensors, source);
  return buildOnnx(bindWeights(cfg, tensors, source, { quantize: dtype === 'q8' }), configJson, opset, dtype, source);
}

/** @internal The graph of bound weights (exportOnnx validates and binds first; tests hand it edited block plans). */
export function buildOnnx(w: ModelWeights, configJson: Record<string, unknown>, opset: number, dtype: OnnxDtype, source: string): OnnxExport {
  const cfg = w.cfg, q8 = dtype === 'q8';
  const g = new GraphBuilder(opset);
  const N = TensorNames;
  const init = (name: string, data: Float32Array, dims: number[]) => g.f32(name, data, dims);
  const D = cfg.hidden, H = cfg.numHeads, hd = cfg.headDim, eps = cfg.layerNormEps;
  const layerNorm = (x: string, p: string, n: Norm, e = eps) =>
    g.op('LayerNormalization', [x, init(`${p}.weight`, n.weight, [n.weight.length]), init(`${p}.bias`, n.bias, [n.bias.length])], { axis: -1, epsilon: F(e) }, 'ln');
  /** uint8 per-tensor activations [quantized, scale, zero point]: one DynamicQuantizeLinear per value */
  const quantized = new Map<string, string[]>();
  const quantizeInput = (x: string): string[] => {
    let r = quantized.get(x);
    if (!r) quantized.set(x, (r = g.node('DynamicQuantizeLinear', [x], {}, 3, `${x}_quant`)));
    return r;
  };
  /** integer accumulator (int32) → float, times x_scale · w_scale (w_scale shaped to broadcast), plus the bias */
  const rescale = (acc: string, xScale: string, p: string, scale: Float32Array, dims: number[], bias: Float32Array | null, name: string) => {
    const s = g.op('Mul', [xScale, init(`${p}.weight_scale`, scale, dims)], {}, `${name}_scales`);
    const y = g.op('Mul', [g.op('Cast', [acc], { to: DataType.FLOAT }, `${name}_acc`), s], {}, bias ? `${name}_nobias` : name);
    return bias ? g.op('Add', [y, init(`${p}.bias`, bias, dims)], {}, name) : y;
  };
  /** x·Wᵀ + b with W int8: DynamicQuantizeLinear → MatMulInteger(x_q, Wᵀ [cols][rows], x_zp, 0) → rescale */
  const linearQ8 = (x: string, p: string, d: Dense, name: string) => {
    const [xq, xs, xz] = quantizeInput(x);
    const { q, scale } = d.q8!;
    const wt = new Int8Array(q.length);
    for (let r = 0; r < d.rows; r++) for (let c = 0; c < d.cols; c++) wt[c * d.rows + r] = q[r * d.cols + c];
    const acc = g.op('MatMulInteger', [xq, g.i8(`${p}.weight_quantized`, wt, [d.cols, d.rows]), xz, g.i8Scalar(0)], {}, `${name}_int`);
    return rescale(acc, xs, p, scale, [d.rows], d.bias, name);
  };
  const linear = (x: string, p: string, d: Dense, name: string) =>
    q8 && d.q8 ? linearQ8(x, p, d, name) : g.linear(x, init(`${p}.weight`, d.weight, [d.rows, d.cols]), init(`${p}.bias`, d.bias!, [d.rows]), name);

  // ---- the front end walks its block plan (arch/binding.ts frontSteps): waveform [1, N] → hidden state 0 [T, D].
  // The conv layers run on [1, C, T]; the first step after them goes time-major [T, C], as the engine is throughout.
  const front = w.front, cin = front.channels;
  const hidden: string[] = [];
  let x = g.input('waveform');
  let layout: 'wave' | 'nct' | 'tc' = 'wave';
  const timeMajor = () => {
    if (layout === 'nct') x = g.op('Transpose', [g.op('Squeeze', [x, g.i64([0])])], { perm: [1, 0] }, 'features');
    layout = 'tc';
  };
  let rowShift: string | null = null;
  for (const st of w.frontSteps) {
    switch (st.op) {
      case 'normalize': {
        const d = g.op('Sub', [x, g.reduceMean(x, [1], true, 'wave_mean')], {}, 'wave_centered');
        const v = g.reduceMean(g.op('Mul', [d, d]), [1], true, 'wave_var');
        x = g.op('Div', [d, g.op('Sqrt', [g.op('Add', [v, g.scalar(1e-7)])])], {}, 'wave_normalized');
        break;
      }
      case 'conv': {
        if (layout === 'wave') x = g.op('Unsqueeze', [x, g.i64([1])], {}, 'wave_nct');
        layout = 'nct';
        const i = st.layer, c = front.conv[i];
        const attrs = { kernel_shape: [c.kernel], strides: [c.stride] };
        if (q8 && c.q8) {
          // ConvInteger(x_q, W int8 [Cout][Cin][K], x_zp, 0) → rescale per output channel ([Cout, 1] against [1, Cout, T])
          const [xq, xs, xz] = quantizeInput(x);
          const wq = g.i8(`${N.conv(i)}.weight_quantized`, c.q8.q, [c.dim, c.cin, c.kernel]);
          const acc = g.op('ConvInteger', [xq, wq, xz, g.i8Scalar(0)], attrs, `conv${i}_int`);
          x = rescale(acc, xs, N.conv(i), c.q8.scale, [c.dim, 1], c.bias, `conv${i}`);
        } else {
          const inputs = [x, init(`${N.conv(i)}.weight`, c.weight, [c.dim, c.cin, c.kernel])];
          if (c.bias) inputs.push(init(`${N.conv(i)}.bias`, c.bias, [c.dim]));
          x = g.op('Conv', inputs, attrs, `conv${i}`);
        }
        if (st.norm === 'group') {
          const p = N.convNorm(i), n = c.norm!;
          x = g.op('InstanceNormalization', [x, init(`${p}.weight`, n.weight, [c.dim]), init(`${p}.bias`, n.bias, [c.dim])], { epsilon: F(CONV_NORM_EPS) }, `conv${i}_gn`);
        } else if (st.norm === 'layer') {
          const t = g.op('Transpose', [x], { perm: [0, 2, 1] });
          x = g.op('Transpose', [layerNorm(t, N.convNorm(i), c.norm!, CONV_NORM_EPS)], { perm: [0, 2, 1] }, `conv${i}_ln`);
        }
        x = g.gelu(x, `conv${i}_gelu`);
        break;
      }
      case 'scale':
        timeMajor();
        x = g.op('Mul', [x, init(N.dummy, front.dummy!, [cin])], {}, 'features_scaled');
        break;
      case 'projNorm': {
        timeMajor();
        const pn = front.projNorm!;
        if (!st.virtualZeros) {
          x = layerNorm(x, N.projNorm, pn);
          break;
        }
        // LayerNorm over `total` channels of which the last total − n are exact zeros (engine.layerNormVirtualZeros)
        const total = cfg.featProjNormSize, n = cin;
        const mean = g.op('Mul', [g.reduceSum(x, [1], true), g.scalar(1 / total)], {}, 'vz_mean');
        const d = g.op('Sub', [x, mean], {}, 'vz_centered');
        const ss = g.reduceSum(g.op('Mul', [d, d]), [1], true);
        const zeros = g.op('Mul', [g.op('Mul', [mean, mean]), g.scalar(total - n)], {}, 'vz_zero_ss');
        const variance = g.op('Mul', [g.op('Add', [ss, zeros]), g.scalar(1 / total)], {}, 'vz_var');
        const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])], {}, 'vz_inv');
        const y = g.op('Mul', [g.op('Mul', [d, inv]), init(`${N.projNorm}.weight`, pn.weight, [n])]);
        x = g.op('Add', [y, init(`${N.projNorm}.bias`, pn.bias, [n])], {}, 'proj_ln');
        rowShift = g.op('Neg', [g.op('Mul', [mean, inv])], {}, 'vz_row_shift'); // [T, 1]
        break;
      }
      case 'proj':
        timeMajor();
        x = linear(x, N.proj, front.proj, 'proj');
        if (st.prunedChannels) {
          x = g.op('Add', [x, g.op('Mul', [rowShift!, init(N.prunedChannelWeight, front.prunedChannelWeight!, [D])])], {}, 'proj_pruned');
        }
        break;
      case 'posConv': {
        // x += GELU(conv(x)) (weight norm folded by the binding)
        const pos = w.pos, Kw = pos.kernel, pad = Math.floor(Kw / 2);
        let p = g.op('Unsqueeze', [g.op('Transpose', [x], { perm: [1, 0] }), g.i64([0])], {}, 'pos_in'); // [1, D, T]
        p = g.op('Conv', [p, init(`${N.posConv}.weight`, pos.weight, [D, pos.cg, Kw]), init(`${N.posConv}.bias`, pos.bias, [D])],
          { kernel_shape: [Kw], pads: [pad, pad], group: pos.groups }, 'pos_conv');
        if (Kw % 2 === 0) p = g.op('Slice', [p, g.i64([0]), g.i64([-1]), g.i64([2])], {}, 'pos_conv_trim');
        p = g.op('Transpose', [g.op('Squeeze', [g.gelu(p, 'pos_gelu'), g.i64([0])])], { perm: [1, 0] }, 'pos_tm');
        x = g.op('Add', [x, p], {}, 'pos_out');
        break;
      }
      case 'norm': x = layerNorm(x, N.encoderNorm, w.encoderNorm); break; // post-LN: before layer 0
      case 'emit': hidden.push(x); break;
      default: unknownStep('ONNX export', st);
    }
  }

  // ---- WavLM relative position bias: one [T, T] matrix per original head that some layer keeps
  const headBias = new Map<number, string>();
  let relIndex: string | null = null;
  let biasForHead: (h: number) => string = () => fail('E_CONFIG', 'no position bias');
  if (w.relEmbed) {
    const E = w.relEmbed;
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

  // ---- encoder layers: each walks its block plan (arch/binding.ts layerSteps)
  const scale = 1 / Math.sqrt(hd);
  const attention = (L: LayerWeights, attIn: string): string => {
    const l = L.index, a = L.attn!, qk = L.qkTotal, rows = L.rows;
    let qkv: string, alpha = 1;
    if (q8 && a.qkv.q8) {
      // int8 rows stay as the binding has them; the score Gemm applies the attention scale
      qkv = linearQ8(attIn, `l${l}_qkv`, a.qkv, `l${l}_qkv`);
      alpha = scale;
    } else {
      // the attention scale folded into the q rows and bias
      const W = a.qkv.weight.slice(), b = a.qkv.bias!.slice();
      for (let i = 0; i < qk * D; i++) W[i] *= scale;
      for (let i = 0; i < qk; i++) b[i] *= scale;
      qkv = g.linear(attIn, init(`l${l}_qkv.weight`, W, [rows, D]), init(`l${l}_qkv.bias`, b, [rows]), `l${l}_qkv`);
    }

    let gate: string | null = null;
    if (a.gru && a.gruConst) {
      // gru_rel_pos_linear on each head-sized chunk; only the two 4-sums are used, so sum the rows at export
      const gw = a.gru.weight, gb = a.gru.bias!;
      const w2 = new Float32Array(hd * 2), b2 = new Float32Array(2);
      for (let k = 0; k < 2; k++) {
        for (let r = 4 * k; r < 4 * k + 4; r++) {
          for (let c = 0; c < hd; c++) w2[c * 2 + k] += gw[r * hd + c];
          b2[k] += gb[r];
        }
      }
      const chunks = g.op('Reshape', [attIn, g.i64([-1, H, hd])], {}, `l${l}_gate_in`);
      const ab = g.op('Sigmoid', [g.op('Add', [g.op('MatMul', [chunks, init(`${N.gru(l)}.w2`, w2, [hd, 2])]), init(`${N.gru(l)}.b2`, b2, [2])])], {}, `l${l}_gate_ab`);
      const ga = g.sliceLast(ab, 0, 1, `l${l}_gate_a`), gb2 = g.sliceLast(ab, 1, 2, `l${l}_gate_b`); // [T, H, 1]
      const cst = init(N.gruConst(l), a.gruConst, [H, 1]);
      const inner = g.op('Sub', [g.op('Mul', [gb2, cst]), g.scalar(1)]);
      gate = g.op('Squeeze', [g.op('Add', [g.op('Mul', [ga, inner]), g.scalar(2)]), g.i64([2])], {}, `l${l}_gate`); // [T, H]
    }

    const outs: string[] = [];
    L.plan.heads.forEach((h, i) => {
      const dq = L.plan.qkDims[i], dv = L.plan.vDims[i], qOff = L.qOff[i], vOff = 2 * qk + L.vOff[i];
      const v = g.sliceLast(qkv, vOff, vOff + dv, `l${l}_h${h}_v`);
      let scores: string | null = null;
      if (dq > 0) {
        const q = g.sliceLast(qkv, qOff, qOff + dq, `l${l}_h${h}_q`);
        const k = g.sliceLast(qkv, qk + qOff, qk + qOff + dq, `l${l}_h${h}_k`);
        scores = g.op('Gemm', [q, k], alpha === 1 ? { transB: 1 } : { transB: 1, alpha: F(alpha) }, `l${l}_h${h}_scores`);
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
    });
    const o = outs.length === 1 ? outs[0] : g.op('Concat', outs, { axis: 1 }, `l${l}_heads`);
    return linear(o, N.out(l), a.out, `l${l}_attn`);
  };
  for (const L of w.layers) {
    const l = L.index;
    let y = x;
    const slot = (n: 'x' | 'y') => (n === 'x' ? x : y);
    for (const st of L.steps) {
      switch (st.op) {
        case 'norm': {
          const [p, n] = st.norm === 'norm1' ? [N.norm1(l), L.norm1] : st.norm === 'norm2' ? [N.norm2(l), L.norm2] : [N.encoderNorm, w.encoderNorm];
          const out = layerNorm(slot(st.from), p, n);
          if (st.to === 'x') x = out; else y = out;
          break;
        }
        case 'attention': x = g.op('Add', [x, attention(L, slot(st.from))], {}, `l${l}_attn_res`); break;
        case 'attentionBias': x = g.op('Add', [x, init(`${N.out(l)}.bias`, L.attnBias!, [D])], {}, `l${l}_attn_bias`); break;
        case 'ffn': {
          const f = L.ffn!;
          const h1 = g.gelu(linear(slot(st.from), N.ffn1(l), f.in, `l${l}_ffn1`), `l${l}_ffn_gelu`);
          x = g.op('Add', [x, linear(h1, N.ffn2(l), f.out, `l${l}_ffn2`)], {}, `l${l}_ffn_res`);
          break;
        }
        case 'ffnBias': x = g.op('Add', [x, init(`${N.ffn2(l)}.bias`, L.ffnBias!, [D])], {}, `l${l}_ffn_bias`); break;
        case 'emit': hidden.push(slot(st.from)); break;
        default: unknownStep('ONNX export', st);
      }
    }
  }

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
      { key: 'slimwav_dtype', value: dtype },
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
  return { bytes, opset, dtype, nodes: g.nodes.length, initializers: g.initializers.length, hiddenStates: L1, hidden: D };
}
