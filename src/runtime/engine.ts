/**
 * The forward pass of wav2vec2 / HuBERT / WavLM: the block plan of arch/binding.ts (frontSteps, then each layer's
 * layerSteps) interpreted on the kernels.
 * Everything is time-major ([T][C] row-major) so that convolutions are GEMMs over the activations in place
 * (implicit im2col) and attention heads are column slices of the fused q|k|v projection.
 *
 *   wave [N] ─conv_i (GEMM, K = Kw·Cin, A row stride S·Cin) ─norm─GELU─▶ [T_i][C_i] … ─×dummy_weight─▶ [T][C_last]
 *     (conv 0's GroupNorm folded into its weights per input; kernel-3 stride-2 layers: Winograd pairs, conv.ts)
 *   ─LayerNorm─projection─▶ x [T][D] ─ x += GELU(posconv(x)) (per group: through the DFT, or a GEMM over a padded copy) ─▶
 *   post-LN: x = LN(x) ─▶ layers: x = LN1(x + out(attn(qkv(x)))); x = LN2(x + W2·GELU(W1·x))
 *   pre-LN:  layers: x += out(attn(qkv(LN1 x))); x += W2·GELU(W1·LN2 x)  ─▶ final LN on the last hidden state
 *
 * Heads are ragged: head k of layer l reads columns [qoff_k, qoff_k + dq_k) of q and k and [voff_k, voff_k + dv_k)
 * of v straight out of the fused projection output (no padded copies), and writes its output into the matching
 * columns of O [T][Σdv], which out_proj consumes as one GEMM.
 */
import { fail, SlimwavError } from '../errors.js';
import { ChunkReader, type RawTensor } from '../format/tensor.js';
import { convFrames, receptiveField, type ModelConfig } from '../arch/config.js';
import { relativeBiasVector, wavlmGates } from '../arch/wavlm.js';
import {
  bindWeights, CONV_NORM_EPS, foldWeightNormInPlace, frontStepName, stepName, unknownStep, type Dense,
  type FrontStep, type HeadLayout, type LayerStep, type Norm, type StoredPart,
} from '../arch/binding.js';
import { alignUp, ArenaPlan, LinearMemory } from './memory.js';
import { convToTimeMajor, NR, packB, packedFloats } from './pack.js';
import {
  arenaLayout, convChunkRanges, CONV_BUDGET_FLOATS, isWinogradLayer, posConvDftSize, type DftSize, type PosConvMethod,
  type Q8Use,
} from './arena-layout.js';
import { convTimeMajorColumns, packQ8, q8PackedBytes, q8ScaleFloats } from './pack-q8.js';
import { dequantizeRows, quantizeRows, type Q8 } from '../arch/quant.js';
import type { KernelExports } from './wasm.js';
import type { Command, Started, ThreadPool } from './threads.js';
import { Exec } from './exec.js';

const GELU = 1;

interface Linear {
  w: number; // packed weight: f32 panels (pack.ts), or int8 panels (pack-q8.ts) when s ≠ 0
  b: number; // bias pointer or 0
  N: number;
  K: number;
  s: number; // q8: the per-column weight scales (pack-q8.ts); 0: an f32 weight
}

/** One encoder layer's weights as packed into linear memory (from the binding, arch/binding.ts). */
interface PackedLayer extends Omit<HeadLayout, 'rows'> {
  index: number;
  heads: number[];
  qkDims: number[];
  vDims: number[];
  ffn: number;
  qkv: Linear | null; // fused [q; k; v] rows
  out: Linear | null;
  attnBias: number; // out_proj.bias of a removed attention block (0 if absent)
  ln1: [number, number];
  ffn1: Linear | null;
  ffn2: Linear | null;
  ffnBias: number; // output_dense.bias of a removed FFN block (0 if absent)
  ln2: [number, number];
  gru: Linear | null; // WavLM gru_rel_pos_linear
  gruConst: Float32Array | null;
  steps: LayerStep[];
}

/** Called with each intermediate stage when a caller asks for it (tests, debugging). */
export type StageSink = (stage: string, data: Float32Array, rows: number, cols: number) => void;

export interface ForwardOptions {
  /** hidden-state indices 0..L to return, in the order wanted */
  layers: number[];
  capture?: StageSink;
}

export class Engine {
  readonly cfg: ModelConfig;
  private readonly k: KernelExports;
  private readonly mem: LinearMemory;
  private readonly conv: { w: number; s: number; b: number; norm: [number, number] | null; wino: Wino | null }[] = [];
  private readonly dummy: Float32Array | null;
  private readonly projLn: [number, number] | null;
  private readonly prunedChannelWeight: Float32Array | null;
  private rowShift: Float32Array = new Float32Array(0);
  private readonly proj: Linear;
  private readonly pos: { w: number[]; b: number; cg: number; dft: PosDft | null };
  private readonly encLn: [number, number];
  private readonly layers: PackedLayer[] = [];
  /** the front end's block plan (arch/binding.ts frontSteps) */
  private readonly frontSteps: FrontStep[];
  /** where forward() is, for E_TRAP messages: a layer index (-1: front end) and a block-plan step or a stage name */
  private atLayer = -1;
  private atStep: LayerStep | string = '';
  private readonly convNames: string[];
  private readonly relEmbed: Float32Array | null;
  private plannedSamples = 0;
  private plan: ArenaPlan | null = null;
  private readonly algorithms: Algorithms;
  /** conv layer 0 has a GroupNorm (one group per channel, over time): it is folded into its weights per input */
  private readonly groupNorm0: boolean;
  /** conv layer 0's weights [C0][K0·1] kept unpacked, for folding the GroupNorm statistics into them */
  private conv0Weights: Float32Array = new Float32Array(0);
  /** final conv frames per chunk, 0 = the whole input at once */
  private convChunk = 0;
  /** floats one conv activation buffer may hold before the conv stack runs in chunks (tests lower it) */
  convBudget = CONV_BUDGET_FLOATS;
  private readonly exec: Exec;
  private readonly threads: number;
  /** what the linear layers compute in: 'q8' when at least one weight runs through the int8 GEMM */
  readonly dtype: 'f32' | 'q8';
  /** every int8 GEMM (its rows: a conv layer's frames or the T frames; its K), for the quantized-activation scratch */
  readonly q8Uses: Q8Use[] = [];

  /**
   * Packs the weights into linear memory. The large weights are read through `reader` a few rows at a time and packed
   * from there (format/tensor.ts ChunkReader: a tensor still in its file never lands in memory whole; its checks see
   * every chunk), so a load touches the packed weights and the reader's buffer and little else.
   */
  constructor(cfg: ModelConfig, tensors: Map<string, RawTensor>, k: KernelExports, mem: LinearMemory, pool: ThreadPool | null = null,
    algorithms: Algorithms = {}, phases?: LoadPhases, reader: ChunkReader = new ChunkReader()) {
    const posConvMethod = algorithms.posConv ?? 'auto';
    this.cfg = cfg;
    this.k = k;
    this.mem = mem;
    this.exec = new Exec(k, pool);
    this.threads = this.exec.threads;
    this.algorithms = { posConv: posConvMethod, winograd: algorithms.winograd ?? true };
    let t0 = phases ? phases.clock() : 0;
    /** the time since the last lap goes to `phase` (only when timing a load) */
    const lap = (phase: string) => {
      if (!phases) return;
      const t = phases.clock();
      phases.ms.set(phase, (phases.ms.get(phase) ?? 0) + t - t0);
      t0 = t;
    };
    const dtype = algorithms.dtype ?? 'auto';
    // 'auto': int8 where the file holds int8; 'q8': also quantize the f32 weights; 'f32': dequantize int8 weights.
    // F32 tensors as views of the file's bytes where aligned (nothing here writes into them); what the engine keeps
    // after load is copied (own), so the file's buffer can be freed
    // defer: the large weights are not read by the binding; they are streamed below from their stored form
    const bound = bindWeights(cfg, tensors, 'model', { quantize: dtype === 'q8', views: true, defer: true });
    const useQ8 = dtype !== 'f32';
    const own = (a: Float32Array | null): Float32Array | null => a && a.slice();
    lap('bind (dtype conversion, copies)');
    /**
     * How stored parts are packed: 'q8' (int8 as stored, or float quantized for dtype 'q8'), 'f32' (float as stored,
     * or int8 dequantized for dtype 'f32'), or null: through the binding's arrays (int8 parts next to float ones take
     * the binding's fused form; parts must start on whole 8-row panels)
     */
    const streamKind = (st: StoredPart[] | undefined): 'f32' | 'q8' | null => {
      if (!st || st.length === 0 || st.some((p) => p.row0 % NR !== 0)) return null;
      const i8 = st.filter((p) => p.scale !== null).length;
      if (i8 !== 0 && i8 !== st.length) return null;
      if (i8) return useQ8 ? 'q8' : 'f32';
      return dtype === 'q8' && st.every((p) => p.q8) ? 'q8' : 'f32';
    };
    // One conversion buffer for the whole load, grown to the largest chunk: the callbacks below copy what they are
    // given into linear memory before the next chunk, and a buffer per chunk left ~85 MB of garbage at a base model's
    // load (its peak RSS rose by that much)
    let f32Scratch = new Float32Array(0), q8Scratch: Q8 = { q: new Int8Array(0), scale: new Float32Array(0) };
    /** q8Scratch, grown to hold `rows` rows of `cols` values */
    const q8Room = (rows: number, cols: number): Q8 => {
      if (q8Scratch.q.length < rows * cols || q8Scratch.scale.length < rows) q8Scratch = { q: new Int8Array(rows * cols), scale: new Float32Array(rows) };
      return q8Scratch;
    };
    /** rows of a stored part as f32 (int8 dequantized, per row as dequantizeRows does), in chunks of `group` rows */
    const eachF32 = (p: StoredPart, group: number, fn: (W: Float32Array, r0: number, r1: number) => void): void => {
      reader.rows(p.tensor, p.name, p.rows, group, (bytes, r0, r1) => {
        if (!p.scale) return fn(reader.f32(p.tensor.dtype, bytes, p.name), r0, r1);
        if (f32Scratch.length < bytes.length) f32Scratch = new Float32Array(bytes.length);
        fn(dequantizeRows({ q: int8(bytes), scale: p.scale.subarray(r0, r1) }, r1 - r0, p.cols, f32Scratch), r0, r1);
      });
    };
    /** rows of a stored part as int8 (float quantized per row as quantizeRows does), in chunks of whole panels */
    const eachQ8 = (p: StoredPart, fn: (q: Q8, r0: number, r1: number) => void): void => {
      reader.rows(p.tensor, p.name, p.rows, NR, (bytes, r0, r1) => {
        if (p.scale) return fn({ q: int8(bytes), scale: p.scale.subarray(r0, r1) }, r0, r1);
        fn(quantizeRows(reader.f32(p.tensor.dtype, bytes, p.name), r1 - r0, p.cols, q8Room(r1 - r0, p.cols)), r0, r1);
      });
    };
    const put = (data: Float32Array | null): number => {
      if (!data || data.length === 0) return 0;
      const p = mem.allocWeights(data.length);
      mem.f32(p, data.length).set(data);
      lap('copy small weights');
      return p;
    };
    const pack = (W: Float32Array, N: number, K: number, bias: Float32Array | null): Linear => {
      const w = mem.allocWeights(packedFloats(N, K));
      packB(W, N, K, mem.f32(w, packedFloats(N, K)), K);
      lap('pack');
      return { w, b: put(bias), N, K, s: 0 };
    };
    // int8 panels and scales (pack-q8.ts); conv = the conv layer whose frames are the GEMM's rows, -1: the T frames
    const packQ = (q: Q8, N: number, K: number, bias: Float32Array | null, conv: number, col: Int32Array | null = null): Linear => {
      const bytes = q8PackedBytes(N, K), sf = q8ScaleFloats(N);
      const w = mem.allocWeights(Math.ceil(bytes / 4)), s = mem.allocWeights(sf);
      packQ8(q, N, K, new Int8Array(mem.memory.buffer, w, bytes), mem.f32(s, sf), col);
      this.q8Uses.push({ conv, K });
      return { w, b: put(bias), N, K, s };
    };
    const linear = (d: Dense): Linear => {
      const kind = streamKind(d.stored);
      if (kind) return packStored(d.stored!, d.rows, d.cols, d.bias, kind);
      if (useQ8 && d.q8) return packQ(d.q8, d.rows, d.cols, d.bias, -1);
      // the fused q|k|v straight from its parts when each starts on a whole 8-row panel: the same panels, no fused copy
      if (!d.parts || d.parts.some(([row0]) => row0 % NR !== 0)) return pack(d.weight, d.rows, d.cols, d.bias);
      const w = mem.allocWeights(packedFloats(d.rows, d.cols));
      const dst = mem.f32(w, packedFloats(d.rows, d.cols));
      for (const [row0, rows, W] of d.parts) packB(W, rows, d.cols, dst.subarray(row0 * d.cols), d.cols);
      lap('pack');
      return { w, b: put(d.bias), N: d.rows, K: d.cols, s: 0 };
    };
    /** a weight [N][K] packed from its stored parts chunk by chunk (each part starts on a whole panel) */
    const packStored = (st: StoredPart[], N: number, K: number, bias: Float32Array | null, kind: 'f32' | 'q8', conv = -1,
      col: Int32Array | null = null): Linear => {
      if (kind === 'q8') {
        const KP = (K + 1) >> 1, sf = q8ScaleFloats(N);
        const w = mem.allocWeights(Math.ceil(q8PackedBytes(N, K) / 4)), s = mem.allocWeights(sf);
        for (const p of st) {
          eachQ8(p, (q, r0, r1) => {
            const row = p.row0 + r0, n = r1 - r0;
            packQ8(q, n, K, new Int8Array(mem.memory.buffer, w + (row / NR) * 16 * KP, q8PackedBytes(n, K)), mem.f32(s + row * 4, q8ScaleFloats(n)), col);
          });
        }
        this.q8Uses.push({ conv, K });
        lap('pack');
        return { w, b: put(bias), N, K, s };
      }
      const w = mem.allocWeights(packedFloats(N, K));
      for (const p of st) {
        eachF32(p, NR, (W, r0, r1) => packB(W, r1 - r0, K, mem.f32(w + (p.row0 + r0) * K * 4, packedFloats(r1 - r0, K)), K));
      }
      lap('pack');
      return { w, b: put(bias), N, K, s: 0 };
    };
    const ln = (n: Norm): [number, number] => [put(n.weight), put(n.bias)];

    // conv feature extractor (conv 0 is the only layer with a norm in group-norm extractors)
    this.groupNorm0 = cfg.featExtractNorm === 'group';
    this.convNames = cfg.conv.map((_, i) => `conv layer ${i}`);
    bound.front.conv.forEach((c, i) => {
      const cin = c.cin, kind = streamKind(c.stored);
      if (kind ? kind === 'q8' : useQ8 && c.q8) {
        // int8 conv layer: one q8 GEMM over the implicit im2col (no Winograd form), weights reordered time-major
        const col = convTimeMajorColumns(cin, c.kernel);
        const q = kind ? packStored(c.stored!, c.dim, c.kernel * cin, null, 'q8', i, col) : packQ(c.q8!, c.dim, c.kernel * cin, null, i, col);
        this.conv.push({ w: q.w, s: q.s, b: put(c.bias), norm: c.norm ? ln(c.norm) : null, wino: null });
        return;
      }
      let W: Float32Array;
      if (kind) {
        // time-major chunk by chunk (the reorder stays within an output channel's row)
        W = new Float32Array(c.dim * cin * c.kernel);
        eachF32(c.stored![0], 1, (Wc, r0, r1) => convToTimeMajor(Wc, r1 - r0, cin, c.kernel, W.subarray(r0 * cin * c.kernel)));
      } else {
        W = convToTimeMajor(c.weight, c.dim, cin, c.kernel);
      }
      lap('conv time-major reorder');
      if (i === 0) this.conv0Weights = W;
      const bias = put(c.bias);
      const norm = c.norm ? ln(c.norm) : null;
      if (isWinogradLayer(c, algorithms.winograd)) {
        // Winograd F(2,2) on the even taps (assembly/conv.ts): w0 + w2, [w0|w1] and [w1|w2] from W [Cout][3·Cin]
        const sum = new Float32Array(c.dim * cin);
        for (let o = 0; o < c.dim; o++) for (let j = 0; j < cin; j++) sum[o * cin + j] = W[o * 3 * cin + j] + W[o * 3 * cin + 2 * cin + j];
        lap('Winograd weight transform');
        const m = pack(sum, c.dim, cin, null).w;
        const pairW = (off: number): number => {
          const p2 = mem.allocWeights(packedFloats(c.dim, 2 * cin));
          packB(W, c.dim, 2 * cin, mem.f32(p2, packedFloats(c.dim, 2 * cin)), 3 * cin, off);
          return p2;
        };
        this.conv.push({ w: 0, s: 0, b: bias, norm, wino: { m, e: pairW(0), o: pairW(cin) } });
        lap('Winograd weight transform');
      } else if (i === 0 && this.groupNorm0) {
        this.conv.push({ w: 0, s: 0, b: bias, norm, wino: null }); // packed per input by foldGroupNorm0, from conv0Weights
      } else {
        this.conv.push({ w: pack(W, c.dim, c.kernel * cin, null).w, s: 0, b: bias, norm, wino: null });
      }
    });
    const f = bound.front;
    this.dummy = own(f.dummy);
    this.projLn = f.projNorm ? ln(f.projNorm) : null;
    this.proj = linear(f.proj);
    this.prunedChannelWeight = own(f.prunedChannelWeight);

    // positional conv (weight norm folded by the binding): per group either the DFT form (posconv.ts) or one packed
    // GEMM weight
    const { groups: G, cg, kernel: Kw } = bound.pos;
    const size = posConvDftSize(cfg, posConvMethod);
    const posW: number[] = [];
    let dft: PosDft | null = null;
    if (size) {
      // the raw weight [D][cg·Kw] goes where the DFT form reads it, in linear memory: streamed from its stored form
      // (weight norm folded there) or copied from the binding's folded array
      const ps = bound.pos.stored;
      const fill = (dst: Float32Array) => {
        if (!ps) {
          dst.set(bound.pos.weight.subarray(0, dst.length));
          return;
        }
        const cols = ps.part.cols;
        eachF32(ps.part, 1, (W, r0) => {
          const at = dst.subarray(r0 * cols), rows = W.length / cols;
          if (!ps.roundQ8) return at.set(W);
          // rounded through int8 row by row, as the binding's eager path rounds the whole weight
          dequantizeRows(quantizeRows(W, rows, cols, q8Room(rows, cols)), rows, cols, at);
        });
        if (ps.g) foldWeightNormInPlace(ps.g, dst, cfg.hidden, cg, Kw);
      };
      dft = this.posConvDft(fill, G, cg, Kw, size);
      lap('positional conv DFT transform');
    } else {
      const Wpos = bound.pos.weight;
      for (let g = 0; g < G; g++) {
        const Wg = convToTimeMajor(Wpos.subarray(g * cg * cg * Kw, (g + 1) * cg * cg * Kw), cg, cg, Kw);
        lap('conv time-major reorder');
        posW.push(pack(Wg, cg, Kw * cg, null).w);
      }
    }
    this.pos = { w: posW, b: put(bound.pos.bias), cg, dft };
    this.encLn = ln(bound.encoderNorm);
    this.frontSteps = bound.frontSteps;
    this.relEmbed = own(bound.relEmbed);

    // The encoder layers' packed weights are most of a load's fresh memory, and first-touching fresh pages is most of
    // a load's cost: with a worker thread and a shared memory, a worker faults their pages in from the far end
    // (assembly/copy.ts mem_prefault) while this thread packs from the near end. Sized from the streamed weights
    // (an under-estimate only leaves pages for this thread to fault, as without the worker).
    const linearBytes = (d: Dense): number => {
      const kind = streamKind(d.stored);
      if (!kind) return 0; // packed from the binding's arrays: not read ahead of time (reading them would compute them)
      const bias = alignUp(d.rows * 4);
      return kind === 'q8'
        ? alignUp(Math.ceil(q8PackedBytes(d.rows, d.cols) / 4) * 4) + alignUp(q8ScaleFloats(d.rows) * 4) + bias
        : alignUp(packedFloats(d.rows, d.cols) * 4) + bias;
    };
    let prefault: Started | null = null;
    if (pool && pool.size > 1 && typeof SharedArrayBuffer !== 'undefined' && mem.memory.buffer instanceof SharedArrayBuffer) {
      let bytes = 0;
      for (const L of bound.layers) {
        for (const d of [L.attn?.qkv, L.attn?.out, L.ffn?.in, L.ffn?.out]) if (d) bytes += linearBytes(d);
      }
      if (bytes >= 8 << 20) {
        const start = mem.top, per = Math.ceil(bytes / (pool.size - 1) / 4096) * 4096;
        mem.ensure(start + bytes);
        const lists: Command[][] = [[]];
        for (let t = 1; t < pool.size && (t - 1) * per < bytes; t++) {
          lists.push([['mem_prefault', start + (t - 1) * per, Math.min(per, bytes - (t - 1) * per)]]);
        }
        prefault = pool.start(lists);
      }
    }
    try {
      for (const L of bound.layers) {
        const a = L.attn;
        this.layers.push({
          index: L.index, heads: L.plan.heads, qkDims: L.plan.qkDims, vDims: L.plan.vDims, ffn: L.plan.ffn,
          qkTotal: L.qkTotal, vTotal: L.vTotal, qOff: L.qOff, vOff: L.vOff,
          qkv: a ? linear(a.qkv) : null,
          out: a ? linear(a.out) : null,
          gru: a?.gru ? linear(a.gru) : null,
          gruConst: own(a?.gruConst ?? null),
          attnBias: put(L.attnBias),
          ln1: ln(L.norm1),
          ffn1: L.ffn ? linear(L.ffn.in) : null,
          ffn2: L.ffn ? linear(L.ffn.out) : null,
          ffnBias: put(L.ffnBias),
          ln2: ln(L.norm2),
          steps: L.steps,
        });
      }
    } finally {
      if (prefault) pool!.finish(prefault);
    }
    lap('pack');
    this.dtype = this.q8Uses.length ? 'q8' : 'f32';
  }

  /** C (+)= act(A·Wᵀ + bias) for M rows through one linear layer: the f32 packed GEMM or the int8 one. */
  private linear(L: Linear, M: number, A: number, lda: number, C: number, ldc: number, act: number, acc: number): void {
    if (!L.s) {
      this.exec.gemm(M, L.N, L.K, A, lda, L.w, C, ldc, L.b, act, acc);
      return;
    }
    const at = this.plan!.offsets;
    this.exec.gemmQ8(M, L.N, L.K, A, lda, L.w, L.s, C, ldc, L.b, act, acc, at.get('q8a')!, at.get('q8s')!);
  }

  /** Bytes of packed weights held in linear memory. */
  get weightBytes(): number {
    return this.mem.top - this.mem.base;
  }

  /** Plan (or reuse) the activation arena for inputs of up to `samples` samples (buffers from arena-layout.ts). */
  private ensurePlan(samples: number): ArenaPlan {
    const layout = arenaLayout(this.cfg, samples, { threads: this.threads, convBudgetFloats: this.convBudget, ...this.algorithms,
      q8: this.q8Uses }, this.k);
    // the conv chunking follows from this input's length alone (not from a longer earlier one's plan), so a run's
    // numbers never depend on what the model ran before (streamed windows equal the same windows extracted)
    if (this.plan && samples <= this.plannedSamples && layout.convChunk === this.convChunk) return this.plan;
    const plan = new ArenaPlan(this.mem.top);
    for (const [name, floats] of layout.buffers) plan.add(name, floats);
    this.convChunk = layout.convChunk;
    this.mem.ensure(plan.end);
    this.plan = plan;
    this.plannedSamples = samples;
    return plan;
  }

  /**
   * Run the model on 16 kHz mono samples; returns the requested hidden states, each [T][D]. A kernel that traps (a
   * slimwav bug) is reported as E_TRAP naming the block-plan step and layer it was running.
   */
  forward(wave: Float32Array, opts: ForwardOptions): { frames: number; layers: Float32Array[] } {
    const steps = this.start(wave, opts);
    try {
      for (;;) {
        const r = steps.next();
        if (r.done) return r.value;
      }
    } catch (err) {
      return this.rethrow(err);
    }
  }

  /**
   * forward() that awaits `between()` after the front end and after every encoder layer, so the event loop runs (a
   * timer, an AbortSignal, another task) while a long input is computed; `between` may throw to stop the run (abort).
   * The caller must not start another run on this engine until this one settles (Model queues its calls).
   */
  async forwardAsync(wave: Float32Array, opts: ForwardOptions, between: () => Promise<void>): Promise<{ frames: number; layers: Float32Array[] }> {
    const steps = this.start(wave, opts);
    for (;;) {
      let r: IteratorResult<void, { frames: number; layers: Float32Array[] }>;
      try {
        r = steps.next();
      } catch (err) {
        return this.rethrow(err);
      }
      if (r.done) return r.value;
      await between();
    }
  }

  private start(wave: Float32Array, opts: ForwardOptions): Generator<void, { frames: number; layers: Float32Array[] }, void> {
    const need = receptiveField(this.cfg);
    if (wave.length < need) {
      fail('E_AUDIO', `audio has ${wave.length} samples (${(wave.length / 16).toFixed(1)} ms); the model needs at least ${need} (${(need / 16).toFixed(1)} ms at 16 kHz) for one frame`);
    }
    this.atLayer = -1;
    this.atStep = 'setup';
    return this.run(wave, opts);
  }

  /** A kernel trap (a slimwav bug) as E_TRAP naming the block-plan step and layer it was running; others unchanged. */
  private rethrow(err: unknown): never {
    const trap = err instanceof WebAssembly.RuntimeError || (err instanceof SlimwavError && err.code === 'E_TRAP')
      || (err instanceof Error && !(err instanceof SlimwavError) && err.message.startsWith('slimwav kernel'));
    if (!trap) throw err;
    const s = this.atStep;
    const what = typeof s === 'string' ? s : `${this.atLayer >= 0 ? `layer ${this.atLayer} ` : ''}${stepName(s)}`;
    throw new SlimwavError('E_TRAP', `kernel trapped in ${what} (${(err as Error).message}); this is a slimwav bug, please report it`);
  }

  /** The forward pass as steps: it pauses (yields) after the front end and after each encoder layer. */
  private *run(wave: Float32Array, opts: ForwardOptions): Generator<void, { frames: number; layers: Float32Array[] }, void> {
    const cfg = this.cfg, k = this.k, mem = this.mem, D = cfg.hidden;
    const plan = this.ensurePlan(wave.length);
    const at = (n: string) => plan.offsets.get(n)!;
    const frames = convFrames(cfg, wave.length);
    const T = frames[frames.length - 1];
    const capture = opts.capture;
    const snap = (stage: string, ptr: number, rows: number, cols: number) => {
      if (capture) capture(stage, mem.f32(ptr, rows * cols).slice(), rows, cols);
    };

    // hidden states wanted, by index
    const want = new Map<number, number>();
    opts.layers.forEach((li, pos) => want.set(li, pos));
    const outputs: Float32Array[] = new Array(opts.layers.length);
    const emit = (index: number, ptr: number) => {
      const pos = want.get(index);
      if (pos !== undefined) outputs[pos] = mem.f32(ptr, T * D).slice();
      snap(`hidden.${index}`, ptr, T, D);
    };

    // the front end walks its block plan (arch/binding.ts frontSteps): waveform → hidden state 0
    const w = mem.f32(at('wave'), wave.length);
    w.set(wave);
    const convSteps = this.frontSteps.filter((st): st is ConvStep => st.op === 'conv');
    const x = at('x'), y = at('y');
    let src = at('wave'), cin = 1;
    for (const st of this.frontSteps) {
      this.atStep = frontStepName(st);
      switch (st.op) {
        case 'normalize': normalizeInPlace(w); break; // zero-mean / unit-variance, as the HF processor's do_normalize
        case 'conv': {
          // long inputs: the whole conv stack at its first step, in chunks of output frames
          if (this.convChunk > 0) {
            if (st === convSteps[0]) {
              src = this.convChunked(convSteps, frames, wave.length);
              cin = cfg.conv[cfg.conv.length - 1].dim;
            }
            break;
          }
          // ping-pong between convA and convB
          if (st.norm === 'group') this.foldGroupNorm0(wave.length, frames[0]);
          const i = st.layer, dst = i % 2 === 0 ? at('convA') : at('convB');
          this.convLayer(st, frames[i], cin, src, dst);
          snap(`conv.${i}`, dst, frames[i], cfg.conv[i].dim);
          src = dst;
          cin = cfg.conv[i].dim;
          break;
        }
        case 'scale': {
          const v = mem.f32(src, T * cin), d = this.dummy!;
          for (let t = 0; t < T; t++) for (let c = 0; c < cin; c++) v[t * cin + c] *= d[c];
          break;
        }
        case 'projNorm': {
          const projIn = this.convChunk > 0 ? at('projIn') : src === at('convA') ? at('convB') : at('convA');
          if (st.virtualZeros) {
            this.layerNormVirtualZeros(T, cin, cfg.featProjNormSize, src, projIn, this.projLn!);
          } else {
            k.f32_layernorm(T, cin, src, cin, projIn, cin, this.projLn![0], this.projLn![1], cfg.layerNormEps);
          }
          src = projIn;
          break;
        }
        case 'proj': {
          this.linear(this.proj, T, src, cin, x, D, 0, 0);
          if (st.prunedChannels) {
            // the pruned channels' LayerNorm outputs were shift_t·gamma_c + beta_c; beta is folded into the bias
            const u = this.prunedChannelWeight!, xv = mem.f32(x, T * D);
            for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) xv[t * D + d] += this.rowShift[t] * u[d];
          }
          snap('proj', x, T, D);
          break;
        }
        case 'posConv': {
          // x += GELU(conv(x)), group by group (groups spread over the threads): through the DFT, or as one GEMM over
          // a zero-padded copy of the group's columns
          const Kw = cfg.posConvKernel, pad = Math.floor(Kw / 2), cg = this.pos.cg, dft = this.pos.dft;
          const lists: Command[][] = Array.from({ length: this.threads }, () => []);
          for (let g = 0; g < cfg.posConvGroups; g++) {
            const t = g % this.threads, P = at(`pos.${t}`);
            if (dft) {
              lists[t].push(['f32_posconv_dft', T, cg, Kw, dft.N, dft.L, dft.NBp, x + g * cg * 4, D, dft.fwd, dft.inv, dft.H[g],
                this.pos.b + g * cg * 4, P]);
              continue;
            }
            lists[t].push(
              ['f32_fill', pad * cg, P, 0],
              ['f32_fill', pad * cg, P + (pad + T) * cg * 4, 0],
              ['f32_copy2d', T, cg, x + g * cg * 4, D, P + pad * cg * 4, cg],
              ['f32_gemm_packed', T, cg, Kw * cg, P, cg, this.pos.w[g], x + g * cg * 4, D, this.pos.b + g * cg * 4, GELU, 1],
            );
          }
          this.exec.runLists(lists);
          snap('posconv', x, T, D);
          break;
        }
        case 'norm': k.f32_layernorm(T, D, x, D, x, D, this.encLn[0], this.encLn[1], cfg.layerNormEps); break;
        case 'emit': emit(0, x); break;
        default: unknownStep('engine', st);
      }
    }
    yield;
    const lastWanted = Math.max(...opts.layers, capture ? cfg.numLayers : 0);

    // WavLM: relative-position bias vectors of every original head, computed once per call
    if (this.relEmbed) {
      const relb = mem.f32(at('relb'), cfg.numHeads * (2 * T - 1));
      for (let h = 0; h < cfg.numHeads; h++) {
        relativeBiasVector(this.relEmbed, cfg.numHeads, h, T, cfg.numBuckets, cfg.maxBucketDistance, relb.subarray(h * (2 * T - 1)));
      }
    }

    // encoder layers: each walks its block plan (arch/binding.ts layerSteps)
    const slot = (n: 'x' | 'y') => (n === 'x' ? x : y);
    for (let l = 0; l < cfg.numLayers && l < lastWanted; l++) {
      const W = this.layers[l];
      this.atLayer = l;
      for (const st of W.steps) {
        this.atStep = st;
        switch (st.op) {
          case 'norm': {
            const [g, b] = st.norm === 'norm1' ? W.ln1 : st.norm === 'norm2' ? W.ln2 : this.encLn;
            k.f32_layernorm(T, D, slot(st.from), D, slot(st.to), D, g, b, cfg.layerNormEps);
            break;
          }
          case 'attention': this.attention(W, slot(st.from), T, x); break;
          case 'attentionBias': k.f32_gemm_packed(T, D, 0, x, D, 0, x, D, W.attnBias, 0, 1); break;
          case 'ffn': {
            const h = at('h'), F = W.ffn, f1 = W.ffn1!, f2 = W.ffn2!;
            this.linear(f1, T, slot(st.from), D, h, F, GELU, 0);
            this.linear(f2, T, h, F, x, D, 0, 1);
            break;
          }
          case 'ffnBias': k.f32_gemm_packed(T, D, 0, x, D, 0, x, D, W.ffnBias, 0, 1); break;
          case 'emit': emit(l + 1, slot(st.from)); break;
          default: unknownStep('engine', st);
        }
      }
      if (l + 1 < cfg.numLayers && l + 1 < lastWanted) yield;
    }
    return { frames: T, layers: outputs };
  }

  /**
   * The conv stack over a long input, chunk by chunk of final frames, into convOut [T][C_last].
   * Layers only look at a bounded window, except layer 0's GroupNorm, whose per-channel statistics span the whole
   * input: foldGroupNorm0 gets them from the waveform alone, so every chunk's layer 0 is one fused GEMM + GELU.
   */
  private convChunked(steps: ConvStep[], frames: number[], samples: number): number {
    const cfg = this.cfg, plan = this.plan!;
    const at = (n: string) => plan.offsets.get(n)!;
    const T = frames[frames.length - 1], chunk = this.convChunk;
    const l0 = cfg.conv[0];
    if (steps[0].norm === 'group') this.foldGroupNorm0(samples, frames[0]);
    const cLast = cfg.conv[cfg.conv.length - 1].dim;
    for (let a = 0; a < T; a += chunk) {
      const b = Math.min(T, a + chunk);
      const ranges = convChunkRanges(cfg.conv, a, b);
      let src = at('wave') + ranges[0][0] * l0.stride * 4, cin = 1;
      for (const st of steps) {
        const i = st.layer, n = ranges[i][1] - ranges[i][0];
        const last = i === cfg.conv.length - 1;
        const dst = last ? at('convOut') + a * cLast * 4 : i % 2 === 0 ? at('convA') : at('convB');
        // within a chunk, layer i's rows start at the first frame this chunk needs, so A starts at row 0
        this.convLayer(st, n, cin, src, dst);
        src = dst;
        cin = cfg.conv[i].dim;
      }
    }
    return at('convOut');
  }

  /**
   * The positional conv's DFT form (assembly/posconv.ts): packed forward and inverse DFT matrices shared by all
   * groups, and per group H[o][c] = DFT of the reversed, zero-padded kernel W[o][c][Kw−1−m], computed here as one
   * GEMM of the raw weights [C·C][Kw] by a DFT matrix (the region above the weights serves as scratch).
   */
  private posConvDft(fill: (raw: Float32Array) => void, G: number, C: number, Kw: number, { N, L, NBp }: DftSize): PosDft {
    const mem = this.mem, W2 = 2 * NBp, NB = N / 2 + 1;
    // e^{-2πi·f·n/N} with the angle reduced exactly (n·f mod N), so quarter turns give exact 0 and ±1
    const cis = (f: number, n: number): [number, number] => {
      const r = (((f * n) % N) + N) % N;
      if (r === 0) return [1, 0];
      if (2 * r === N) return [-1, 0];
      if (4 * r === N) return [0, -1];
      if (4 * r === 3 * N) return [0, 1];
      const a = (2 * Math.PI * r) / N;
      return [Math.cos(a), -Math.sin(a)];
    };
    // rows f (re) and NBp + f (im) of a [W2][K] matrix from a per-(f, column) complex value; padding bins stay 0
    const spectral = (K: number, value: (f: number, j: number) => [number, number]): Float32Array => {
      const m = new Float32Array(W2 * K);
      for (let f = 0; f < NB; f++) {
        for (let j = 0; j < K; j++) {
          const [re, im] = value(f, j);
          m[f * K + j] = re;
          m[(NBp + f) * K + j] = im;
        }
      }
      return m;
    };
    const packed = (W: Float32Array, rows: number, K: number): number => {
      const p = mem.allocWeights(packedFloats(rows, K));
      packB(W, rows, K, mem.f32(p, packedFloats(rows, K)), K);
      return p;
    };
    // forward: X[f] = Σ_u p[u]·e^{-2πi f u/N}
    const fwd = packed(spectral(N, (f, u) => cis(f, u)), W2, N);
    // inverse, valid samples only: y[s] = z[s + Kw − 1] = (1/N) Σ_f w_f·(Re Z_f cos θ − Im Z_f sin θ), w = 1 at DC and
    // Nyquist, else 2; as a [L][W2] weight: column f holds w_f/N·cos θ, column NBp + f holds −w_f/N·sin θ
    const invW = new Float32Array(L * W2);
    for (let s = 0; s < L; s++) {
      for (let f = 0; f < NB; f++) {
        const w = (f === 0 || 2 * f === N ? 1 : 2) / N;
        const [c, ms] = cis(f, s + Kw - 1); // (cos θ, −sin θ)
        invW[s * W2 + f] = w * c;
        invW[s * W2 + NBp + f] = w * ms;
      }
    }
    const inv = packed(invW, L, W2);
    // H of all groups in one block, [G·C·C][W2] (each group's C·C·W2 floats are a multiple of 64 bytes: W2 = 2·NBp)
    const H0 = mem.allocWeights(G * C * C * W2);
    const H = Array.from({ length: G }, (_, g) => H0 + g * C * C * W2 * 4);
    // H = raw weights [G·C·C][Kw] × the DFT of the reversed taps: one GEMM split across the threads (scratch above the
    // weights, overwritten later by the arena)
    const Dm = spectral(Kw, (f, j) => cis(f, Kw - 1 - j));
    const scratch = mem.top, raw = scratch + packedFloats(W2, Kw) * 4;
    mem.ensure(raw + G * C * C * Kw * 4);
    packB(Dm, W2, Kw, mem.f32(scratch, packedFloats(W2, Kw)), Kw);
    fill(mem.f32(raw, G * C * C * Kw));
    this.exec.gemm(G * C * C, W2, Kw, raw, Kw, scratch, H0, W2, 0, 0, 0);
    return { N, L, NBp, fwd, inv, H };
  }

  /**
   * Conv layer i over n output frames, src → dst, with its norm and GELU: conv 0 with a GroupNorm as one GEMM over
   * the weights foldGroupNorm0 made for this input; kernel-3 stride-2 layers as Winograd pairs split across the
   * threads; the others as one packed GEMM. A layer norm (layer-norm extractors) follows its conv.
   */
  private convLayer(st: ConvStep, n: number, cin: number, src: number, dst: number): void {
    const i = st.layer, l = this.cfg.conv[i], c = this.conv[i], w = c.wino;
    this.atStep = this.convNames[i];
    const at = (name: string) => this.plan!.offsets.get(name)!;
    const act = st.norm ? 0 : GELU;
    if (st.norm === 'group') {
      this.exec.gemm(n, l.dim, l.kernel, src, l.stride, at('conv0w'), dst, l.dim, at('conv0b'), GELU, 0);
      return;
    }
    if (w) {
      const pairs = Math.ceil(n / 2), T = Math.min(this.threads, pairs), per = Math.ceil(pairs / T);
      const lists: Command[][] = [];
      for (let t = 0; t < T; t++) {
        const p0 = t * per, p1 = Math.min(pairs, p0 + per);
        lists.push(p1 > p0 ? [['f32_conv_k3s2', p0, p1, n, cin, l.dim, src, w.m, w.e, w.o, c.b, dst, act, at(`wino.${t}`)]] : []);
      }
      this.exec.runLists(lists);
    } else if (c.s) {
      this.exec.gemmQ8(n, l.dim, l.kernel * cin, src, l.stride * cin, c.w, c.s, dst, l.dim, c.b, act, 0, at('q8a'), at('q8s'));
    } else {
      this.exec.gemm(n, l.dim, l.kernel * cin, src, l.stride * cin, c.w, dst, l.dim, c.b, act, 0);
    }
    if (st.norm === 'layer') {
      this.exec.layerNorm(n, l.dim, dst, dst, c.norm![0], c.norm![1], CONV_NORM_EPS);
      this.exec.gelu(n * l.dim, dst);
    }
  }

  /**
   * Conv layer 0's GroupNorm (per channel, over all n0 frames) folded into its weights for this input: the layer has
   * one input channel, so channel c's output is y_t = w_c·x_t + b_c over the K-sample windows x_t = wave[t·S ..], and
   * its mean and (biased) variance over t are w_c·μ + b_c and w_cᵀΣw_c, with μ and Σ the windows' mean and covariance
   * (two passes over the waveform in f64). Then W' = W·γ/σ and b' = (b − mean)·γ/σ + β go to conv0w / conv0b, and
   * the layer is one GEMM with GELU fused, whatever the input length (the chunked conv stack included).
   */
  private foldGroupNorm0(samples: number, n0: number): void {
    const l0 = this.cfg.conv[0], c0 = this.conv[0], plan = this.plan!, mem = this.mem;
    const at = (n: string) => plan.offsets.get(n)!;
    const K = l0.kernel, S = l0.stride, C = l0.dim;
    const x = mem.f32(at('wave'), samples);
    const mu = new Float64Array(K), cov = new Float64Array(K * K), d = new Float64Array(K);
    for (let t = 0; t < n0; t++) for (let j = 0; j < K; j++) mu[j] += x[t * S + j];
    for (let j = 0; j < K; j++) mu[j] /= n0;
    for (let t = 0; t < n0; t++) {
      const o = t * S;
      for (let j = 0; j < K; j++) d[j] = x[o + j] - mu[j];
      for (let j = 0; j < K; j++) {
        const dj = d[j];
        for (let i = j; i < K; i++) cov[j * K + i] += dj * d[i];
      }
    }
    const W = this.conv0Weights, Wf = new Float32Array(C * K), bias = mem.f32(at('conv0b'), C);
    const g = mem.f32(c0.norm![0], C), be = mem.f32(c0.norm![1], C);
    const cb = c0.b ? mem.f32(c0.b, C) : null;
    for (let c = 0; c < C; c++) {
      let mean = cb ? cb[c] : 0, v = 0;
      for (let j = 0; j < K; j++) {
        const wj = W[c * K + j];
        mean += wj * mu[j];
        v += wj * wj * cov[j * K + j];
        for (let i = j + 1; i < K; i++) v += 2 * wj * W[c * K + i] * cov[j * K + i];
      }
      const sc = g[c] / Math.sqrt(Math.max(v / n0, 0) + CONV_NORM_EPS);
      for (let j = 0; j < K; j++) Wf[c * K + j] = W[c * K + j] * sc;
      bias[c] = ((cb ? cb[c] : 0) - mean) * sc + be[c];
    }
    packB(Wf, C, K, mem.f32(at('conv0w'), packedFloats(C, K)), K);
  }

  /**
   * LayerNorm over `total` channels of which only the first `n` are stored, the rest being exact zeros (pruned
   * channels of the last conv layer): mean = Σx/total, var = (Σ(x−mean)² + (total−n)·mean²)/total.
   */
  private layerNormVirtualZeros(T: number, n: number, total: number, src: number, dst: number, [g, b]: [number, number]): void {
    const x = this.mem.f32(src, T * n), y = this.mem.f32(dst, T * n);
    const gamma = this.mem.f32(g, n), beta = this.mem.f32(b, n);
    const eps = this.cfg.layerNormEps;
    if (this.rowShift.length < T) this.rowShift = new Float32Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += x[t * n + c];
      const mean = s / total;
      let v = (total - n) * mean * mean;
      for (let c = 0; c < n; c++) v += (x[t * n + c] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / total + eps);
      for (let c = 0; c < n; c++) y[t * n + c] = (x[t * n + c] - mean) * inv * gamma[c] + beta[c];
      this.rowShift[t] = -mean * inv;
    }
  }

  /** Ragged multi-head attention of one layer; adds out_proj(heads) into the residual `res`. */
  private attention(W: PackedLayer, inp: number, T: number, res: number): void {
    const heads = W.heads, qk = W.qkDims, vd = W.vDims;
    const cfg = this.cfg, k = this.k, plan = this.plan!, D = cfg.hidden;
    const at = (n: string) => plan.offsets.get(n)!;
    const qkv = at('qkv'), o = at('o');
    const ld = 2 * W.qkTotal + W.vTotal;
    const qkv_ = W.qkv!;
    this.linear(qkv_, T, inp, D, qkv, ld, 0, 0);
    let gates = 0, relb = 0;
    if (W.gru && W.gruConst) {
      // the gate sees the attention input split into the original heads: [T·H][headDim] → [T·H][8]
      const H = cfg.numHeads;
      k.f32_gemm_packed(T * H, 8, cfg.headDim, inp, cfg.headDim, W.gru.w, at('gru'), 8, W.gru.b, 0, 0);
      const g = this.mem.f32(at('gates'), heads.length * T);
      wavlmGates(this.mem.f32(at('gru'), T * H * 8), T, H, W.gruConst, heads, g);
      gates = at('gates');
      relb = at('relb');
    }
    const scale = 1 / Math.sqrt(cfg.headDim);
    // heads to threads, largest first onto the least loaded thread (ragged heads differ in cost)
    const lists: Command[][] = Array.from({ length: this.threads }, () => []);
    const load = new Array(this.threads).fill(0);
    const order = heads.map((_, i) => i).sort((a, b) => qk[b] + vd[b] - (qk[a] + vd[a]));
    for (const i of order) {
      const t = load.indexOf(Math.min(...load));
      load[t] += qk[i] + vd[i] + 1;
      const h = heads[i], dq = qk[i], dv = vd[i];
      const qPtr = qkv + W.qOff[i] * 4;
      const kPtr = qkv + (W.qkTotal + W.qOff[i]) * 4;
      const vPtr = qkv + (2 * W.qkTotal + W.vOff[i]) * 4;
      const kt = at(`kt.${t}`);
      if (dq > 0) lists[t].push(['f32_transpose', T, dq, kPtr, ld, kt, T]);
      lists[t].push(['f32_attention', 0, T, T, dq, dv, qPtr, ld, kt, vPtr, ld, o + W.vOff[i] * 4, W.vTotal, scale,
        relb ? relb + h * (2 * T - 1) * 4 : 0, gates ? gates + i * T * 4 : 0, at(`s.${t}`)]);
    }
    this.exec.runLists(lists);
    const out = W.out!;
    this.linear(out, T, o, W.vTotal, res, D, 0, 1);
  }
}

export type { PosConvMethod } from './arena-layout.js';

/**
 * Milliseconds per load phase of the constructor, accumulated by name on the given clock (wall, or process CPU time):
 * bench/load.ts passes one to time a load; nothing else does.
 */
export interface LoadPhases {
  readonly clock: () => number;
  readonly ms: Map<string, number>;
}

/** Algorithm choices (all compute the same function; tests compare them). */
export interface Algorithms {
  posConv?: PosConvMethod;
  /**
   * What the quantizable linear layers (arch/binding.ts quantizable) compute in: 'auto' (default) as stored (int8
   * weights run the int8 GEMM), 'q8' quantizes f32 weights at load, 'f32' dequantizes int8 weights. Not an
   * algorithm choice like the others: q8 results differ from f32 by the quantization error.
   */
  dtype?: 'auto' | 'f32' | 'q8';
  /** kernel-3 stride-2 conv layers through Winograd F(2,2) on their even taps (default true) */
  winograd?: boolean;
}

/** The three packed weights of a Winograd conv layer: w0 + w2, [w0|w1], [w1|w2]. */
interface Wino {
  m: number;
  e: number;
  o: number;
}

type ConvStep = Extract<FrontStep, { op: 'conv' }>;

interface PosDft extends DftSize {
  fwd: number;
  inv: number;
  H: number[];
}

/** Bytes as int8 values (a view). */
function int8(bytes: Uint8Array): Int8Array {
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** (x − mean)/sqrt(var + 1e-7), the Hugging Face feature extractor's zero_mean_unit_var_norm (the pruner's too). */
export function normalizeInPlace(w: Float32Array): void {
  let mean = 0;
  for (let i = 0; i < w.length; i++) mean += w[i];
  mean /= w.length;
  let v = 0;
  for (let i = 0; i < w.length; i++) v += (w[i] - mean) ** 2;
  const inv = 1 / Math.sqrt(v / w.length + 1e-7);
  for (let i = 0; i < w.length; i++) w[i] = (w[i] - mean) * inv;
}
