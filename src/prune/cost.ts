/**
 * Latency cost model of slimwav's runtime (docs/pruner.md, "Cost model"): the predicted time of a layout from
 * per-structure times measured by the kernels on this machine, as a differentiable function of the gates' keep
 * probabilities (what `prune --target-speedup` constrains).
 *
 * Per structure, at the frame count T of a reference clip, one thread:
 *   - GEMM (M×K)·(K×N), the packed kernel: t = g0 + g1·Mᵣ·P(N)·K + g2·Mᵣ·P(N) + g3·M·K + g4·M·N·[GELU], with Mᵣ = M
 *     rounded up to the MR-row register tile (6 rows in the relaxed-SIMD builds, 4 otherwise) and P(N) = 8·⌈N/8⌉
 *     (the 8-column panels): a width that fills its last panel costs no more than one that does not; g3 is packing
 *     A (or reading it strided). Products narrower than 6 panels (N ≤ 40) take the kernel's unpacked path, with their
 *     own g1 (g5). In the differentiable form ⌈N/8⌉ is interpolated piecewise linearly between the integer
 *     widths (it rises by one over [8k, 8k+1] and is flat over [8k+1, 8k+8]), so it equals the staircase at every
 *     integer width; a GEMM's K (the reduction) costs linearly.
 *   - one attention head (transpose of K, scores, softmax, values): t = a0 + T²·(a1 + a2·dq + a3·R(dv)) + a4·T·dq,
 *     R(dv) = dv rounded up to the MR-row tile (the value columns are the row tiles of the value product).
 *   - a kernel-3 stride-2 conv layer (the Winograd path): t = w0 + w1·n·P(Cout)·Cin + w2·n·Cout; other conv layers
 *     are GEMMs (K = kernel·Cin); a layer-norm conv stack adds LayerNorm and GELU per element (e1 per element).
 *   - what no gate changes (positional conv, the layers' LayerNorms, the engine's own overhead): one constant,
 *     `fixed`. It and a scale on every coefficient come from two whole models timed in the same run, the dense
 *     model and a reduced layout of it (calibrateTwoPoint).
 * The coefficients are least-squares fits to best-of-N timings of a few shapes derived from the model (a few
 * seconds in all); the table is cached as JSON (never downloaded) under the OS cache folder, keyed by the kernel
 * build and the shapes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { convFrames, parseConfig, type ModelConfig } from '../arch/config.js';
import { benchMasks } from '../arch/bench-layout.js';
import type { ModelFiles } from '../arch/model-files.js';
import { buildModel, type Model } from '../model-core.js';
import { compact } from './compact.js';
import { fail } from '../errors.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { fnv1a32 } from '../util/hash.js';
import { bestVariant, isRelaxedVariant } from '../runtime/wasm.js';
import { trainingRuntime, type TrainingRuntime } from './student.js';
import { gateArrays, type GateArrays } from './gates.js';

export interface CostTable {
  version: 1;
  /** the kernel build and machine the table was measured with */
  key: string;
  /** reference clip length (seconds of 16 kHz audio) the model's times are for */
  seconds: number;
  /** register-tile rows of the kernel build (MR) */
  mr: number;
  /** GEMM [g0, g1, g2, g3, g4, g5] (ms) */
  gemm: number[];
  /** attention head [a0, a1, a2, a3, a4] (ms) */
  head: number[];
  /** Winograd conv [w0, w1, w2] (ms) */
  wino: number[];
  /** LayerNorm + GELU per element of a layer-norm conv stack, and LayerNorm per element (ms) */
  elem: number[];
  /** time no gate changes (ms); 0 until calibrateFixed */
  fixed: number;
}

const GELU = 1;
/** The reference clip (seconds) a speedup is defined on: the 10 s clip `slimwav bench` and BENCHMARKS.md time. */
export const COST_SECONDS = 10;

/** 8·⌈N/8⌉, linearly interpolated between integers (exact at every integer N ≥ 0). */
export function panelWidth(N: number): number {
  if (N <= 0) return 0;
  const k = Math.floor(N / 8), r = N - 8 * k;
  return 8 * (k + Math.min(1, r));
}

/** Its derivative (right-hand at the integers). */
function dPanelWidth(N: number): number {
  if (N < 0) return 0;
  const r = N - 8 * Math.floor(N / 8);
  return r < 1 ? 8 : 0;
}

/** N ≤ 40: fewer than 6 panels, the GEMM's unpacked path */
const narrow = (N: number) => Math.ceil(N / 8) < 6;

/** `n` rounded up to the MR-row tile, interpolated linearly between integers like panelWidth; and its derivative. */
function tileRows(n: number, mr: number): number {
  if (n <= 0) return 0;
  const k = Math.floor(n / mr), r = n - mr * k;
  return mr * (k + Math.min(1, r));
}
function dTileRows(n: number, mr: number): number {
  return n < 0 ? 0 : n - mr * Math.floor(n / mr) < 1 ? mr : 0;
}

/** The features of a GEMM the coefficients multiply (the table's `gemm` order). */
function gemmFeatures(mr: number, M: number, N: number, K: number, act: number): number[] {
  const Mr = mr * Math.ceil(M / mr), P = panelWidth(N), nw = narrow(N);
  return [1, nw ? 0 : Mr * P * K, Mr * P, M * K, M * N * act, nw ? Mr * P * K : 0];
}

/** Predicted GEMM time (ms) and its derivatives in N and K. */
export function gemmTime(t: CostTable, M: number, N: number, K: number, act = 0): { ms: number; dN: number; dK: number } {
  if (N <= 0 || K <= 0) return { ms: 0, dN: 0, dK: 0 };
  const f = gemmFeatures(t.mr, M, N, K, act), g = t.gemm;
  const Mr = t.mr * Math.ceil(M / t.mr), P = panelWidth(N), dP = dPanelWidth(N), gk = narrow(N) ? g[5] : g[1];
  return {
    ms: f.reduce((s, x, i) => s + x * g[i], 0),
    dN: gk * Mr * dP * K + g[2] * Mr * dP + g[4] * M * act,
    dK: gk * Mr * P + g[3] * M,
  };
}

/** Predicted time (ms) of one attention head with q/k width dq and value width dv over T frames. */
export function headTime(t: CostTable, T: number, dq: number, dv: number): number {
  const [a0, a1, a2, a3, a4] = t.head;
  return a0 + T * T * (a1 + a2 * dq + a3 * tileRows(dv, t.mr)) + a4 * T * dq;
}

/** Predicted time (ms) of conv layer i with cin input and cout output channels over n output frames. */
function convTime(t: CostTable, cfg: ModelConfig, i: number, n: number, cin: number, cout: number): { ms: number; dIn: number; dOut: number } {
  const l = cfg.conv[i];
  let ms = 0, dIn = 0, dOut = 0;
  if (cout <= 0 || cin <= 0) return { ms: 0, dIn: 0, dOut: 0 };
  const act = cfg.featExtractNorm === 'layer' ? 0 : GELU;
  if (l.kernel === 3 && l.stride === 2) {
    const [w0, w1, w2] = t.wino, P = panelWidth(cout);
    ms = w0 + w1 * n * P * cin + w2 * n * cout;
    dIn = w1 * n * P;
    dOut = w1 * n * dPanelWidth(cout) * cin + w2 * n;
  } else {
    const g = gemmTime(t, n, cout, l.kernel * cin, act);
    ms = g.ms; dIn = g.dK * l.kernel; dOut = g.dN;
  }
  if (cfg.featExtractNorm === 'layer') { ms += t.elem[0] * n * cout; dOut += t.elem[0] * n; }
  return { ms, dIn, dOut };
}

export interface ExpectedTime {
  /** predicted milliseconds for the table's reference clip */
  ms: number;
  /** ∂ms/∂p per unit */
  dMs: GateArrays;
}

/**
 * Expected time of the compacted model as a function of the gate probabilities (keep-probabilities of every unit of
 * `cfg`'s layout), nested as the size model nests them (size.ts): a head's q/k dimensions count only if its head,
 * its attention block and at least one of its value dimensions are kept. Widths enter as their expected values
 * (sums of probabilities). With 0/1 probabilities it is the cost model's time of that exact layout.
 */
export function expectedTime(cfg: ModelConfig, p: GateArrays, t: CostTable): ExpectedTime {
  const D = cfg.hidden;
  const d = gateArrays(cfg, 0);
  const frames = convFrames(cfg, Math.round(t.seconds * 16000));
  const T = frames.at(-1)!;
  const sumOf = (a: Float32Array) => { let s = 0; for (const x of a) s += x; return s; };
  const addAll = (g: Float32Array, v: number) => { for (let j = 0; j < g.length; j++) g[j] += v; };
  let ms = t.fixed;

  // conv stack (the first layer has one input channel), then LayerNorm + projection over the last one's channels
  let prev = 1;
  cfg.conv.forEach((_, i) => {
    const E = sumOf(p.conv[i]);
    const c = convTime(t, cfg, i, frames[i], prev, E);
    ms += c.ms;
    addAll(d.conv[i], c.dOut);
    if (i > 0) addAll(d.conv[i - 1], c.dIn);
    prev = E;
  });
  const last = cfg.conv.length - 1;
  const proj = gemmTime(t, T, D, prev);
  ms += proj.ms + (cfg.featProjLayerNorm ? t.elem[1] * T * prev : 0);
  addAll(d.conv[last], proj.dK + (cfg.featProjLayerNorm ? t.elem[1] * T : 0));

  cfg.layers.forEach((L, l) => {
    const a = p.attn[l];
    let qo = 0, vo = 0, Nqkv = 0, Kout = 0, H = 0;
    const per: { ph: number; any: number; Sq: number; Sv: number; hh: number; qo: number; vo: number; h: number }[] = [];
    L.heads.forEach((_, h) => {
      const ph = p.heads[l][h];
      const q = p.qk[l].subarray(qo, qo + L.qkDims[h]), v = p.v[l].subarray(vo, vo + L.vDims[h]);
      const Sq = sumOf(q), Sv = sumOf(v);
      let none = 1;
      for (const x of v) none *= 1 - x;
      const any = 1 - none;
      const hh = headTime(t, T, Sq, Sv);
      Nqkv += ph * (any * 2 * Sq + Sv);
      Kout += ph * Sv;
      H += ph * any * hh;
      per.push({ ph, any, Sq, Sv, hh, qo, vo, h });
      qo += L.qkDims[h];
      vo += L.vDims[h];
    });
    const g1 = gemmTime(t, T, Nqkv, D), g2 = gemmTime(t, T, D, Kout);
    ms += a * (g1.ms + g2.ms + H);
    d.attn[l] += g1.ms + g2.ms + H;
    const [, , a2, a3, a4] = t.head;
    const hq = T * T * a2 + a4 * T; // ∂headTime/∂dq
    for (const e of per) {
      const { ph, any, Sq, Sv, hh, h } = e;
      const hv = T * T * a3 * dTileRows(Sv, t.mr); // ∂headTime/∂dv
      d.heads[l][h] += a * (g1.dN * (any * 2 * Sq + Sv) + g2.dK * Sv + any * hh);
      addAll(d.qk[l].subarray(e.qo, e.qo + L.qkDims[h]), a * ph * any * (2 * g1.dN + hq));
      const v = p.v[l].subarray(e.vo, e.vo + L.vDims[h]);
      for (let j = 0; j < v.length; j++) {
        let others = 1; // ∂any/∂v_j
        for (let k = 0; k < v.length; k++) if (k !== j) others *= 1 - v[k];
        d.v[l][e.vo + j] += a * ph * (g1.dN * (1 + 2 * Sq * others) + g2.dK + others * hh + any * hv);
      }
    }
    const b = p.ffnBlock[l], Sf = sumOf(p.ffn[l]);
    const f1 = gemmTime(t, T, Sf, D, GELU), f2 = gemmTime(t, T, D, Sf);
    ms += b * (f1.ms + f2.ms);
    d.ffnBlock[l] += f1.ms + f2.ms;
    addAll(d.ffn[l], b * (f1.dN + f2.dK));
  });
  return { ms, dMs: d };
}

/** The cost model's time (ms, reference clip) of a model's own layout. */
export function layoutTime(cfg: ModelConfig, t: CostTable): number {
  return expectedTime(cfg, gateArrays(cfg, 1), t).ms;
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration

/**
 * The fastest of `rounds` timings (ms) of each function, timed round-robin (one call of each per round, after one
 * warm-up call each): a burst of load from other processes then slows one call of every shape rather than every call
 * of one shape, and the minimum over rounds is each shape's quiet time.
 */
export function fastestOf(fns: (() => void)[], rounds: number): number[] {
  for (const f of fns) f();
  const best = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, i) => {
      const t0 = performance.now();
      f();
      best[i] = Math.min(best[i], performance.now() - t0);
    });
  }
  return best;
}

/**
 * One thread of the kernels, each call prepared as a closure to time (fastestOf): GEMM, attention head, Winograd
 * conv, LayerNorm (+ GELU). Buffers are zero-filled (no denormals; timing does not depend on the values).
 */
export class KernelTimer {
  private top: number;
  private constructor(private readonly rt: TrainingRuntime, readonly mr: number) {
    this.top = rt.mem.top;
  }

  /** The build the engine picks on this machine (its register tile: 6 rows relaxed, 4 plain). */
  static async create(): Promise<KernelTimer> {
    const variant = bestVariant(false);
    return new KernelTimer(await trainingRuntime(1, variant), isRelaxedVariant(variant) ? 6 : 4);
  }

  dispose(): void {
    this.rt.dispose();
  }

  private buffers(...floats: number[]): number[] {
    const mem = this.rt.mem, start = this.top;
    const ptrs = floats.map((n) => { const q = this.top; this.top += Math.ceil((Math.max(1, n) * 4) / 64) * 64; return q; });
    mem.ensure(this.top);
    new Uint8Array(mem.memory.buffer, start, this.top - start).fill(0);
    return ptrs;
  }

  /** Free every buffer of the prepared calls (their closures must not run afterwards). */
  reset(): void {
    this.top = this.rt.mem.top;
  }

  gemm(M: number, N: number, K: number, act = 0): () => void {
    const k = this.rt.exec.k;
    const [A, B, C, bias] = this.buffers(M * K, k.f32_packed_floats(N, K), M * N, N);
    return () => k.f32_gemm_packed(M, N, K, A, K, B, C, N, bias, act, 0);
  }

  head(T: number, dq: number, dv: number): () => void {
    const k = this.rt.exec.k, ld = 2 * dq + dv;
    const [qkv, kt, o, s] = this.buffers(T * ld, T * dq, T * dv, k.f32_attention_scratch_floats(T));
    const scale = 1 / Math.sqrt(Math.max(1, dq));
    return () => {
      if (dq > 0) k.f32_transpose(T, dq, qkv + dq * 4, ld, kt, T);
      k.f32_attention(0, T, T, dq, dv, qkv, ld, kt, qkv + 2 * dq * 4, ld, o, dv, scale, 0, 0, s);
    };
  }

  wino(n: number, cin: number, cout: number, act = GELU): () => void {
    const k = this.rt.exec.k;
    const [x, m, e, o, b, y, s] = this.buffers((2 * n + 1) * cin, k.f32_packed_floats(cout, cin), k.f32_packed_floats(cout, 2 * cin),
      k.f32_packed_floats(cout, 2 * cin), cout, n * cout, k.f32_conv_k3s2_scratch_floats(cin, cout));
    return () => k.f32_conv_k3s2(0, Math.ceil(n / 2), n, cin, cout, x, m, e, o, b, y, act, s);
  }

  layerNorm(M: number, N: number, gelu: boolean): () => void {
    const k = this.rt.exec.k;
    const [x, g, b] = this.buffers(M * N, N, N);
    return () => { k.f32_layernorm(M, N, x, N, x, N, g, b, 1e-5); if (gelu) k.f32_gelu(M * N, x, x); };
  }
}

/** Least squares (normal equations, tiny systems); coefficients below 0 are dropped and the rest refitted. */
export function fitNonNegative(rows: number[][], y: number[]): number[] {
  const n = rows[0].length;
  const active = new Array(n).fill(true);
  for (let round = 0; round < n; round++) {
    const idx = active.map((a, i) => (a ? i : -1)).filter((i) => i >= 0);
    // relative least squares: each row weighted by 1/y so that small shapes count as much as large ones
    const A = idx.map((i) => idx.map((j) => rows.reduce((s, r, q) => s + (r[i] * r[j]) / (y[q] * y[q]), 0)));
    const bv = idx.map((i) => rows.reduce((s, r, q) => s + r[i] / y[q], 0));
    const x = solve(A, bv);
    const out = new Array(n).fill(0);
    idx.forEach((i, q) => (out[i] = x[q]));
    const neg = idx.filter((i) => out[i] < 0);
    if (neg.length === 0) return out;
    for (const i of neg) active[i] = false;
  }
  return new Array(n).fill(0);
}

function solve(A: number[][], b: number[]): number[] {
  const n = b.length, M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    const d = M[c][c] || 1e-300;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / d;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((r, i) => r[n] / (r[i] || 1e-300));
}

/**
 * The shapes calibration times for a model: its own widths and a spread of smaller ones, each call short (about a
 * millisecond, so that a quiet run is likely even on a busy machine): GEMMs over few rows (the time is linear in the
 * row tiles, the model's rows follow), attention heads over the model's T and T/2, the Winograd conv over 64 frames.
 */
export function calibrationShapes(cfg: ModelConfig, seconds: number) {
  const frames = convFrames(cfg, Math.round(seconds * 16000));
  const T = frames.at(-1)!, D = cfg.hidden;
  const F = Math.max(8, ...cfg.layers.map((L) => L.ffn)), hd = cfg.headDim;
  const rows = Math.min(T, 24);
  const widths = [...new Set([8, 20, 40, 48, Math.round(D / 4) + 3, D, F].map((x) => Math.max(1, Math.round(x))))];
  const gemms: [number, number, number, number][] = [];
  for (const N of widths) for (const K of [Math.max(8, Math.round(D / 4)), D]) gemms.push([rows, N, K, 0]);
  gemms.push([rows, F, D, GELU], [rows, Math.max(8, Math.round(F / 3)), D, GELU], [T, 48, Math.max(8, Math.round(D / 4)), 0], [T, 20, Math.max(8, Math.round(D / 4)), 0], [T, 8, D, 0], [T, 96, Math.max(8, Math.round(D / 4)), GELU], [T, Math.round(D / 4) + 3, Math.max(8, Math.round(D / 4)), 0]);
  const heads: [number, number, number][] = [];
  for (const TT of [T, Math.max(8, Math.round(T / 2))]) for (const [dq, dv] of [[0, 1], [hd, hd], [Math.max(1, hd >> 2), hd], [hd, Math.max(1, hd >> 2)], [1, 1], [hd >> 1, (hd >> 1) + 1]]) heads.push([TT, dq, dv]);
  const C = Math.max(...cfg.conv.map((c) => c.dim));
  const wino: [number, number, number][] = cfg.conv.some((l, i) => i > 0 && l.kernel === 3 && l.stride === 2)
    ? [[C, C], [C >> 1 || 1, C], [C, (C >> 1) + 5], [C >> 2 || 1, C >> 2 || 1], [C, 8]].map(([ci, co]) => [64, ci, co] as [number, number, number])
    : [];
  return { T, D, gemms, heads, wino, elemShape: [64, C] as [number, number] };
}

function cachePath(dir: string, key: string): string {
  return join(dir, `cost-${(fnv1a32(key) >>> 0).toString(16)}.json`);
}

/** The OS cache folder for slimwav's cost tables ($XDG_CACHE_HOME/slimwav, else ~/.cache/slimwav). */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slimwav');
}

/**
 * The cost table of `cfg` on this machine: from the cache when a table for the same shapes and kernel build is
 * there, otherwise measured (a few seconds: every shape the fastest of `rounds`, fastestOf) and cached (written
 * atomically).
 */
export async function costTable(cfg: ModelConfig, opts: { cacheDir?: string | null; rounds?: number; seconds?: number; log?: (s: string) => void } = {}): Promise<CostTable> {
  const seconds = opts.seconds ?? COST_SECONDS;
  const shapes = calibrationShapes(cfg, seconds);
  const key = JSON.stringify({ v: 2, variant: bestVariant(false), node: process.version, arch: process.arch, shapes });
  const dir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const path = dir ? cachePath(dir, key) : null;
  if (path && existsSync(path)) {
    try {
      const t = JSON.parse(readFileSync(path, 'utf8')) as CostTable;
      if (t.version === 1 && t.key === key) return t;
    } catch { /* a bad cache file is measured again and replaced */ }
  }
  const t0 = performance.now();
  const timer = await KernelTimer.create();
  let table: CostTable;
  try {
    const { extraMs, ...t } = measureTable(timer, shapes, key, seconds, opts.rounds ?? 7);
    void extraMs;
    table = t;
  } finally {
    timer.dispose();
  }
  opts.log?.(`prune: cost model calibrated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (path) {
    try {
      await mkdir(dir!, { recursive: true });
      await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(table, null, 1) + '\n'));
    } catch { /* an unwritable cache folder only costs a new calibration next time */ }
  }
  return table;
}

/** The shapes' timings and the table fitted to them. */
export function measureTable(timer: KernelTimer, s: ReturnType<typeof calibrationShapes>, key: string, seconds: number, rounds: number,
  extra: (() => void)[] = []): CostTable & { extraMs: number[] } {
  const mr = timer.mr;
  const fns = [
    ...s.gemms.map(([M, N, K, act]) => timer.gemm(M, N, K, act)),
    ...s.heads.map(([T, dq, dv]) => timer.head(T, dq, dv)),
    ...s.wino.map(([n, ci, co]) => timer.wino(n, ci, co)),
    timer.layerNorm(s.elemShape[0], s.elemShape[1], true), timer.layerNorm(s.T, s.D, false),
  ];
  const ms = fastestOf([...fns, ...extra], rounds);
  const gy = ms.slice(0, s.gemms.length), hy = ms.slice(s.gemms.length, s.gemms.length + s.heads.length);
  const wy = ms.slice(s.gemms.length + s.heads.length, fns.length - 2);
  const [ln1, ln2] = ms.slice(fns.length - 2, fns.length);
  timer.reset();
  const gx = s.gemms.map(([M, N, K, act]) => gemmFeatures(mr, M, N, K, act));
  const hx = s.heads.map(([T, dq, dv]) => [1, T * T, T * T * dq, T * T * tileRows(dv, mr), T * dq]);
  const wx = s.wino.map(([n, ci, co]) => [1, n * panelWidth(co) * ci, n * co]);
  const [n0, c0] = s.elemShape;
  const table: CostTable & { extraMs: number[] } = {
    version: 1, key, seconds, mr,
    gemm: fitNonNegative(gx, gy), head: fitNonNegative(hx, hy), wino: wx.length ? fitNonNegative(wx, wy) : [0, 0, 0],
    elem: [ln1 / (n0 * c0), ln2 / (s.T * s.D)], fixed: 0, extraMs: ms.slice(fns.length),
  };
  if (![...table.gemm, ...table.head].some((x) => x > 0)) fail('E_CONFIG', 'cost model: the kernel timings could not be fitted (timer too coarse?)');
  return table;
}

/**
 * Sets the table's constant part from the measured time (ms, same reference clip, one thread) of the dense model:
 * whatever the structures do not explain (positional conv, LayerNorms, the engine's own work), never below 0.
 */
export function calibrateFixed(t: CostTable, cfg: ModelConfig, measuredMs: number): CostTable {
  const structures = layoutTime(cfg, { ...t, fixed: 0 });
  return { ...t, fixed: Math.max(0, measuredMs - structures) };
}

/**
 * Calibrates the table on two whole models timed in the same run (same clip, one thread): the teacher and a reduced
 * layout of it. Model time = fixed + s × (the structures' predicted time): s corrects the table's scale (kernel timings
 * of short calls taken at another moment run faster or slower than a whole model does, by up to a third on a machine
 * whose speed comes in bursts) and fixed is what no structure explains. Without the scale, a table that is 10% fast
 * puts that 10% into the constant, and every pruned model is predicted too fast (eval/: by 5–11% at 2–2.5×).
 * A busy machine slows whole models far more than the short, best-of-N kernel timings (2.6× was seen with three
 * processes on two cores), and as speedups are ratios a uniform slowdown scales out, so s is taken from 1/4 to 4;
 * outside that (or when the two layouts cannot be told apart) the pair is implausible and calibrateFixed is used.
 */
export function calibrateTwoPoint(t: CostTable, cfg: ModelConfig, ms: number, reduced: ModelConfig, reducedMs: number): CostTable {
  const s = twoPointScale(t, cfg, ms, reduced, reducedMs);
  if (s === null) return calibrateFixed(t, cfg, ms);
  const scale = (v: number[]) => v.map((x) => x * s);
  return { ...t, gemm: scale(t.gemm), head: scale(t.head), wino: scale(t.wino), elem: scale(t.elem), fixed: Math.max(0, ms - s * layoutTime(cfg, { ...t, fixed: 0 })) };
}

/** calibrateTwoPoint's scale s, or null for an implausible pair (then the one-point calibration is used). */
function twoPointScale(t: CostTable, cfg: ModelConfig, ms: number, reduced: ModelConfig, reducedMs: number): number | null {
  const bare = { ...t, fixed: 0 };
  const a = layoutTime(cfg, bare), b = layoutTime(reduced, bare);
  const s = (ms - reducedMs) / (a - b);
  return a - b > 0.05 * a && s >= 0.25 && s <= 4 ? s : null;
}

/**
 * The model's time and that of a reduced layout of it (the benchmarks' ~28%-of-parameters masks, compacted with the
 * model's weights: the time does not depend on the values), ms on a `seconds` clip, one thread, and those of any
 * `others` (already loaded, one thread) in the same rounds: calls interleaved (model, reduced, others…) after a
 * warm-up, the fastest of at least `minRounds` each, more while under 4 s have passed (at most 15), so that a quiet
 * moment is likely on a busy machine and a burst of load slows every model of a round alike.
 */
export async function referenceTimes(files: ModelFiles, seconds = COST_SECONDS, others: Model[] = [], minRounds = 3):
  Promise<{ cfg: ModelConfig; ms: number; reduced: ModelConfig; reducedMs: number; othersMs: number[] }> {
  const cfg = parseConfig(files.config);
  const r = compact(files.config, files.tensors, benchMasks(cfg), { allowInexact: true, exactLastConv: false });
  const reduced = parseConfig(r.config);
  const own = [await buildModel(files.config, files.tensors, files.source, files.notes, { threads: 1 })];
  try {
    own.push(await buildModel(r.config, r.tensors, files.source, [], { threads: 1 }));
    const models = [...own, ...others];
    const wave = new Float32Array(Math.round(seconds * 16000)).map((_, i) => 0.1 * Math.sin(i * 0.05) + 0.05 * Math.sin(i * 0.31));
    for (const m of models) await m.extract(wave, { layers: 'last' });
    const best = models.map(() => Infinity);
    const start = performance.now();
    for (let round = 0; round < Math.max(15, minRounds) && (round < minRounds || performance.now() - start < 4000); round++) {
      for (let i = 0; i < models.length; i++) {
        const t0 = performance.now();
        await models[i].extract(wave, { layers: 'last' });
        best[i] = Math.min(best[i], performance.now() - t0);
      }
    }
    return { cfg, ms: best[0], reduced, reducedMs: best[1], othersMs: best.slice(2) };
  } finally {
    for (const m of own) m.dispose();
  }
}

/**
 * The table calibrated on the model itself and a reduced layout of it, timed now (referenceTimes, calibrateTwoPoint),
 * with the times of any `others` taken in the same rounds; `scale` is what the kernel times were multiplied by.
 */
export async function calibrateOnModel(t: CostTable, files: ModelFiles, opts: { log?: (s: string) => void; others?: Model[]; minRounds?: number } = {}):
  Promise<{ table: CostTable; ms: number; othersMs: number[]; scale: number }> {
  const ref = await referenceTimes(files, t.seconds, opts.others, opts.minRounds);
  const table = calibrateTwoPoint(t, ref.cfg, ref.ms, ref.reduced, ref.reducedMs);
  const scale = layoutTime(ref.cfg, { ...table, fixed: 0 }) / layoutTime(ref.cfg, { ...t, fixed: 0 });
  opts.log?.(`prune: cost model calibrated on the teacher (${ref.ms.toFixed(1)} ms per ${t.seconds} s, one thread) and a reduced layout of it ` +
    `(${ref.reducedMs.toFixed(1)} ms): kernel times × ${scale.toFixed(3)} + ${table.fixed.toFixed(1)} ms`);
  if (twoPointScale(t, ref.cfg, ref.ms, ref.reduced, ref.reducedMs) === null) {
    opts.log?.('prune: the two timings do not fit the kernel table (a disturbed timing, or a table from another machine state), so ' +
      'the teacher alone set the constant; the predicted speeds are less reliable: run on a quiet machine');
  } else if (!(scale > 0.67 && scale < 1.5)) {
    opts.log?.(`prune: whole models ran ${scale.toFixed(2)}× the kernel table's times (one of the two was timed on a busy machine). ` +
      'The target is a ratio, so a uniform slowdown cancels, but a quiet machine gives a more reliable model');
  }
  return { table, ms: ref.ms, othersMs: ref.othersMs, scale };
}
