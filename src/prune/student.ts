/**
 * The gated student (docs/pruner.md): the teacher's architecture with trainable F32 weights, gradient buffers and
 * gate values applied where compaction expects them, a forward pass that saves what its backward needs, and a
 * backward pass that accumulates weight and gate gradients. Built from the ops of ./ops.ts over one LinearMemory.
 *
 * Gate placement (the masked model of compact.ts `applyMasks`, exactly):
 *   conv channel      after GELU (for the last conv layer before feature_extractor.dummy_weight, when present)
 *   q/k dimension     on the q and k projection outputs (bias included), both
 *   v dimension       on the v projection output (bias included)
 *   head              on the head's attention output
 *   attention block   on out_proj's output, bias included (a block of bias only: on that bias)
 *   FFN unit          after GELU
 *   FFN block         on output_dense's output, bias included
 * The order of operations is the engine's (src/runtime/engine.ts); with all gates 1 the hidden states equal the
 * inference engine's up to rounding.
 *
 * Storage. All trainable tensors live in ONE flat f32 region (`flat`), gradients in a second region of the same
 * layout, each tensor at a 16-float aligned offset (q/k/v projections and their biases back to back, fused), so an
 * optimizer may treat the whole student as one vector; studentParamLayout (param-layout.ts) computes that layout
 * (`layout`) from the binding. Internal layouts that differ from Hugging Face's (`params()[i].layout`, converted back
 * by `tensors()`):
 *   - conv weights (feature extractor and the positional conv) are time-major [Cout][Kw][Cin/groups];
 *   - the positional conv is trained as its FOLDED weight (weight norm folded at load; `tensors()` writes
 *     encoder.pos_conv_embed.conv.weight, which checkTensors/compact/load accept);
 *   - a teacher whose last conv layer was already compacted (feat_proj_layer_norm_size > channels) gets its projection
 *     LayerNorm gamma/beta and projection weight padded with the virtual zero channels (gamma 1, beta 0, columns
 *     pruned_channel_weight / count), which is the same function; `tensors()` folds them back.
 *
 * Activations: forward(…) and each forwardLayer(l, …) keep what their backward needs until the next call of the
 * same function (per layer); one crop at a time, gradients accumulate across crops. Memory for activations is taken
 * from the LinearMemory on demand (reserve() up front to place it before other allocations).
 */
import { fail } from '../errors.js';
import { convFrames, parseConfig, type ModelConfig } from '../arch/config.js';
import { checkTensors } from '../arch/tensors.js';
import { bindWeights, TensorNames } from '../arch/binding.js';
import { relativeBucket } from '../arch/wavlm.js';
import { fromFloat32, type RawTensor } from '../format/tensor.js';
import { LinearMemory, alignUp } from '../runtime/memory.js';
import { Exec } from '../runtime/exec.js';
import { ThreadPool } from '../runtime/threads.js';
import { bestVariant, instantiateKernels, type KernelVariant } from '../runtime/wasm.js';
import { gateArrays, gatesToMasks as gatesToMasksCfg, type GateArrays } from './gates.js';
import type { KeepMasks } from './compact.js';
import { Ops, Workspace } from './ops.js';
import { LayerRoom, type LayerW } from './student-layer.js';
import { PosRoom, type PosW } from './student-pos.js';
import { FrontRoom, type ConvW } from './student-front.js';
import { studentParamLayout, type ParamBlock, type StudentParamLayout } from './param-layout.js';


/** Gate values (and gate gradients) in the shape of gates.ts GateArrays; all ones = the ungated model. */
export type GateValues = GateArrays;

/** Gate arrays of the right shapes for a config, every entry `fill` (1: ungated; 0: a zeroed gradient). */
export function gateValues(config: ModelConfig | Record<string, unknown>, fill = 1): GateValues {
  return gateArrays(asConfig(config), fill);
}

/** Binary gate values → compaction keep-masks (a unit is kept iff its gate is non-zero). */
export function gatesToMasks(config: ModelConfig | Record<string, unknown>, gates: GateValues): KeepMasks {
  return gatesToMasksCfg(asConfig(config), gates);
}

function asConfig(c: ModelConfig | Record<string, unknown>): ModelConfig {
  return 'layers' in c && 'conv' in c && Array.isArray((c as ModelConfig).layers) && (c as ModelConfig).raw !== undefined ? (c as ModelConfig) : parseConfig(c);
}

export interface StudentParam {
  /** Hugging Face name */
  name: string;
  /** internal shape (see layout) */
  shape: number[];
  size: number;
  /** byte offsets of the value and of its gradient */
  ptr: number;
  grad: number;
  /** 'hf' (Hugging Face layout), 'time-major' ([Cout][Kw][Cin]), or 'padded' (virtual zero channels appended) */
  layout: 'hf' | 'time-major' | 'padded';
}

/** Kernels, threads and memory for a student (and anything else sharing its memory). */
export interface TrainingRuntime {
  exec: Exec;
  mem: LinearMemory;
  pool: ThreadPool | null;
  threads: number;
  /** stop the worker threads */
  dispose(): void;
}

/** Instantiate the kernels (default: the fastest build, relaxed SIMD where available; shared memory + worker pool when threads > 1). */
export async function trainingRuntime(threads = 1, variant?: KernelVariant): Promise<TrainingRuntime> {
  const v = variant ?? bestVariant(threads > 1);
  const kk = await instantiateKernels(v);
  const pool = threads > 1 ? await ThreadPool.create(threads, kk.module, kk.memory, kk.exports) : null;
  const mem = new LinearMemory(kk.memory, kk.heapBase);
  return { exec: new Exec(kk.exports, pool), mem, pool, threads: pool ? pool.size : 1, dispose: () => pool?.terminate() };
}

export interface StudentForward {
  frames: number;
  /** the requested hidden states [T][D], in the order of `keep` (−1 = feature projection output) */
  hidden: Float32Array[];
}

export class Student {
  readonly config: ModelConfig;
  readonly ops: Ops;
  /** @internal (the parts' context) */
  readonly mem: LinearMemory;
  /** @internal */
  readonly D: number;
  private readonly entries: StudentParam[] = [];
  private readonly passthrough = new Map<string, RawTensor>();
  /** the flat parameter and gradient regions */
  readonly flat: { ptr: number; grad: number; size: number };
  /** where each trainable tensor sits in them (param-layout.ts) */
  readonly layout: StudentParamLayout;
  private readonly conv: ConvW[] = [];
  private readonly dummy: { w: number; g: number } | null;
  private readonly projLn: { g: number; b: number; gg: number; gb: number } | null;
  private readonly proj: { w: number; b: number; gw: number; gb: number };
  private readonly cIn: number; // stored channels of the last conv layer
  private readonly cTot: number; // LayerNorm width (≥ cIn: virtual zero channels)
  private readonly pos: PosW;
  /** @internal */
  readonly encLn: { g: number; b: number; gg: number; gb: number };
  /** @internal */
  readonly rel: { w: number; g: number } | null;
  private readonly layers: LayerW[] = [];
  /** the encoder layers' forward–backward pairs (student-layer.ts) */
  private readonly rooms: LayerRoom[] = [];
  private readonly ones: number;
  /** the conv stack + feature projection's forward–backward pair (student-front.ts) */
  private readonly frontRoom: FrontRoom;
  /** the positional conv's forward–backward pair (student-pos.ts) */
  private readonly posRoom: PosRoom;
  private scratchCap = 0;
  /** @internal */
  readonly scratch: Record<string, number> = {};
  private lastKeepMax = -2;
  private buckets = new Map<number, Int32Array>();

  private constructor(cfg: ModelConfig, tensors: Map<string, RawTensor>, exec: Exec, mem: LinearMemory) {
    this.config = cfg;
    this.mem = mem;
    this.ops = new Ops(exec, mem);
    const D = (this.D = cfg.hidden);
    const w = bindWeights(cfg, tensors, 'student');
    const N = TensorNames;

    // ---- the flat parameter and gradient regions, laid out by studentParamLayout (param-layout.ts)
    const layout = (this.layout = studentParamLayout(cfg, w));
    this.cIn = layout.cIn;
    this.cTot = layout.cTot;
    // everything else the teacher had (zero-sized tensors, weights of removed structures) is passed through
    for (const [n, t] of tensors) if (!layout.used.has(n)) this.passthrough.set(n, t);
    const total = layout.total;
    const W = mem.allocWeights(total), Gr = mem.allocWeights(total);
    this.flat = { ptr: W, grad: Gr, size: total };
    const wv = mem.f32(W, total);
    wv.fill(0);
    mem.f32(Gr, total).fill(0);
    const byName = new Map<string, ParamBlock>();
    for (const blk of layout.blocks) {
      const data = blk.values();
      if (data.length !== blk.size) fail('E_SHAPE', `student: tensor ${blk.name} has ${data.length} values, expected ${blk.size} (${blk.shape.join('×')})`);
      wv.set(data, blk.offset);
      byName.set(blk.name, blk);
      if (blk.size > 0) this.entries.push({ name: blk.name, shape: blk.shape, size: blk.size, ptr: W + blk.offset * 4, grad: Gr + blk.offset * 4, layout: blk.layout });
    }
    /** byte pointer of a block's values / gradient (0: the tensor has no block) */
    const at = (name: string) => { const blk = byName.get(name); return blk ? W + blk.offset * 4 : 0; };
    const gat = (name: string) => { const blk = byName.get(name); return blk ? Gr + blk.offset * 4 : 0; };
    const { cg, kernel: Kp } = w.pos;

    // ---- gate vectors and constants (not trainable)
    const gateFloats = cfg.conv.reduce((a, l) => a + alignUp(l.dim, 16), 0) + w.layers.reduce((a, L) => a + alignUp(L.rows, 16) + alignUp(L.vTotal, 16) + alignUp(L.plan.ffn, 16), 0);
    let gp = mem.allocWeights(Math.max(16, gateFloats));
    const gate = (n: number) => { const p = gp; gp += alignUp(n, 16) * 4; return p; };
    this.ones = mem.allocWeights(Math.max(16, cg, D));
    mem.f32(this.ones, Math.max(16, cg, D)).fill(1);

    const both = (name: string) => [at(name), gat(name)] as const;
    const normOf = (p: string) => {
      const [g, gg] = both(`${p}.weight`), [b, gb] = both(`${p}.bias`);
      return { g, b, gg, gb };
    };
    w.front.conv.forEach((c, i) => {
      const [cw, gw] = both(`${N.conv(i)}.weight`), [cb, gb] = both(`${N.conv(i)}.bias`), n = c.norm ? normOf(N.convNorm(i)) : null;
      this.conv.push({ w: cw, b: cb, norm: n ? [n.g, n.b] : null, gw, gb, gnorm: n ? [n.gg, n.gb] : null, z: gate(c.dim) });
    });
    this.dummy = w.front.dummy ? { w: at(N.dummy), g: gat(N.dummy) } : null;
    this.projLn = w.front.projNorm ? normOf(N.projNorm) : null;
    {
      const [pw, gw] = both(`${N.proj}.weight`), [pb, gb] = both(`${N.proj}.bias`);
      this.proj = { w: pw, b: pb, gw, gb };
    }
    {
      const [pw, gw] = both(`${N.posConv}.weight`), [pb, gb] = both(`${N.posConv}.bias`);
      this.pos = { w: pw, b: pb, gw, gb, cg, K: Kp, pad: Math.floor(Kp / 2) };
    }
    // the front end's block plan: up to the feature projection in the front room, from the positional conv on in the
    // positional one
    const split = w.frontSteps.findIndex((st) => st.op === 'posConv');
    this.posRoom = new PosRoom(this, this.pos, this.ones, w.frontSteps.slice(split));
    this.frontRoom = new FrontRoom(this, { conv: this.conv, dummy: this.dummy, projLn: this.projLn, proj: this.proj, cIn: this.cIn, cTot: this.cTot,
      steps: w.frontSteps.slice(0, split) });
    this.encLn = normOf(N.encoderNorm);
    this.rel = w.relEmbed ? { w: at(N.relEmbed), g: gat(N.relEmbed) } : null;
    w.layers.forEach((L, l) => {
      const qk = L.qkTotal, v = L.vTotal;
      const [qkv, gqkv] = both(`${N.q(l)}.weight`), [qkvB, gqkvB] = both(`${N.q(l)}.bias`);
      const [out, gout] = both(`${N.out(l)}.weight`), [outB, goutB] = both(`${N.out(l)}.bias`);
      const [gru, ggru] = both(`${N.gru(l)}.weight`), [gruB, ggruB] = both(`${N.gru(l)}.bias`), [gruC, ggruC] = both(N.gruConst(l));
      const [ffn1, gffn1] = both(`${N.ffn1(l)}.weight`), [ffn1B, gffn1B] = both(`${N.ffn1(l)}.bias`);
      const [ffn2, gffn2] = both(`${N.ffn2(l)}.weight`), [ffn2B, gffn2B] = both(`${N.ffn2(l)}.bias`);
      const n1 = normOf(N.norm1(l)), n2 = normOf(N.norm2(l));
      this.layers.push({
        nh: L.plan.heads.length, qk, v, ld: 2 * qk + v, qOff: L.qOff, vOff: L.vOff, steps: L.steps,
        qkv, qkvB, gqkv, gqkvB, out, outB, gout, goutB, gru, gruB, gruC, ggru, ggruB, ggruC,
        ln1: [n1.g, n1.b], gln1: [n1.gg, n1.gb],
        F: L.plan.ffn, ffn1, ffn1B, ffn2, ffn2B, gffn1, gffn1B, gffn2, gffn2B,
        ln2: [n2.g, n2.b], gln2: [n2.gg, n2.gb],
        zqkv: gate(2 * qk + v), zo: gate(v), zf: gate(L.plan.ffn),
      });
    });
    this.layers.forEach((W, l) => this.rooms.push(new LayerRoom(this, l, W)));
  }

  /**
   * A student from a teacher's config and tensors (dense or pruned; HF names; weight norm folded here). `exec` and
   * `mem` are the kernels/threads and memory it runs on (see trainingRuntime()).
   */
  static create(configJson: Record<string, unknown>, tensors: Map<string, RawTensor>, exec: Exec, mem: LinearMemory): Student {
    const cfg = parseConfig(configJson, 'student');
    checkTensors(cfg, tensors, 'student');
    return new Student(cfg, tensors, exec, mem);
  }

  /** Every trainable tensor: name, internal shape/layout, byte offsets of its values and its gradient. */
  params(): StudentParam[] {
    return this.entries.map((e) => ({ ...e, shape: [...e.shape] }));
  }

  /** Zero every gradient. */
  zeroGrad(): void {
    this.ops.fill(this.flat.size, this.flat.grad);
  }

  /** Frames for `samples` samples (0 below the receptive field). */
  frames(samples: number): number {
    const f = convFrames(this.config, samples);
    return f[f.length - 1];
  }

  /** Hidden size D. */
  get hidden(): number {
    return this.D;
  }

  /** The current weights as Hugging Face tensors (F32), ready for compact()/checkpoints/buildModel(). */
  tensors(): Map<string, RawTensor> {
    const cfg = this.config, D = this.D;
    const out = new Map<string, RawTensor>(this.passthrough);
    const view = (e: StudentParam) => this.mem.f32(e.ptr, e.size).slice();
    const byName = new Map(this.entries.map((e) => [e.name, e]));
    const nv = this.cTot - this.cIn;
    for (const e of this.entries) {
      const data = view(e);
      if (e.layout === 'time-major') {
        const [co, kw, ci] = e.shape;
        out.set(e.name, fromFloat32(fromTimeMajor(data, co, ci, kw), [co, ci, kw]));
      } else if (e.layout === 'padded') {
        if (e.name === `${TensorNames.proj}.weight`) {
          const w = new Float32Array(D * this.cIn), u = new Float64Array(D), bAdd = new Float64Array(D);
          const g = this.projLn ? this.mem.f32(this.projLn.g, this.cTot) : null;
          const b = this.projLn ? this.mem.f32(this.projLn.b, this.cTot) : null;
          for (let d = 0; d < D; d++) {
            w.set(data.subarray(d * this.cTot, d * this.cTot + this.cIn), d * this.cIn);
            for (let v = 0; v < nv; v++) {
              const c = this.cIn + v, col = data[d * this.cTot + c];
              u[d] += col * (g ? g[c] : 1);
              bAdd[d] += col * (b ? b[c] : 0);
            }
          }
          out.set(e.name, fromFloat32(w, [D, this.cIn]));
          out.set(TensorNames.prunedChannelWeight, fromFloat32(Float32Array.from(u), [D]));
          const pb = view(byName.get(`${TensorNames.proj}.bias`)!);
          out.set(`${TensorNames.proj}.bias`, fromFloat32(Float32Array.from(pb, (x, d) => x + bAdd[d]), [D]));
        } else {
          out.set(e.name, fromFloat32(data.slice(0, this.cIn), [this.cIn]));
        }
      } else if (!(nv > 0 && e.name === `${TensorNames.proj}.bias`)) {
        out.set(e.name, fromFloat32(data, e.shape));
      }
    }
    return out;
  }

  /** WavLM: the relative position bias vectors of every original head [H][2T−1] from the current embedding. */
  relativeBias(T: number): Float32Array | null {
    if (!this.rel) return null;
    const H = this.config.numHeads, n = 2 * T - 1;
    const out = new Float32Array(H * n);
    const e = this.mem.f32(this.rel.w, this.config.numBuckets * H);
    const bk = this.bucketTable(T);
    for (let h = 0; h < H; h++) for (let d = 0; d < n; d++) out[h * n + d] = e[bk[d] * H + h];
    return out;
  }

  private bucketTable(T: number): Int32Array {
    let b = this.buckets.get(T);
    if (!b) {
      b = new Int32Array(2 * T - 1);
      for (let d = 0; d < 2 * T - 1; d++) b[d] = relativeBucket(d - T + 1, this.config.numBuckets, this.config.maxBucketDistance);
      this.buckets.set(T, b);
    }
    return b;
  }

  // ------------------------------------------------------------------------------------------------------------
  // memory
  // ------------------------------------------------------------------------------------------------------------

  /**
   * Allocate training memory for crops of up to `samples` samples now (otherwise it happens on first use): every
   * part's saved activations and the backward scratch, from the ops' Workspace (one mechanism; the ops' own scratch
   * grows there on first use). A fresh student takes exactly memoryPlan(samples) bytes for it.
   */
  reserve(samples: number): void {
    this.frontRoom.buffers(samples);
    const T = this.frames(samples);
    this.posRoom.buffers(T);
    for (const r of this.rooms) r.buffers(T);
    this.ensureScratch(T);
  }

  /** Bytes reserve(samples) takes on a fresh student: each part's activation group and the scratch group. */
  memoryPlan(samples: number): number {
    const T = this.frames(samples);
    const groups = [this.frontRoom.sizes(samples), this.posRoom.sizes(T), ...this.rooms.map((r) => r.sizes(T)), this.scratchSizes(T)];
    return groups.reduce((a, g) => a + Workspace.bytes(g), 0);
  }

  /**
   * The buffers of one part (front, positional conv, a layer) as a group of the Workspace: laid out by an ArenaPlan
   * as the engine lays out its arena, allocated as one block; a size of 0 gives pointer 0 (absent).
   */
  /** @internal */
  planBuffers<K extends string>(group: string, sizes: Record<K, number>): Record<K, number> {
    return this.ops.ws.plan(`student.${group}`, sizes);
  }

  /** Sizes (floats) of the backward scratch shared by all parts, for T frames. */
  private scratchSizes(T: number): Record<string, number> {
    const cfg = this.config, D = this.D, TD = T * D;
    let ld = 1, v = 1, F = 1, nh = 1;
    for (const W of this.layers) { ld = Math.max(ld, W.ld); v = Math.max(v, W.v); F = Math.max(F, W.F); nh = Math.max(nh, W.nh); }
    let cmax = 1;
    for (const l of cfg.conv) cmax = Math.max(cmax, l.dim);
    return {
      d1: TD, d2: TD, d3: TD, d4: TD, dqkv: T * ld, dO: T * v, dH: T * F, dgates: nh * T, drelb: cfg.numHeads * (2 * T - 1),
      vec: Math.max(D, ld, F, v, 16), vec2: Math.max(D, ld, F, v, 16), cvec: Math.max(cmax, this.cTot),
      dpad: (T + 2 * this.pos.pad) * this.pos.cg,
      // the gradient ping-pong of backward() and the layer-wise functions' inputs
      g0: TD, g1: TD, posIn: TD,
    };
  }

  /** Backward scratch shared by all parts, sized for T frames (a group of the Workspace, planned again when T grows). */
  /** @internal */
  ensureScratch(T: number): void {
    if (this.scratchCap >= T) return;
    Object.assign(this.scratch, this.ops.ws.plan('student.scratch', this.scratchSizes(T)));
    this.scratchCap = T;
  }

  // ------------------------------------------------------------------------------------------------------------
  // gates
  // ------------------------------------------------------------------------------------------------------------

  private checkGates(g: GateValues): void {
    const cfg = this.config;
    const bad = (what: string) => fail('E_ARGS', `student: gate values: ${what}`);
    if (!g || g.conv?.length !== cfg.conv.length) bad(`need ${cfg.conv.length} conv arrays`);
    cfg.conv.forEach((l, i) => { if (g.conv[i].length !== l.dim) bad(`conv ${i} has ${g.conv[i].length} values, expected ${l.dim}`); });
    if (g.heads.length !== cfg.numLayers || g.qk.length !== cfg.numLayers || g.v.length !== cfg.numLayers || g.ffn.length !== cfg.numLayers) bad(`need one array per layer (${cfg.numLayers})`);
    if (g.attn.length !== cfg.numLayers || g.ffnBlock.length !== cfg.numLayers) bad(`attn/ffnBlock need ${cfg.numLayers} values`);
    this.layers.forEach((W, l) => {
      if (g.heads[l].length !== W.nh || g.qk[l].length !== W.qk || g.v[l].length !== W.v || g.ffn[l].length !== W.F) bad(`layer ${l} arrays have the wrong lengths`);
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // front: waveform → conv stack → feature projection
  // ------------------------------------------------------------------------------------------------------------

  // ------------------------------------------------------------------------------------------------------------
  // positional conv (+ encoder LayerNorm for post-LN): projection output → hidden state 0
  // ------------------------------------------------------------------------------------------------------------

  // ------------------------------------------------------------------------------------------------------------
  // encoder layer
  // ------------------------------------------------------------------------------------------------------------

  /** @internal */
  scatterRelb(T: number, heads: number[], drelb: number): void {
    const H = this.config.numHeads, n = 2 * T - 1;
    const bk = this.bucketTable(T);
    const d = this.mem.f32(drelb, H * n), g = this.mem.f32(this.rel!.g, this.config.numBuckets * H);
    for (const h of heads) for (let j = 0; j < n; j++) g[bk[j] * H + h] += d[h * n + j];
  }

  // ------------------------------------------------------------------------------------------------------------
  // public passes
  // ------------------------------------------------------------------------------------------------------------

  /**
   * Full forward on one crop. `keep` lists the hidden states wanted (HF numbering 0..L, and −1 for the feature
   * projection output); layers past the largest index are not run. Saves every activation backward() needs.
   */
  forward(wave: Float32Array, gates: GateValues, keep: number[]): StudentForward {
    const cfg = this.config, D = this.D;
    for (const i of keep) if (!Number.isInteger(i) || i < -1 || i > cfg.numLayers) fail('E_ARGS', `student: hidden state index ${i} is outside −1..${cfg.numLayers}`);
    this.checkGates(gates);
    const T = this.frontRoom.forward(wave, gates);
    const maxKeep = Math.max(-1, ...keep);
    const hidden: Float32Array[] = new Array(keep.length);
    const emit = (idx: number, ptr: number) => keep.forEach((k, j) => { if (k === idx) hidden[j] = this.mem.f32(ptr, T * D).slice(); });
    emit(-1, this.frontRoom.act!.proj);
    if (maxKeep >= 0) {
      let x = this.posRoom.forward(this.frontRoom.act!.proj, T);
      emit(0, x);
      for (let l = 0; l < maxKeep; l++) {
        x = this.rooms[l].forward(x, T, gates, null);
        emit(l + 1, x);
      }
    }
    this.lastKeepMax = maxKeep;
    this.lastKeep = [...keep];
    return { frames: T, hidden };
  }

  private lastKeep: number[] = [];

  /**
   * Backward of the last forward(): dHidden[i] = ∂loss/∂hidden[keep[i]] (null/undefined = 0). Weight gradients
   * accumulate into the gradient region, gate gradients into `gateGrad`.
   */
  backward(dHidden: (Float32Array | null | undefined)[], gateGrad: GateValues): void {
    const D = this.D, ops = this.ops;
    const front = this.frontRoom.act;
    if (this.lastKeepMax < -1 || !front || front.n === 0) fail('E_ARGS', 'student: backward without a forward');
    if (dHidden.length !== this.lastKeep.length) fail('E_ARGS', `student: ${dHidden.length} gradients for ${this.lastKeep.length} hidden states`);
    this.checkGates(gateGrad);
    const T = this.frames(front.n), TD = T * D;
    const addGrad = (idx: number, ptr: number) => {
      this.lastKeep.forEach((k, j) => {
        const g = dHidden[j];
        if (k !== idx || !g) return;
        if (g.length !== TD) fail('E_ARGS', `student: gradient of hidden state ${k} has ${g.length} values, expected ${TD}`);
        const v = this.mem.f32(ptr, TD);
        for (let i = 0; i < TD; i++) v[i] += g[i];
      });
    };
    // two ping-pong buffers outside the layer scratch
    const { g0, g1 } = this.scratch;
    let cur = g0, nxt = g1;
    const maxKeep = this.lastKeepMax;
    if (maxKeep >= 0) {
      ops.fill(TD, cur);
      addGrad(maxKeep, cur);
      for (let l = maxKeep - 1; l >= 0; l--) {
        this.rooms[l].backward(cur, nxt, gateGrad);
        [cur, nxt] = [nxt, cur];
        addGrad(l, cur);
      }
      this.posRoom.backward(cur, nxt);
      [cur, nxt] = [nxt, cur];
    } else {
      ops.fill(TD, cur);
    }
    addGrad(-1, cur);
    this.frontRoom.backward(cur, gateGrad);
  }

  /** Layer-wise mode: conv stack + feature projection on one crop → the projection output [T][D]. */
  forwardFront(wave: Float32Array, gates: GateValues): Float32Array {
    this.checkGates(gates);
    const T = this.frontRoom.forward(wave, gates);
    return this.mem.f32(this.frontRoom.act!.proj, T * this.D).slice();
  }

  /** Backward of forwardFront from ∂loss/∂projection output. */
  backwardFront(dProj: Float32Array, gateGrad: GateValues): void {
    const front = this.frontRoom.act;
    if (!front || front.n === 0) fail('E_ARGS', 'student: backwardFront without forwardFront');
    this.checkGates(gateGrad);
    const TD = this.frames(front.n) * this.D;
    if (dProj.length !== TD) fail('E_ARGS', `student: dProj has ${dProj.length} values, expected ${TD}`);
    const p = this.scratch.g0;
    this.mem.f32(p, TD).set(dProj);
    this.frontRoom.backward(p, gateGrad);
  }

  /** The positional conv (+ encoder LayerNorm for post-LN): projection output [T][D] → hidden state 0. */
  forwardPos(proj: Float32Array): Float32Array {
    const D = this.D, T = proj.length / D;
    if (!Number.isInteger(T) || T < 1) fail('E_ARGS', `student: projection output of ${proj.length} values is not [T][${D}]`);
    this.posRoom.buffers(T); // plans the scratch for T frames first, so posIn stays where it is
    const src = this.scratch.posIn;
    this.mem.f32(src, T * D).set(proj);
    const h0 = this.posRoom.forward(src, T);
    return this.mem.f32(h0, T * D).slice();
  }

  /** Backward of forwardPos: returns ∂loss/∂projection output. */
  backwardPos(dHidden0: Float32Array): Float32Array {
    const a = this.posRoom.act;
    if (!a || a.T === 0) fail('E_ARGS', 'student: backwardPos without forwardPos');
    const TD = a.T * this.D;
    if (dHidden0.length !== TD) fail('E_ARGS', `student: dHidden0 has ${dHidden0.length} values, expected ${TD}`);
    const { g0: d, g1: out } = this.scratch;
    this.mem.f32(d, TD).set(dHidden0);
    this.posRoom.backward(d, out);
    return this.mem.f32(out, TD).slice();
  }

  /**
   * Layer-wise mode: encoder layer l on its input [T][D] (hidden state l) → its output (hidden state l + 1, with the
   * final LayerNorm for the last pre-LN layer). WavLM: `relBias` [H][2T−1] is the relative position bias (e.g.
   * relativeBias(T) of a teacher) taken as a constant; without it the student's own rel_attn_embed is used and
   * receives gradients.
   */
  forwardLayer(l: number, xIn: Float32Array, gates: GateValues, relBias?: Float32Array | null): Float32Array {
    const D = this.D, T = xIn.length / D;
    if (!Number.isInteger(l) || l < 0 || l >= this.config.numLayers) fail('E_ARGS', `student: layer ${l} is outside 0..${this.config.numLayers - 1}`);
    if (!Number.isInteger(T) || T < 1) fail('E_ARGS', `student: layer input of ${xIn.length} values is not [T][${D}]`);
    this.checkGates(gates);
    const a = this.rooms[l].buffers(T);
    this.mem.f32(a.xin, T * D).set(xIn);
    const out = this.rooms[l].forward(a.xin, T, gates, relBias ?? null);
    return this.mem.f32(out, T * D).slice();
  }

  /** Backward of forwardLayer(l): accumulates weight and gate gradients, returns ∂loss/∂input. */
  backwardLayer(l: number, dOut: Float32Array, gateGrad: GateValues): Float32Array {
    const a = this.rooms[l].act;
    if (!a || a.T === 0) fail('E_ARGS', `student: backwardLayer(${l}) without forwardLayer(${l})`);
    this.checkGates(gateGrad);
    const TD = a.T * this.D;
    if (dOut.length !== TD) fail('E_ARGS', `student: dOut has ${dOut.length} values, expected ${TD}`);
    const { g0: d, g1: out } = this.scratch;
    this.mem.f32(d, TD).set(dOut);
    this.rooms[l].backward(d, out, gateGrad);
    return this.mem.f32(out, TD).slice();
  }
}

/** time-major [Cout][Kw][Cin] → PyTorch [Cout][Cin][Kw] */
function fromTimeMajor(W: Float32Array, cout: number, cin: number, kw: number): Float32Array {
  const out = new Float32Array(W.length);
  for (let o = 0; o < cout; o++) for (let j = 0; j < kw; j++) for (let i = 0; i < cin; i++) out[(o * cin + i) * kw + j] = W[(o * kw + j) * cin + i];
  return out;
}
