/**
 * Forward and backward of every operation the pruner's student needs, over linear memory: pointers are byte offsets,
 * sizes and strides are element counts, data is f32, layouts time-major ([T][C] row-major) as in the engine.
 *
 * Conventions of every `xxxBackward`:
 *   - parameter gradients are ACCUMULATED (+=) into the given buffers (pointer 0 = not wanted);
 *   - the input gradient is written, or added when `accX` is true (pointer 0 = not wanted);
 *   - gradients of scalars (block gates) are returned.
 * Weights are in PyTorch layout W [N][K] (out × in) for linears; a conv weight is time-major [Cout][Kw][Cin] so that
 * the Kw·Cin inputs of one output frame are contiguous (implicit im2col, see engine.ts).
 *
 * Matrix products go through the existing packed GEMM (split across threads by Exec):
 *   Y = X·Wᵀ + b       f32_pack_b(W) then f32_gemm_packed
 *   dX = dY·W          f32_pack_rows(W as a row-major [N][K] B) then f32_gemm_packed
 *   dW += dYᵀ·X        f32_transpose(dY) as A, f32_pack_rows(X) as B (also for the implicit im2col of a conv, whose
 *                      overlapping rows pack_rows reads in place), f32_gemm_packed accumulating
 *   conv dX            the column buffer [Tout][Kw·Cin] = dY·W, then f32_col2im_add
 * Attention heads (small T×T products) use f32_gemm with row-major B and are spread over threads by head.
 * Scratch buffers come from the Workspace (training memory: the student's activations and scratch too), which
 * allocates from the model's LinearMemory and only ever grows (a larger request re-allocates; the old block is not
 * reused), so pointers handed out stay valid until the same name is requested larger.
 */
import type { Command } from '../runtime/threads.js';
import type { Exec } from '../runtime/exec.js';
import { ArenaPlan, type LinearMemory } from '../runtime/memory.js';
import type { KernelExports } from '../runtime/wasm.js';

/** Elementwise/row work below this many floats stays on the calling thread. */
const SPLIT_MIN = 1 << 15;

/**
 * Training memory, one mechanism for all of it: named groups of buffers, each laid out by an ArenaPlan (as the
 * engine lays out its arena) and allocated as one block of the LinearMemory. The student's saved activations (one
 * group per part: front, positional conv, each layer), its backward scratch (one group sized for the crop's frames)
 * and the ops' own scratch (a group of one buffer per name) all come from here, so `bytes` is every byte training
 * took after the weights, gates and optimiser state. A group asked for with a larger size is planned again (the
 * element-wise larger sizes; contents lost, the old block not reused), so pointers stay valid until then; a size of
 * 0 gives pointer 0 (absent).
 */
export class Workspace {
  private readonly mem: LinearMemory;
  private readonly groups = new Map<string, { sizes: Record<string, number>; ptrs: Record<string, number> }>();
  private handed = 0;
  constructor(mem: LinearMemory) {
    this.mem = mem;
  }

  /** Bytes a first plan() of these sizes takes. */
  static bytes(sizes: Record<string, number>): number {
    const plan = new ArenaPlan(0);
    for (const k of Object.keys(sizes)) if (sizes[k] > 0) plan.add(k, Math.max(4, sizes[k]));
    return plan.end;
  }

  /** Bytes handed out so far. */
  get bytes(): number {
    return this.handed;
  }

  /** The buffers of group `name`, each of at least its size in floats. */
  plan<K extends string>(name: string, sizes: Record<K, number>): Record<K, number> {
    const keys = Object.keys(sizes) as K[];
    const have = this.groups.get(name);
    const fits = have && keys.every((k) => sizes[k] <= 0 || (have.sizes[k] ?? 0) >= sizes[k]);
    if (!fits) {
      const want: Record<string, number> = { ...(have?.sizes ?? {}) };
      for (const k of keys) want[k] = Math.max(want[k] ?? 0, sizes[k]);
      const start = this.mem.top, plan = new ArenaPlan(start), ptrs: Record<string, number> = {};
      for (const k of Object.keys(want)) ptrs[k] = want[k] > 0 ? plan.add(k, Math.max(4, want[k])) : 0;
      this.mem.allocWeights((plan.end - start) / 4);
      this.handed += this.mem.top - start;
      this.groups.set(name, { sizes: want, ptrs });
    }
    const g = this.groups.get(name)!, out = {} as Record<K, number>;
    for (const k of keys) out[k] = sizes[k] > 0 ? g.ptrs[k] : 0;
    return out;
  }

  /** One buffer of at least `floats` f32 under `name` (a group of one; grown by at least a quarter when it must grow). */
  get(name: string, floats: number): number {
    const have = this.groups.get(name)?.sizes.b ?? 0, need = Math.max(1, floats);
    return this.plan(name, { b: have >= need ? need : Math.max(need, 4, Math.ceil(have * 1.25)) }).b;
  }
}

export interface AttentionHead {
  /** q/k width (0 allowed: all scores 0) and value width (≥ 1) */
  dq: number;
  dv: number;
  /** Q and K column slices (row stride ldqk), V slice (row stride ldv) */
  Q: number;
  K: number;
  ldqk: number;
  V: number;
  ldv: number;
  /** output slice [T][dv], row stride ldo */
  O: number;
  ldo: number;
  /** saved probabilities [T][T] (written by forward, read by backward) */
  P: number;
  /** WavLM: position bias vector [2T−1] of this head and per-query gate [T] (0 = none) */
  relb: number;
  gate: number;
}

export interface AttentionHeadGrads {
  /** dQ, dK slices (row stride lddqk), dV slice (row stride lddv): written */
  dQ: number;
  dK: number;
  lddqk: number;
  dV: number;
  lddv: number;
  /** dO slice read (row stride lddo) */
  dO: number;
  lddo: number;
  /** d relb [2T−1] and d gate [T]: accumulated (0 = skip) */
  drelb: number;
  dgate: number;
}

export interface DistillResult {
  loss: number;
  l1: number;
  cos: number;
}

export class Ops {
  readonly exec: Exec;
  readonly k: KernelExports;
  readonly mem: LinearMemory;
  readonly threads: number;
  readonly ws: Workspace;

  constructor(exec: Exec, mem: LinearMemory) {
    this.exec = exec;
    this.k = exec.k;
    this.mem = mem;
    this.threads = exec.threads;
    this.ws = new Workspace(mem);
  }

  // --- thread helpers -------------------------------------------------------------------------------------------

  /** [start, end) ranges of `n` items (multiples of `align`) per thread, or one range when small. */
  private ranges(n: number, work: number, align = 1): [number, number][] {
    const T = this.threads;
    if (T === 1 || work < SPLIT_MIN || n < 2 * align) return [[0, n]];
    const per = Math.ceil(n / T / align) * align;
    const out: [number, number][] = [];
    for (let t = 0; t < T; t++) {
      const a = t * per, b = Math.min(n, a + per);
      if (b > a) out.push([a, b]);
    }
    return out;
  }

  private run(lists: Command[][]): void {
    if (lists.length === 1) {
      const k = this.k as unknown as Record<string, (...a: number[]) => void>;
      for (const [name, ...args] of lists[0]) k[name](...args);
      return;
    }
    this.exec.runLists(lists);
  }

  /** Column sums into `out` [N] (accumulated), split by rows with per-thread partials. mul: Σ A⊙B instead. */
  private colReduce(M: number, N: number, A: number, lda: number, B: number, ldb: number, out: number): void {
    if (N === 0 || M === 0) return;
    const r = this.ranges(M, M * N, 4);
    if (r.length === 1) {
      if (B) this.k.f32_colsum_mul(M, N, A, lda, B, ldb, out, 1);
      else this.k.f32_colsum(M, N, A, lda, out, 1);
      return;
    }
    const part = this.ws.get('colReduce', N * r.length);
    this.run(r.map(([a, b], t) => {
      const dst = t === 0 ? out : part + t * N * 4;
      const acc = t === 0 ? 1 : 0;
      const cmd: Command = B
        ? ['f32_colsum_mul', b - a, N, A + a * lda * 4, lda, B + a * ldb * 4, ldb, dst, acc]
        : ['f32_colsum', b - a, N, A + a * lda * 4, lda, dst, acc];
      return [cmd];
    }));
    for (let t = 1; t < r.length; t++) this.k.f32_add(N, out, part + t * N * 4, out);
  }

  /** out [N] += Σ_m A[m][·] */
  colsum(M: number, N: number, A: number, lda: number, out: number): void {
    this.colReduce(M, N, A, lda, 0, 0, out);
  }

  /** out [N] += Σ_m A[m][·]⊙B[m][·] */
  colsumMul(M: number, N: number, A: number, lda: number, B: number, ldb: number, out: number): void {
    this.colReduce(M, N, A, lda, B, ldb, out);
  }

  /** W [N][K] → packed panels of Wᵀ (f32_pack_b), split by panels. */
  packB(N: number, K: number, W: number, Bp: number): void {
    const np = Math.ceil(N / 8);
    this.run(this.ranges(np, N * K).map(([a, b]) => [['f32_pack_b', Math.min(N, b * 8) - a * 8, K, W + a * 8 * K * 4, Bp + a * K * 32] as Command]));
  }

  /** Row-major B [K][N] (row stride ldb) → packed panels (f32_pack_rows), split by panels. */
  packRows(K: number, N: number, B: number, ldb: number, Bp: number): void {
    const np = Math.ceil(N / 8);
    this.run(this.ranges(np, N * K).map(([a, b]) => [['f32_pack_rows', K, Math.min(N, b * 8) - a * 8, B + a * 32, ldb, Bp + a * K * 32] as Command]));
  }

  /** dst [C][R] = src [R][C]ᵀ, split by rows of src. */
  transpose(R: number, C: number, src: number, lds: number, dst: number, ldd: number): void {
    this.run(this.ranges(R, R * C, 4).map(([a, b]) => [['f32_transpose', b - a, C, src + a * lds * 4, lds, dst + a * 4, ldd] as Command]));
  }

  /** Z = X + Y over n floats. */
  add(n: number, X: number, Y: number, Z: number): void {
    this.run(this.ranges(n, n, 4).map(([a, b]) => [['f32_add', b - a, X + a * 4, Y + a * 4, Z + a * 4] as Command]));
  }

  /** Y += a·X over n floats. */
  axpy(n: number, a: number, X: number, Y: number): void {
    this.run(this.ranges(n, n, 4).map(([s, e]) => [['f32_axpy', e - s, a, X + s * 4, Y + s * 4] as Command]));
  }

  /** Σ X·Y over n floats (in f64 over blocks). */
  dot(n: number, X: number, Y: number): number {
    let s = 0;
    for (let i = 0; i < n; i += 65536) s += this.k.f32_dot(Math.min(65536, n - i), X + i * 4, Y + i * 4);
    return s;
  }

  fill(n: number, X: number, v = 0): void {
    this.run(this.ranges(n, n, 4).map(([a, b]) => [['f32_fill', b - a, X + a * 4, v] as Command]));
  }

  copy2d(R: number, C: number, src: number, lds: number, dst: number, ldd: number): void {
    this.run(this.ranges(R, R * C).map(([a, b]) => [['f32_copy2d', b - a, C, src + a * lds * 4, lds, dst + a * ldd * 4, ldd] as Command]));
  }

  /** AdamW step over n parameters (PyTorch semantics; step t ≥ 1 gives the bias corrections). */
  adamw(n: number, p: number, g: number, m: number, v: number, t: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number): void {
    const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
    this.run(this.ranges(n, n, 4).map(([a, b]) => [['f32_adamw', b - a, p + a * 4, g + a * 4, m + a * 4, v + a * 4, lr, beta1, beta2, eps, weightDecay, bc1, bc2] as Command]));
  }

  // --- linear ---------------------------------------------------------------------------------------------------

  /** Y [M][N] (+)= X [M][K] · Wᵀ + b, W [N][K]. */
  linearForward(M: number, N: number, K: number, X: number, ldx: number, W: number, b: number, Y: number, ldy: number, acc = false): void {
    if (M === 0 || N === 0) return;
    const Bp = this.ws.get('packF', Math.ceil(N / 8) * 8 * K);
    this.packB(N, K, W, Bp);
    this.exec.gemm(M, N, K, X, ldx, Bp, Y, ldy, b, 0, acc ? 1 : 0);
  }

  /**
   * Backward of linearForward: dW [N][K] += dYᵀ·X, db [N] += Σ dY, dX [M][K] (+)= dY·W. X may be an implicit im2col
   * (ldx < K, rows overlapping).
   */
  linearBackward(M: number, N: number, K: number, X: number, ldx: number, W: number, dY: number, ldy: number,
    dX: number, lddx: number, dW: number, db: number, accX = false): void {
    if (M === 0 || N === 0) {
      if (dX && !accX && K > 0) for (let m = 0; m < M; m++) this.k.f32_fill(K, dX + m * lddx * 4, 0);
      return;
    }
    if (db) this.colsum(M, N, dY, ldy, db);
    if (dW && K > 0) {
      const At = this.ws.get('dyT', N * M);
      this.transpose(M, N, dY, ldy, At, M);
      const Bp = this.ws.get('packX', Math.ceil(K / 8) * 8 * M);
      this.packRows(M, K, X, ldx, Bp);
      this.exec.gemm(N, K, M, At, M, Bp, dW, K, 0, 0, 1);
    }
    if (dX && K > 0) {
      const Bp = this.ws.get('packW', Math.ceil(K / 8) * 8 * N);
      this.packRows(N, K, W, K, Bp);
      this.exec.gemm(M, K, N, dY, ldy, Bp, dX, lddx, 0, 0, accX ? 1 : 0);
    }
  }

  // --- conv1d (time-major, no padding: callers pad) -------------------------------------------------------------

  /** Y [Tout][Cout] = conv(X [Tin][Cin]) + b; W time-major [Cout][Kw][Cin]; Tout ≤ (Tin − Kw)/S + 1. */
  conv1dForward(Tout: number, Cout: number, Cin: number, Kw: number, S: number, X: number, W: number, b: number, Y: number, ldy = Cout): void {
    this.linearForward(Tout, Cout, Kw * Cin, X, S * Cin, W, b, Y, ldy);
  }

  /** Backward of conv1dForward: dW, db accumulated; dX [Tin][Cin] written (accX: added), via a column buffer. */
  conv1dBackward(Tout: number, Tin: number, Cout: number, Cin: number, Kw: number, S: number, X: number, W: number,
    dY: number, ldy: number, dX: number, dW: number, db: number, accX = false): void {
    const KC = Kw * Cin;
    this.linearBackward(Tout, Cout, KC, X, S * Cin, W, dY, ldy, 0, 0, dW, db);
    if (!dX) return;
    if (!accX) this.fill(Tin * Cin, dX);
    // column buffer in chunks of output frames, so its size stays bounded for long conv inputs
    const chunk = Math.max(1, Math.min(Tout, Math.floor((4 << 20) / Math.max(1, KC))));
    const cols = this.ws.get('cols', chunk * KC);
    const Bp = this.ws.get('packW', Math.ceil(KC / 8) * 8 * Cout);
    this.packRows(Cout, KC, W, KC, Bp);
    for (let t0 = 0; t0 < Tout; t0 += chunk) {
      const n = Math.min(chunk, Tout - t0);
      this.exec.gemm(n, KC, Cout, dY + t0 * ldy * 4, ldy, Bp, cols, KC, 0, 0, 0);
      this.k.f32_col2im_add(n, S, Kw, Cin, cols, dX + t0 * S * Cin * 4);
    }
  }

  // --- normalisations -------------------------------------------------------------------------------------------

  layerNormForward(M: number, N: number, X: number, Y: number, g: number, b: number, eps: number): void {
    this.exec.layerNorm(M, N, X, Y, g, b, eps);
  }

  /** dX (+)= …, dg/db += … (rows contiguous, width N). Split by rows with per-thread dg/db partials. */
  layerNormBackward(M: number, N: number, X: number, dY: number, g: number, dX: number, dg: number, db: number, eps: number, accX = false): void {
    const r = this.ranges(M, M * N);
    if (r.length === 1) {
      this.k.f32_layernorm_backward(M, N, X, N, dY, N, g, dX, N, dg, db, eps, accX ? 1 : 0);
      return;
    }
    const part = this.ws.get('lnPart', 2 * N * r.length);
    this.fill(2 * N * r.length, part);
    this.run(r.map(([a, b], t) => {
      const pg = t === 0 ? dg : dg ? part + 2 * t * N * 4 : 0;
      const pb = t === 0 ? db : db ? part + (2 * t + 1) * N * 4 : 0;
      return [['f32_layernorm_backward', b - a, N, X + a * N * 4, N, dY + a * N * 4, N, g, dX ? dX + a * N * 4 : 0, N, pg, pb, eps, accX ? 1 : 0] as Command];
    }));
    for (let t = 1; t < r.length; t++) {
      if (dg) this.k.f32_add(N, dg, part + 2 * t * N * 4, dg);
      if (db) this.k.f32_add(N, db, part + (2 * t + 1) * N * 4, db);
    }
  }

  /** Y [T][C] = GroupNorm over time of X (each channel over its T frames); Y may equal X. */
  groupNormTimeForward(T: number, C: number, X: number, Y: number, g: number, b: number, eps: number): void {
    if (Y !== X) this.copy2d(T, C, X, C, Y, C);
    this.k.f32_groupnorm_time(T, C, Y, g, b, eps, this.ws.get('gnScratch', 2 * C));
  }

  /** dX written, or added with accX (dX may equal dY only without accX). */
  groupNormTimeBackward(T: number, C: number, X: number, dY: number, g: number, dX: number, dg: number, db: number, eps: number, accX = false): void {
    const scratch = this.ws.get('gnScratch', 4 * C);
    if (!accX) {
      this.k.f32_groupnorm_time_backward(T, C, X, dY, g, dX, dg, db, eps, scratch);
      return;
    }
    const tmp = this.ws.get('gnTmp', T * C);
    this.k.f32_groupnorm_time_backward(T, C, X, dY, g, tmp, dg, db, eps, scratch);
    this.add(T * C, dX, tmp, dX);
  }

  // --- activations and gates ------------------------------------------------------------------------------------

  geluForward(n: number, X: number, Y: number): void {
    this.run(this.ranges(n, n, 4).map(([a, b]) => [['f32_gelu', b - a, X + a * 4, Y + a * 4] as Command]));
  }

  /** dX (+)= dY·GELU′(X) */
  geluBackward(n: number, X: number, dY: number, dX: number, accX = false): void {
    this.run(this.ranges(n, n, 4).map(([a, b]) => [['f32_gelu_backward', b - a, X + a * 4, dY + a * 4, dX + a * 4, accX ? 1 : 0] as Command]));
  }

  /** Y [M][N] = X ⊙ z[col] (Y may equal X). */
  mulColsForward(M: number, N: number, X: number, ldx: number, z: number, Y: number, ldy: number): void {
    this.run(this.ranges(M, M * N).map(([a, b]) => [['f32_mul_cols', b - a, N, X + a * ldx * 4, ldx, z, Y + a * ldy * 4, ldy] as Command]));
  }

  /** dz [N] += Σ_m dY⊙X; dX (+)= dY ⊙ z (0 = skip; dX may equal dY without accX). */
  mulColsBackward(M: number, N: number, X: number, ldx: number, z: number, dY: number, ldy: number, dX: number, lddx: number, dz: number, accX = false): void {
    if (dz) this.colsumMul(M, N, dY, ldy, X, ldx, dz);
    if (dX) this.run(this.ranges(M, M * N).map(([a, b]) => [[accX ? 'f32_mul_cols_add' : 'f32_mul_cols', b - a, N, dY + a * ldy * 4, ldy, z, dX + a * lddx * 4, lddx] as Command]));
  }

  /** Z = X + s·Y over n floats (the gated residual add; Z may equal X). */
  residualForward(n: number, X: number, Y: number, s: number, Z: number): void {
    if (Z !== X) this.copy2d(1, n, X, n, Z, n);
    this.axpy(n, s, Y, Z);
  }

  /** Backward of residualForward: dX (+)= dZ (skipped when dX == dZ), dY (+)= s·dZ; returns ds = Σ dZ·Y. */
  residualBackward(n: number, Y: number, s: number, dZ: number, dX: number, dY: number, accX = false, accY = false, wantDs = true): number {
    const ds = wantDs ? this.dot(n, dZ, Y) : 0;
    if (dX && dX !== dZ) {
      if (accX) this.add(n, dX, dZ, dX);
      else this.copy2d(1, n, dZ, n, dX, n);
    }
    if (dY) {
      if (!accY) this.fill(n, dY);
      this.axpy(n, s, dZ, dY);
    }
    return ds;
  }

  // --- attention (one head per call; many heads spread over threads) --------------------------------------------

  /** Scratch floats one thread needs for heads of widths ≤ maxWidth over T frames. */
  static headScratchFloats(T: number, maxWidth: number): number {
    return T * T + 4 + 6 * (Math.max(1, maxWidth) * T + 4);
  }

  private headScratch(t: number, T: number, maxWidth: number): number {
    return this.ws.get(`head.${t}`, Ops.headScratchFloats(T, maxWidth));
  }

  /** The kernel calls of one head's forward (scratch: headScratchFloats). */
  static headForwardCommands(T: number, h: AttentionHead, scale: number, scratch: number): Command[] {
    const cmds: Command[] = [];
    const Kt = scratch + (T * T + 4) * 4;
    if (h.dq > 0) {
      cmds.push(['f32_transpose', T, h.dq, h.K, h.ldqk, Kt, T]);
      cmds.push(['f32_gemm', T, T, h.dq, h.Q, h.ldqk, Kt, T, h.P, T, 0, 0, 0]);
    } else {
      cmds.push(['f32_fill', T * T, h.P, 0]);
    }
    cmds.push(['f32_attn_logits', T, h.P, T, scale, h.relb, h.gate]);
    cmds.push(['f32_softmax_rows', T, T, h.P, T]);
    cmds.push(['f32_gemm', T, h.dv, T, h.P, T, h.V, h.ldv, h.O, h.ldo, 0, 0, 0]);
    return cmds;
  }

  /** The kernel calls of one head's backward (P must hold the forward's probabilities; it is left intact). */
  static headBackwardCommands(T: number, h: AttentionHead, d: AttentionHeadGrads, scale: number, maxWidth: number, scratch: number): Command[] {
    const w = Math.max(1, maxWidth) * T + 4;
    const dP = scratch, b0 = scratch + (T * T + 4) * 4;
    const Vt = b0, dOt = b0 + w * 4, dVt = b0 + 2 * w * 4, Qt = b0 + 3 * w * 4, dKt = b0 + 4 * w * 4;
    const cmds: Command[] = [
      // dP = dO·Vᵀ
      ['f32_transpose', T, h.dv, h.V, h.ldv, Vt, T],
      ['f32_gemm', T, T, h.dv, d.dO, d.lddo, Vt, T, dP, T, 0, 0, 0],
      // dVᵀ = dOᵀ·P
      ['f32_transpose', T, h.dv, d.dO, d.lddo, dOt, T],
      ['f32_gemm', h.dv, T, T, dOt, T, h.P, T, dVt, T, 0, 0, 0],
      ['f32_transpose', h.dv, T, dVt, T, d.dV, d.lddv],
      // dS = P ⊙ (dP − rowsum(dP ⊙ P)); position-bias and gate gradients; dS ·= scale
      ['f32_softmax_rows_backward', T, T, h.P, T, dP, T],
      ['f32_attn_logits_backward', T, dP, T, scale, h.relb, h.gate, h.relb ? d.drelb : 0, h.relb && h.gate ? d.dgate : 0],
    ];
    if (h.dq > 0) {
      cmds.push(
        // dQ = dS·K, dKᵀ = Qᵀ·dS
        ['f32_gemm', T, h.dq, T, dP, T, h.K, h.ldqk, d.dQ, d.lddqk, 0, 0, 0],
        ['f32_transpose', T, h.dq, h.Q, h.ldqk, Qt, T],
        ['f32_gemm', h.dq, T, T, Qt, T, dP, T, dKt, T, 0, 0, 0],
        ['f32_transpose', h.dq, T, dKt, T, d.dK, d.lddqk],
      );
    }
    return cmds;
  }

  /** Heads to threads, widest first onto the least loaded thread. */
  private assign(heads: { dq: number; dv: number }[]): number[][] {
    const T = this.threads;
    const lists: number[][] = Array.from({ length: T }, () => []);
    const load = new Array(T).fill(0);
    const order = heads.map((_, i) => i).sort((a, b) => heads[b].dq + heads[b].dv - (heads[a].dq + heads[a].dv));
    for (const i of order) {
      const t = load.indexOf(Math.min(...load));
      load[t] += heads[i].dq + heads[i].dv + 1;
      lists[t].push(i);
    }
    return lists;
  }

  /** Forward of several heads (e.g. one layer's), spread over threads. */
  attentionForward(T: number, heads: AttentionHead[], scale: number): void {
    if (heads.length === 0 || T === 0) return;
    const maxW = Math.max(...heads.map((h) => Math.max(h.dq, h.dv)));
    const assign = this.assign(heads);
    const scratch = assign.map((_, t) => this.headScratch(t, T, maxW));
    this.run(assign.map((idx, t) => idx.flatMap((i) => Ops.headForwardCommands(T, heads[i], scale, scratch[t]))));
  }

  /** Backward of attentionForward (grads[i] belongs to heads[i]; heads must not share drelb/dgate across threads). */
  attentionBackward(T: number, heads: AttentionHead[], grads: AttentionHeadGrads[], scale: number): void {
    if (heads.length === 0 || T === 0) return;
    const maxW = Math.max(...heads.map((h) => Math.max(h.dq, h.dv)));
    // heads sharing a drelb/dgate buffer would race: keep them on one thread
    const shared = new Set<number>();
    const seen = new Set<number>();
    for (const g of grads) for (const p of [g.drelb, g.dgate]) if (p) { if (seen.has(p)) shared.add(p); seen.add(p); }
    const assign = shared.size > 0 ? [heads.map((_, i) => i)] : this.assign(heads);
    const scratch = assign.map((_, t) => this.headScratch(t, T, maxW));
    this.run(assign.map((idx, t) => idx.flatMap((i) => Ops.headBackwardCommands(T, heads[i], grads[i], scale, maxW, scratch[t]))));
  }

  // --- WavLM gated relative position bias -----------------------------------------------------------------------

  /**
   * Per-query gates of the kept heads: proj [T·H][8] = gru_rel_pos_linear over the attention input X [T][H·hd] split
   * into the H original heads (saved for backward), then gate[k][i] = a·(b·c_h − 1) + 2 with a, b the sigmoids of the
   * two 4-sums, h = heads[k]. W [8][hd], b [8], constH [H] pointers; gates [heads.length][T].
   */
  wavlmGateForward(T: number, H: number, hd: number, X: number, W: number, b: number, constH: number, heads: number[], proj: number, gates: number): void {
    this.linearForward(T * H, 8, hd, X, hd, W, b, proj, 8);
    const p = this.mem.f32(proj, T * H * 8);
    const c = this.mem.f32(constH, H);
    const g = this.mem.f32(gates, heads.length * T);
    heads.forEach((h, k) => {
      for (let i = 0; i < T; i++) {
        const r = (i * H + h) * 8;
        const a = sigmoid(p[r] + p[r + 1] + p[r + 2] + p[r + 3]);
        const bb = sigmoid(p[r + 4] + p[r + 5] + p[r + 6] + p[r + 7]);
        g[k * T + i] = a * (bb * c[h] - 1) + 2;
      }
    });
  }

  /** Backward of wavlmGateForward from dGates [heads.length][T]: dX (+)= …, dW, db, dConst [H] accumulated. */
  wavlmGateBackward(T: number, H: number, hd: number, X: number, W: number, constH: number, heads: number[], proj: number,
    dGates: number, dX: number, dW: number, db: number, dConst: number, accX = true): void {
    const dp = this.ws.get('gruGrad', T * H * 8);
    {
      const p = this.mem.f32(proj, T * H * 8);
      const c = this.mem.f32(constH, H);
      const dg = this.mem.f32(dGates, heads.length * T);
      const d = this.mem.f32(dp, T * H * 8);
      const dc = dConst ? this.mem.f32(dConst, H) : null;
      d.fill(0);
      heads.forEach((h, k) => {
        let sc = 0;
        for (let i = 0; i < T; i++) {
          const r = (i * H + h) * 8;
          const a = sigmoid(p[r] + p[r + 1] + p[r + 2] + p[r + 3]);
          const bb = sigmoid(p[r + 4] + p[r + 5] + p[r + 6] + p[r + 7]);
          const gi = dg[k * T + i];
          const da = gi * (bb * c[h] - 1) * a * (1 - a);
          const dbb = gi * a * c[h] * bb * (1 - bb);
          sc += gi * a * bb;
          for (let j = 0; j < 4; j++) {
            d[r + j] = da;
            d[r + 4 + j] = dbb;
          }
        }
        if (dc) dc[h] += sc;
      });
    }
    this.linearBackward(T * H, 8, hd, X, hd, W, dp, 8, dX, hd, dW, db, accX);
  }
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * The distillation loss of one hidden state (DPHuBERT): l1Weight·mean|s − t| − cosWeight·mean_frames cos(s_t, t_t),
 * s and t [T][D]. With `grad`, ∂loss/∂s is written into it (or added, `accumulate`), scaled by `scale` (e.g. 1/batch).
 * Norms are clamped at 1e-8 as in torch.nn.functional.cosine_similarity; sums in f64.
 */
export function distillLoss(s: ArrayLike<number>, t: ArrayLike<number>, T: number, D: number, grad?: Float32Array | Float64Array,
  opts: { l1Weight?: number; cosWeight?: number; accumulate?: boolean; scale?: number } = {}): DistillResult {
  const wl = opts.l1Weight ?? 1, wc = opts.cosWeight ?? 1, sc = opts.scale ?? 1;
  if (s.length < T * D || t.length < T * D) throw new Error(`distillLoss: arrays shorter than T·D = ${T * D}`);
  let l1 = 0, cosSum = 0;
  if (grad && !opts.accumulate) grad.fill(0, 0, T * D);
  const gl = (wl * sc) / (T * D), gc = (wc * sc) / T;
  for (let f = 0; f < T; f++) {
    let ss = 0, tt = 0, st = 0;
    const o = f * D;
    for (let d = 0; d < D; d++) {
      const a = s[o + d], b = t[o + d];
      l1 += Math.abs(a - b);
      ss += a * a;
      tt += b * b;
      st += a * b;
    }
    const ns = Math.max(Math.sqrt(ss), 1e-8), nt = Math.max(Math.sqrt(tt), 1e-8);
    const cos = st / (ns * nt);
    cosSum += cos;
    if (grad) {
      for (let d = 0; d < D; d++) {
        const a = s[o + d], b = t[o + d];
        const dcos = b / (ns * nt) - (cos * a) / (ns * ns);
        grad[o + d] += gl * Math.sign(a - b) - gc * dcos;
      }
    }
  }
  const l1m = l1 / (T * D), cosm = cosSum / T;
  return { loss: wl * l1m - wc * cosm, l1: l1m, cos: cosm };
}
