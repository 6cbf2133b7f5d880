/**
 * Plain-TypeScript references for the wasm kernels (assembly/), written as simple loops in the llama2.c manner:
 * f64 accumulation, no tiling, no tricks. Plus the small harness the kernel tests share: the kernel builds,
 * a seeded generator, and error measures. Layouts and letters are those of the kernels' headers.
 */
import { instantiateKernels, Arena, SHARED_MAX_PAGES, type Kernels, type KernelVariant } from '../../src/runtime/wasm.js';

export type Variant = KernelVariant;

// --- special functions (f64) ------------------------------------------------------------------------------------

/** erf by its Maclaurin series for |x| < 2.5, else 1 − erfc (continued fraction); ~1e-14 absolute. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 2.5) return Math.sign(x) * (1 - erfcPositive(a));
  // erf(x) = 2/√π · Σ_n (−1)^n x^(2n+1) / (n!·(2n+1))
  let term = a; // (−1)^n x^(2n+1)/n!
  let sum = a;
  for (let n = 1; n < 200; n++) {
    term *= -(a * a) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
}

/** erfc(a) for a ≥ 2.5 by the continued fraction e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), evaluated bottom-up. */
function erfcPositive(a: number): number {
  let f = a;
  for (let k = 120; k >= 1; k--) f = a + k / 2 / f;
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
}

/** erfc with relative accuracy in the right tail. */
export function erfc(x: number): number {
  return x >= 2.5 ? erfcPositive(x) : 1 - erf(x);
}

/** Exact GELU ½·x·(1 + erf(x/√2)) = ½·x·erfc(−x/√2) (the second form keeps the left tail accurate). */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

// --- kernels ----------------------------------------------------------------------------------------------------

export interface GemmArgs {
  M: number; N: number; K: number;
  A: Float32Array; lda: number;
  /** element (k, n) of B */
  b: (k: number, n: number) => number;
  /** C before the call (read when accumulate), row stride ldc */
  C: Float32Array; ldc: number;
  bias: Float32Array | null; act: number; accumulate: boolean;
}

/** C after f32_gemm / f32_gemm_packed, as a copy with the same strides (untouched entries kept). */
export function gemm(g: GemmArgs): Float64Array {
  const out = Float64Array.from(g.C);
  for (let m = 0; m < g.M; m++) {
    for (let n = 0; n < g.N; n++) {
      let r = 0;
      for (let k = 0; k < g.K; k++) r += g.A[m * g.lda + k] * g.b(k, n);
      if (g.bias) r += g.bias[n];
      if (g.act === 1) r = gelu(r);
      out[m * g.ldc + n] = (g.accumulate ? g.C[m * g.ldc + n] : 0) + r;
    }
  }
  return out;
}

/** W [N][K] → 8-column panels: Bp[p·K·8 + k·8 + j] = W[(8p + j)·K + k], zero padded. */
export function packB(N: number, K: number, W: Float32Array): Float32Array {
  const P = Math.ceil(N / 8);
  const out = new Float32Array(P * 8 * K);
  for (let p = 0; p < P; p++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        out[p * K * 8 + k * 8 + j] = n < N ? W[n * K + k] : 0;
      }
  return out;
}

// --- int8 GEMM (assembly/q8gemm.ts) -----------------------------------------------------------------------------

/** Activation levels for a reduction of K: min(2047, floor((2³¹ − 1) / (127·Kp))), Kp = K rounded up to even. */
export function q8Levels(K: number): number {
  const kp = K + (K & 1);
  return kp === 0 ? 2047 : Math.min(2047, Math.floor(2147483647 / (127 * kp)));
}

/** Round to nearest, ties to even (wasm's f32.nearest). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Rows of A quantized as q8_quantize_a does, in f32 steps: amax = max|row|, inv = f32(L/amax),
 * q = nearest-even(f32(a·inv)) clamped to ±L, scale f32(amax/L); a zero row: scale 1, q = 0.
 */
export function q8QuantizeRows(M: number, K: number, A: Float32Array, lda: number): { q: Int32Array; sa: Float32Array } {
  const L = q8Levels(K), q = new Int32Array(M * K), sa = new Float32Array(M);
  for (let m = 0; m < M; m++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(A[m * lda + k]));
    const inv = amax > 0 ? Math.fround(L / amax) : 0;
    sa[m] = amax > 0 ? Math.fround(amax / L) : 1;
    for (let k = 0; k < K; k++) q[m * K + k] = Math.max(-L, Math.min(L, roundHalfEven(Math.fround(A[m * lda + k] * inv))));
  }
  return { q, sa };
}

export interface Q8GemmArgs {
  M: number; N: number; K: number;
  A: Float32Array; lda: number;
  /** int8 weight [N][K] (PyTorch layout) and its per-row scales */
  w: Int8Array; sw: Float32Array;
  C: Float32Array; ldc: number;
  bias: Float32Array | null; act: number; accumulate: boolean;
}

/**
 * q8_gemm after q8_quantize_a, step by step in f32: the exact integer sums acc [M][N], then
 * C = f32(f32(acc)·f32(sa·sw)) (+ bias, f32) (GELU, exact f64) (+ old C, f32). Untouched entries of C are kept.
 */
export function q8Gemm(g: Q8GemmArgs): { C: Float64Array; acc: Float64Array; qa: Int32Array; sa: Float32Array } {
  const { q: qa, sa } = q8QuantizeRows(g.M, g.K, g.A, g.lda);
  const out = Float64Array.from(g.C), acc = new Float64Array(g.M * g.N);
  for (let m = 0; m < g.M; m++) {
    for (let n = 0; n < g.N; n++) {
      let s = 0;
      for (let k = 0; k < g.K; k++) s += qa[m * g.K + k] * g.w[n * g.K + k];
      acc[m * g.N + n] = s;
      let x = Math.fround(Math.fround(s) * Math.fround(sa[m] * g.sw[n]));
      if (g.bias) x = Math.fround(x + g.bias[n]);
      if (g.act === 1) x = gelu(x);
      out[m * g.ldc + n] = g.accumulate ? Math.fround(g.C[m * g.ldc + n] + x) : x;
    }
  }
  return { C: out, acc, qa, sa };
}

export function layernorm(M: number, N: number, X: Float32Array, ldx: number, Y: Float32Array, ldy: number,
                          gamma: Float32Array | null, beta: Float32Array | null, eps: number): Float64Array {
  const out = Float64Array.from(Y);
  for (let m = 0; m < M; m++) {
    let mean = 0;
    for (let n = 0; n < N; n++) mean += X[m * ldx + n];
    mean /= N;
    let v = 0;
    for (let n = 0; n < N; n++) v += (X[m * ldx + n] - mean) ** 2;
    v /= N;
    for (let n = 0; n < N; n++) {
      out[m * ldy + n] = ((X[m * ldx + n] - mean) / Math.sqrt(v + eps)) * (gamma ? gamma[n] : 1) + (beta ? beta[n] : 0);
    }
  }
  return out;
}

/** X [T][C]: each channel over its T frames. */
export function groupnormTime(T: number, C: number, X: Float32Array, gamma: Float32Array | null,
                              beta: Float32Array | null, eps: number): Float64Array {
  const out = new Float64Array(T * C);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let t = 0; t < T; t++) mean += X[t * C + c];
    mean /= T;
    let v = 0;
    for (let t = 0; t < T; t++) v += (X[t * C + c] - mean) ** 2;
    v /= T;
    for (let t = 0; t < T; t++) {
      out[t * C + c] = ((X[t * C + c] - mean) / Math.sqrt(v + eps)) * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
    }
  }
  return out;
}

export interface AttentionArgs {
  i0: number; i1: number; T: number; dq: number; dv: number;
  Q: Float32Array; ldq: number; Kt: Float32Array; V: Float32Array; ldv: number;
  O: Float32Array; ldo: number; scale: number; relb: Float32Array | null; gate: Float32Array | null;
}

/** O after f32_attention (rows outside [i0, i1) kept). */
export function attention(a: AttentionArgs): Float64Array {
  const out = Float64Array.from(a.O);
  const s = new Float64Array(a.T);
  for (let i = a.i0; i < a.i1; i++) {
    let mx = -Infinity;
    for (let j = 0; j < a.T; j++) {
      let dot = 0;
      for (let d = 0; d < a.dq; d++) dot += a.Q[i * a.ldq + d] * a.Kt[d * a.T + j];
      s[j] = a.scale * dot + (a.relb ? (a.gate ? a.gate[i] : 1) * a.relb[j - i + a.T - 1] : 0);
      mx = Math.max(mx, s[j]);
    }
    let sum = 0;
    for (let j = 0; j < a.T; j++) {
      s[j] = Math.exp(s[j] - mx);
      sum += s[j];
    }
    for (let e = 0; e < a.dv; e++) {
      let o = 0;
      for (let j = 0; j < a.T; j++) o += s[j] * a.V[j * a.ldv + e];
      out[i * a.ldo + e] = o / sum;
    }
  }
  return out;
}

// --- test harness -----------------------------------------------------------------------------------------------

/**
 * The builds every kernel test runs on: the assert-keeping debug build, the shipped release build, its shared-memory
 * twin (over a shared WebAssembly.Memory, as worker threads use it), and the relaxed-SIMD (FMA) release and debug builds.
 */
export const VARIANTS: KernelVariant[] = ['debug', 'release', 'release-shared', 'relaxed', 'relaxed-debug'];

/** Pages of the shared memory the release-shared build is tested over (grown on demand up to SHARED_MAX_PAGES). */
const SHARED_INITIAL = 2;

let loaded: Promise<Record<string, Kernels>> | undefined;

/** Every build in VARIANTS, each in its own memory (instantiated once per test process). */
export function kernels(): Promise<Record<KernelVariant, Kernels>> {
  loaded ??= (async () => {
    const out: Record<string, Kernels> = {};
    for (const v of VARIANTS) {
      const memory = v.endsWith('-shared')
        ? new WebAssembly.Memory({ initial: SHARED_INITIAL, maximum: SHARED_MAX_PAGES, shared: true })
        : undefined;
      out[v] = await instantiateKernels(v, memory);
    }
    return out;
  })();
  return loaded as Promise<Record<KernelVariant, Kernels>>;
}

/** A fresh arena over a build's memory (everything earlier is given back). */
export function arena(k: Kernels): Arena {
  return new Arena(k.memory, k.heapBase);
}

/** Deterministic uniform generator in [lo, hi) (mulberry32). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomArray(n: number, r: (lo?: number, hi?: number) => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r(lo, hi);
  return a;
}

/** Copy `src` into the arena and return its byte offset. */
export function put(ar: Arena, src: Float32Array): number {
  const p = ar.alloc(src.length);
  ar.f32(p, src.length).set(src);
  return p;
}

/** Largest |got − want| and largest |want| over all entries (NaN in got counts as infinite error). */
export function maxErr(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; scale: number; at: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let err = 0, scale = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Number.isNaN(got[i]) && !Number.isNaN(want[i]) ? Infinity : Math.abs(got[i] - want[i]);
    if (e > err) {
      err = e;
      at = i;
    }
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { err, scale, at };
}

/** Throws unless max|got − want| ≤ rel·max(1, max|want|); `what` names the case in the message. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  const { err, scale, at } = maxErr(got, want);
  const tol = rel * Math.max(1, scale);
  if (!(err <= tol)) {
    throw new Error(`${what}: max error ${err} > ${tol} at index ${at} (got ${got[at]}, want ${want[at]})`);
  }
}

/**
 * Copy `src` so that its last float is the last float of the memory (growing it past the arena's top first):
 * any read beyond the end of the array then traps. Call after every other alloc of the case.
 */
export function atEnd(ar: Arena, src: Float32Array): number {
  const need = ar.mark() + 4 * src.length + 16;
  const have = ar.memory.buffer.byteLength;
  if (need > have) ar.memory.grow(Math.ceil((need - have) / 65536));
  const ptr = ar.memory.buffer.byteLength - 4 * src.length;
  new Float32Array(ar.memory.buffer, ptr, src.length).set(src);
  return ptr;
}

/** Throws unless |got[i] − want[i]| ≤ tol[i] for every i. */
export function assertCloseEach(got: ArrayLike<number>, want: ArrayLike<number>, tol: ArrayLike<number>, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol[i])) {
      throw new Error(`${what}: error ${Math.abs(got[i] - want[i])} > ${tol[i]} at index ${i} (got ${got[i]}, want ${want[i]})`);
    }
  }
}

/**
 * Per-element tolerance for a normalisation y = (x − mean)/√(var + eps)·g + b computed in f32: `rel`·max(1, max|y|)
 * plus the part f32 cannot avoid, 1e-6·|g|·max|x| / √(var + eps) (rounding of the mean, amplified when the spread
 * is tiny next to the values). `group(i)` names the statistics group of element i.
 */
export function normTolerance(x: ArrayLike<number>, want: ArrayLike<number>, n: number, group: (i: number) => number,
                              gamma: ArrayLike<number> | null, channel: (i: number) => number, eps: number, rel: number): Float64Array {
  const sums = new Map<number, { s: number; s2: number; n: number; amax: number }>();
  for (let i = 0; i < n; i++) {
    const gId = group(i);
    const st = sums.get(gId) ?? { s: 0, s2: 0, n: 0, amax: 0 };
    st.s += x[i];
    st.n++;
    st.amax = Math.max(st.amax, Math.abs(x[i]));
    sums.set(gId, st);
  }
  for (let i = 0; i < n; i++) {
    const st = sums.get(group(i))!;
    st.s2 += (x[i] - st.s / st.n) ** 2;
  }
  let ymax = 1;
  for (let i = 0; i < want.length; i++) ymax = Math.max(ymax, Math.abs(want[i]));
  const tol = new Float64Array(want.length).fill(rel * ymax);
  for (let i = 0; i < n; i++) {
    const st = sums.get(group(i))!;
    const g = gamma ? Math.abs(gamma[channel(i)]) : 1;
    tol[i] += (1e-6 * g * st.amax) / Math.sqrt(st.s2 / st.n + eps);
  }
  return tol;
}
