/**
 * The activation arena's layout, written once: which buffers a run over `samples` samples needs and how many floats
 * each holds, from the config, the thread count, the algorithm choices and the kernels' own scratch sizes.
 * The engine lays these buffers out back to back above the packed weights (engine.ts ensurePlan), and the memory
 * estimate (budget.ts) sums the very same list, so the estimate cannot drift from what the engine allocates.
 * Pure: no memory is touched here.
 */
import { convFrames, type ModelConfig, type ConvLayer } from '../arch/config.js';
import { hasRelativeBias } from '../arch/binding.js';
import { alignUp } from './memory.js';
import { packedFloats } from './pack.js';
import { Q8_ROWS_PER_CALL } from './exec.js';

/**
 * Above this many floats in one conv activation buffer (16 MB), the conv stack runs in chunks of output frames so
 * that long inputs stay in bounded memory: conv layer 0 alone at 600 s would need 3.9 GB. 16 MB is about 2.5 s of
 * wav2vec2's conv layer 0 output; chunks that size cost nothing measurable (10 s, base shape, F32 and q8, 1 and 2
 * threads: within 1% of 96 MB chunks, BENCHMARKS.md "Peak memory, corrected") and keep a 10 s run's arena about 70 MB
 * smaller than 96 MB did.
 */
export const CONV_BUDGET_FLOATS = 4 << 20;

/** The kernels' own scratch sizes (the wasm exports provide them). */
export interface ScratchSizes {
  f32_attention_scratch_floats(T: number): number;
  f32_conv_k3s2_scratch_floats(Cin: number, Cout: number): number;
  f32_posconv_dft_scratch_floats(T: number, C: number, Kw: number, N: number, L: number, NBp: number): number;
  /** needed only with ArenaOptions.q8 */
  q8_packed_a_bytes?(M: number, K: number): number;
}

/** One int8 GEMM of the model: its rows are conv layer `conv`'s frames (-1: the T final frames), its reduction K. */
export interface Q8Use {
  conv: number;
  K: number;
}

/** How the positional conv runs: 'auto' takes the DFT form when it does under half the multiply-adds. */
export type PosConvMethod = 'auto' | 'direct' | 'dft';

export interface ArenaOptions {
  threads: number;
  /** floats one conv activation buffer may hold before the conv stack runs in chunks (default CONV_BUDGET_FLOATS) */
  convBudgetFloats?: number;
  posConv?: PosConvMethod;
  /** kernel-3 stride-2 conv layers through Winograd (default true) */
  winograd?: boolean;
  /** the int8 GEMMs (Engine.q8Uses): scratch for the quantized activations of the largest, at most Q8_ROWS_PER_CALL rows */
  q8?: readonly Q8Use[];
}

export interface ArenaLayout {
  /** [name, floats] in layout order */
  buffers: [string, number][];
  /** final conv frames per chunk, 0 = the conv stack runs over the whole input at once */
  convChunk: number;
}

export interface DftSize {
  /** window (transform) length, outputs per window (N − Kw + 1), bins stored per half (N/2 + 1 rounded up to 4) */
  N: number;
  L: number;
  NBp: number;
}

/**
 * The DFT window for a Kw-tap grouped conv of C channels per group: the N (even) with the fewest multiply-adds
 * per output frame — forward DFT (2·NBp·N·C per window), channel mixing (4·C²·NBp), inverse (C·2·NBp·L), over L
 * frames — or null when that is not under half the direct Kw·C² (always a size when forced).
 */
export function dftSize(Kw: number, C: number, force: boolean): DftSize | null {
  let best: (DftSize & { cost: number }) | null = null;
  for (let p = 3; p <= 14; p++) {
    for (const N of [1 << p, 3 << (p - 1)]) {
      if (N <= Kw) continue;
      const L = N - Kw + 1, NBp = Math.ceil((N / 2 + 1) / 4) * 4;
      const cost = (2 * NBp * N * C + 4 * C * C * NBp + C * 2 * NBp * L) / L;
      if (!best || cost < best.cost) best = { N, L, NBp, cost };
    }
  }
  if (!best || (!force && best.cost > 0.5 * Kw * C * C)) return null;
  return { N: best.N, L: best.L, NBp: best.NBp };
}

/** The positional conv's DFT size for this model and method, or null when it runs directly. */
export function posConvDftSize(cfg: ModelConfig, method: PosConvMethod = 'auto'): DftSize | null {
  return method === 'direct' ? null : dftSize(cfg.posConvKernel, cfg.hidden / cfg.posConvGroups, method === 'dft');
}

/** Whether conv layer `l` runs as Winograd F(2,2) pairs. */
export const isWinogradLayer = (l: ConvLayer, winograd = true) => winograd && l.kernel === 3 && l.stride === 2;

/** Frame ranges [from, to) of every conv layer's output needed for final frames [a, b). */
export function convChunkRanges(conv: readonly ConvLayer[], a: number, b: number): [number, number][] {
  const out: [number, number][] = new Array(conv.length);
  for (let i = conv.length - 1; i >= 0; i--) {
    out[i] = [a, b];
    a = a * conv[i].stride;
    b = (b - 1) * conv[i].stride + conv[i].kernel;
  }
  return out;
}

/** The buffers (and conv chunking) of a run over `samples` samples. */
export function arenaLayout(cfg: ModelConfig, samples: number, o: ArenaOptions, k: ScratchSizes): ArenaLayout {
  const D = cfg.hidden, conv = cfg.conv;
  const frames = convFrames(cfg, samples);
  const T = frames[frames.length - 1];
  const budget = o.convBudgetFloats ?? CONV_BUDGET_FLOATS;
  const buffers: [string, number][] = [];
  const add = (name: string, floats: number) => buffers.push([name, floats]);

  add('wave', samples);
  const convMax = Math.max(...conv.map((l, i) => frames[i] * l.dim));
  let convChunk = 0;
  if (convMax <= budget) {
    add('convA', convMax);
    add('convB', convMax);
  } else {
    // largest chunk of final frames (halving from T) whose every layer fits the budget
    const need = (chunk: number) => Math.max(...convChunkRanges(conv, 0, chunk).map((r, i) => (r[1] - r[0]) * conv[i].dim));
    let chunk = Math.max(1, T);
    while (chunk > 1 && need(chunk) > budget) chunk = Math.ceil(chunk / 2);
    convChunk = chunk;
    const cLast = conv[conv.length - 1].dim;
    add('convA', need(chunk));
    add('convB', need(chunk));
    add('convOut', T * cLast);
    add('projIn', T * cLast);
  }
  if (cfg.featExtractNorm === 'group') {
    add('conv0w', packedFloats(conv[0].dim, conv[0].kernel));
    add('conv0b', conv[0].dim);
  }

  let qkvMax = 0, vMax = 0, fMax = 0, dqMax = 0;
  for (const L of cfg.layers) {
    const qk = L.qkDims.reduce((a, x) => a + x, 0), v = L.vDims.reduce((a, x) => a + x, 0);
    qkvMax = Math.max(qkvMax, 2 * qk + v);
    vMax = Math.max(vMax, v);
    fMax = Math.max(fMax, L.ffn);
    for (const d of L.qkDims) dqMax = Math.max(dqMax, d);
  }
  add('x', T * D);
  add('y', T * D);
  add('qkv', T * qkvMax);
  add('o', T * vMax);

  // per thread: Winograd rows, positional conv scratch, transposed keys, attention blocks
  let wino = 0, cin = 1;
  for (const l of conv) {
    if (isWinogradLayer(l, o.winograd)) wino = Math.max(wino, k.f32_conv_k3s2_scratch_floats(cin, l.dim));
    cin = l.dim;
  }
  const cg = D / cfg.posConvGroups, Kw = cfg.posConvKernel, dft = posConvDftSize(cfg, o.posConv);
  const pos = dft ? k.f32_posconv_dft_scratch_floats(T, cg, Kw, dft.N, dft.L, dft.NBp) : (T + 2 * Math.floor(Kw / 2)) * cg;
  for (let t = 0; t < o.threads; t++) {
    if (wino) add(`wino.${t}`, wino);
    add(`pos.${t}`, pos);
    add(`kt.${t}`, dqMax * T);
    add(`s.${t}`, k.f32_attention_scratch_floats(T));
  }
  add('h', T * fMax);
  if (o.q8?.length) {
    const chunk = convChunk > 0 ? convChunkRanges(conv, 0, convChunk) : null;
    const rowsOf = (i: number) => Math.min(Q8_ROWS_PER_CALL, i < 0 ? T : chunk ? chunk[i][1] - chunk[i][0] : frames[i]);
    const bytesOf = k.q8_packed_a_bytes ?? (() => { throw new Error('arenaLayout: q8 GEMMs need q8_packed_a_bytes'); });
    let bytes = 0, rows = 0;
    for (const u of o.q8) {
      bytes = Math.max(bytes, bytesOf(rowsOf(u.conv), u.K));
      rows = Math.max(rows, rowsOf(u.conv));
    }
    add('q8a', Math.ceil(bytes / 4));
    add('q8s', rows);
  }
  if (hasRelativeBias(cfg)) {
    add('gru', T * cfg.numHeads * 8);
    add('relb', cfg.numHeads * (2 * T - 1));
    add('gates', cfg.numHeads * T);
  }
  return { buffers, convChunk };
}

/** Bytes the layout takes when laid out back to back from an aligned start (as ArenaPlan does). */
export function arenaLayoutBytes(layout: ArenaLayout): number {
  let b = 0;
  for (const [, floats] of layout.buffers) b += alignUp(Math.max(floats, 1) * 4);
  return b;
}
