// The pruner's training kernels (the backward kernels in assembly/, beside their forwards) against plain-TypeScript references, and every op of
// src/prune/ops.ts: its forward against an f64 reference and its backward against central finite differences of that
// f64 reference (coordinate-wise on small inputs, random directions on larger ones), on 1 thread and on 2 threads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { ThreadPool } from '../../src/runtime/threads.js';
import { Exec } from '../../src/runtime/exec.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { Ops, distillLoss, type AttentionHead, type AttentionHeadGrads } from '../../src/prune/ops.js';

const SIZES = [1, 3, 5, 17];
const Phi = (x: number) => 0.5 * ref.erfc(-x / Math.SQRT2);
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
const f64 = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>);

// =============================================================================================================
// kernels vs plain references
// =============================================================================================================

const kern = suite('train kernels');

kern('f32_softmax_rows and its backward (strided rows, N not a multiple of 4)', async () => {
  const ks = await ref.kernels();
  let seed = 1;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const N of [...SIZES, 64]) for (const M of [1, 3]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const ld = N + (seed % 3);
      const x = ref.randomArray((M - 1) * ld + N, r, -6, 6);
      const d = ref.randomArray((M - 1) * ld + N, r);
      const X = ref.put(ar, x), dP = ref.put(ar, d);
      k.f32_softmax_rows(M, N, X, ld);
      const p = ar.f32(X, x.length).slice();
      const want = f64(x), wantD = f64(d);
      for (let m = 0; m < M; m++) {
        let mx = -Infinity, s = 0;
        for (let j = 0; j < N; j++) mx = Math.max(mx, x[m * ld + j]);
        for (let j = 0; j < N; j++) s += Math.exp(x[m * ld + j] - mx);
        for (let j = 0; j < N; j++) want[m * ld + j] = Math.exp(x[m * ld + j] - mx) / s;
        let dot = 0;
        for (let j = 0; j < N; j++) dot += p[m * ld + j] * d[m * ld + j];
        for (let j = 0; j < N; j++) wantD[m * ld + j] = p[m * ld + j] * (d[m * ld + j] - dot);
      }
      ref.assertClose(p, want, 2e-6, `${v} softmax M=${M} N=${N}`);
      k.f32_softmax_rows_backward(M, N, X, ld, dP, ld);
      ref.assertClose(ar.f32(dP, d.length), wantD, 2e-6, `${v} softmax backward M=${M} N=${N}`);
    }
  }
});

kern('f32_attn_logits and its backward, with and without position bias and gate', async () => {
  const ks = await ref.kernels();
  let seed = 100;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const T of [...SIZES, 9]) for (const mode of [0, 1, 2]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const ld = T + (seed % 2) * 3;
      const s = ref.randomArray((T - 1) * ld + T, r, -2, 2);
      const relb = mode > 0 ? ref.randomArray(2 * T - 1, r) : null;
      const gate = mode > 1 ? ref.randomArray(T, r, 0.5, 2.5) : null;
      const drelb0 = ref.randomArray(2 * T - 1, r), dgate0 = ref.randomArray(T, r);
      const scale = 0.3;
      const S = ref.put(ar, s), R = relb ? ref.put(ar, relb) : 0, G = gate ? ref.put(ar, gate) : 0;
      const dR = ref.put(ar, drelb0), dG = ref.put(ar, dgate0);
      k.f32_attn_logits(T, S, ld, scale, R, G);
      const want = f64(s);
      for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
        want[i * ld + j] = scale * s[i * ld + j] + (relb ? (gate ? gate[i] : 1) * relb[j - i + T - 1] : 0);
      }
      ref.assertClose(ar.f32(S, s.length), want, 1e-6, `${v} logits T=${T} mode=${mode}`);
      // backward on fresh dS = s
      ar.f32(S, s.length).set(s);
      k.f32_attn_logits_backward(T, S, ld, scale, R, G, relb ? dR : 0, relb && gate ? dG : 0);
      const wantS = f64(s), wantR = f64(drelb0), wantG = f64(dgate0);
      for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
        wantS[i * ld + j] = scale * s[i * ld + j];
        if (relb) wantR[j - i + T - 1] += (gate ? gate[i] : 1) * s[i * ld + j];
        if (relb && gate) wantG[i] += s[i * ld + j] * relb[j - i + T - 1];
      }
      ref.assertClose(ar.f32(S, s.length), wantS, 1e-6, `${v} logits backward dS T=${T}`);
      ref.assertClose(ar.f32(dR, 2 * T - 1), wantR, 1e-5, `${v} logits backward drelb T=${T} mode=${mode}`);
      ref.assertClose(ar.f32(dG, T), wantG, 1e-5, `${v} logits backward dgate T=${T} mode=${mode}`);
    }
  }
});

kern('f32_gelu_backward = dy·(Φ(x) + x·φ(x)), written and accumulated', async () => {
  const ks = await ref.kernels();
  const xs: number[] = [0, -0, 13, -13, 30, -30, 1e-20, -3.4e38, 3.4e38];
  for (let x = -15; x <= 15; x += 0.0137) xs.push(x);
  const x = Float32Array.from(xs);
  const r = ref.rng(5);
  const dy = ref.randomArray(x.length, r), d0 = ref.randomArray(x.length + 3, r);
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const n of [...SIZES, x.length]) for (const acc of [0, 1]) {
      const ar = ref.arena(ks[v]);
      const X = ref.put(ar, x.subarray(0, n)), DY = ref.put(ar, dy.subarray(0, n)), DX = ref.put(ar, d0.subarray(0, n + 3));
      k.f32_gelu_backward(n, X, DY, DX, acc);
      const got = ar.f32(DX, n + 3);
      for (let i = 0; i < n; i++) {
        const g = Phi(x[i]) + x[i] * phi(x[i]);
        const want = (acc ? d0[i] : 0) + dy[i] * (Number.isFinite(g) ? g : x[i] > 0 ? 1 : 0);
        assert.ok(Math.abs(got[i] - want) <= 1e-6 * (1 + Math.abs(want)), `${v} gelu' at x=${x[i]}: ${got[i]} vs ${want}`);
      }
      for (let i = n; i < n + 3; i++) assert.is(got[i], d0[i], `${v} gelu backward wrote past n`);
    }
  }
});

function lnBackwardRef(M: number, N: number, x: Float32Array, ldx: number, dy: Float32Array, ldy: number, g: Float32Array | null, eps: number) {
  const dX = new Float64Array(M * N), dg = new Float64Array(N), db = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    let mean = 0;
    for (let n = 0; n < N; n++) mean += x[m * ldx + n];
    mean /= N;
    let v = 0;
    for (let n = 0; n < N; n++) v += (x[m * ldx + n] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / N + eps);
    let a = 0, b = 0;
    for (let n = 0; n < N; n++) {
      const xh = (x[m * ldx + n] - mean) * rstd, d = dy[m * ldy + n];
      const gg = d * (g ? g[n] : 1);
      a += gg;
      b += gg * xh;
      dg[n] += d * xh;
      db[n] += d;
    }
    for (let n = 0; n < N; n++) {
      const xh = (x[m * ldx + n] - mean) * rstd;
      dX[m * N + n] = rstd * (dy[m * ldy + n] * (g ? g[n] : 1) - a / N - (xh * b) / N);
    }
  }
  return { dX, dg, db };
}

kern('f32_layernorm_backward (strided, gamma or none, accumulate, parameter grads only)', async () => {
  const ks = await ref.kernels();
  let seed = 200;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const N of [...SIZES, 48]) for (const M of [1, 4]) for (const affine of [true, false]) for (const acc of [0, 1]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const ldx = N + (seed % 3), ldy = N + (seed % 2);
      const x = ref.randomArray((M - 1) * ldx + N, r, 1, 4);
      const dy = ref.randomArray((M - 1) * ldy + N, r);
      const g = affine ? ref.randomArray(N, r, 0.5, 1.5) : null;
      const d0 = ref.randomArray(M * N, r), g0 = ref.randomArray(N, r), b0 = ref.randomArray(N, r);
      const DX = ref.put(ar, d0), DG = ref.put(ar, g0), DB = ref.put(ar, b0);
      k.f32_layernorm_backward(M, N, ref.put(ar, x), ldx, ref.put(ar, dy), ldy, g ? ref.put(ar, g) : 0, DX, N, DG, DB, 1e-5, acc);
      const w = lnBackwardRef(M, N, x, ldx, dy, ldy, g, 1e-5);
      const wantX = w.dX.map((e, i) => e + (acc ? d0[i] : 0));
      const what = `${v} LN backward M=${M} N=${N} affine=${affine} acc=${acc}`;
      ref.assertClose(ar.f32(DX, M * N), wantX, N === 1 ? 1e-2 : 2e-5, `${what} dX`);
      ref.assertClose(ar.f32(DG, N), w.dg.map((e, i) => e + g0[i]), 2e-5, `${what} dgamma`);
      ref.assertClose(ar.f32(DB, N), w.db.map((e, i) => e + b0[i]), 2e-5, `${what} dbeta`);
      // parameter gradients only (dX = 0)
      const DG2 = ref.put(ar, new Float32Array(N));
      k.f32_layernorm_backward(M, N, ref.put(ar, x), ldx, ref.put(ar, dy), ldy, 0, 0, N, DG2, 0, 1e-5, 0);
      ref.assertClose(ar.f32(DG2, N), w.dg, 2e-5, `${what} dgamma alone`);
    }
  }
});

kern('f32_groupnorm_time_backward (T up to 300, C not a multiple of 4, in place on dY)', async () => {
  const ks = await ref.kernels();
  let seed = 300;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const T of [...SIZES, 300]) for (const C of [1, 3, 5, 17, 20]) for (const affine of [true, false]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const x = ref.randomArray(T * C, r, -1, 3);
      const dy = ref.randomArray(T * C, r);
      const g = affine ? ref.randomArray(C, r, 0.5, 1.5) : null;
      const g0 = ref.randomArray(C, r), b0 = ref.randomArray(C, r);
      const DY = ref.put(ar, dy), DG = ref.put(ar, g0), DB = ref.put(ar, b0);
      k.f32_groupnorm_time_backward(T, C, ref.put(ar, x), DY, g ? ref.put(ar, g) : 0, DY, DG, DB, 1e-5, ar.alloc(4 * C));
      // the reference: LayerNorm backward over the transposed layout
      const xt = new Float32Array(T * C), dyt = new Float32Array(T * C);
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) { xt[c * T + t] = x[t * C + c]; dyt[c * T + t] = dy[t * C + c]; }
      const w = lnBackwardRef(C, T, xt, T, dyt, T, null, 1e-5);
      const wantX = new Float64Array(T * C), wantG = f64(g0), wantB = f64(b0);
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < T; t++) {
          wantX[t * C + c] = w.dX[c * T + t] * (g ? g[c] : 1);
          wantB[c] += dy[t * C + c];
        }
      }
      for (let c = 0; c < C; c++) {
        let mean = 0;
        for (let t = 0; t < T; t++) mean += x[t * C + c];
        mean /= T;
        let va = 0;
        for (let t = 0; t < T; t++) va += (x[t * C + c] - mean) ** 2;
        const rstd = 1 / Math.sqrt(va / T + 1e-5);
        for (let t = 0; t < T; t++) wantG[c] += dy[t * C + c] * (x[t * C + c] - mean) * rstd;
      }
      const what = `${v} GN backward T=${T} C=${C} affine=${affine}`;
      ref.assertClose(ar.f32(DY, T * C), wantX, T === 1 ? 1e-2 : 5e-5, `${what} dX`);
      ref.assertClose(ar.f32(DG, C), wantG, 5e-5, `${what} dgamma`);
      ref.assertClose(ar.f32(DB, C), wantB, 5e-5, `${what} dbeta`);
    }
  }
});

kern('column sums, column gate products, mul_cols, add, axpy, dot', async () => {
  const ks = await ref.kernels();
  let seed = 400;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const N of [...SIZES, 16, 40]) for (const M of [1, 3, 70]) for (const acc of [0, 1]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const lda = N + (seed % 3), ldb = N + (seed % 2);
      const a = ref.randomArray((M - 1) * lda + N, r), b = ref.randomArray((M - 1) * ldb + N, r);
      const z = ref.randomArray(N, r), o0 = ref.randomArray(N + 2, r);
      const A = ref.put(ar, a), B = ref.put(ar, b), Z = ref.put(ar, z);
      const O1 = ref.put(ar, o0), O2 = ref.put(ar, o0);
      k.f32_colsum(M, N, A, lda, O1, acc);
      k.f32_colsum_mul(M, N, A, lda, B, ldb, O2, acc);
      const w1 = f64(o0), w2 = f64(o0);
      for (let n = 0; n < N; n++) {
        w1[n] = acc ? o0[n] : 0;
        w2[n] = acc ? o0[n] : 0;
        for (let m = 0; m < M; m++) {
          w1[n] += a[m * lda + n];
          w2[n] += a[m * lda + n] * b[m * ldb + n];
        }
      }
      const what = `${v} M=${M} N=${N} acc=${acc}`;
      ref.assertClose(ar.f32(O1, N + 2), w1, 1e-5, `colsum ${what}`);
      ref.assertClose(ar.f32(O2, N + 2), w2, 1e-5, `colsum_mul ${what}`);
      // Y = X⊙z and Y += X⊙z into strided rows (gaps untouched)
      const Y = ref.put(ar, b);
      k.f32_mul_cols(M, N, A, lda, Z, Y, ldb);
      const wy = f64(b), wy2 = f64(b);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        wy[m * ldb + n] = a[m * lda + n] * z[n];
        wy2[m * ldb + n] = b[m * ldb + n] + a[m * lda + n] * z[n];
      }
      ref.assertClose(ar.f32(Y, b.length), wy, 1e-6, `mul_cols ${what}`);
      const Y2 = ref.put(ar, b);
      k.f32_mul_cols_add(M, N, A, lda, Z, Y2, ldb);
      ref.assertClose(ar.f32(Y2, b.length), wy2, 1e-6, `mul_cols_add ${what}`);
      // vectors
      const n = M * N;
      const x1 = a.subarray(0, n), x2 = b.subarray(0, n);
      const X1 = ref.put(ar, x1), X2 = ref.put(ar, x2), Zs = ref.put(ar, new Float32Array(n + 2).fill(7));
      k.f32_add(n, X1, X2, Zs);
      ref.assertClose(ar.f32(Zs, n + 2), [...Array.from(x1, (e, i) => e + x2[i]), 7, 7], 1e-6, `add ${what}`);
      k.f32_axpy(n, -0.75, X1, X2);
      ref.assertClose(ar.f32(X2, n), Array.from(x1, (e, i) => b[i] - 0.75 * e), 1e-6, `axpy ${what}`);
      let d = 0;
      for (let i = 0; i < n; i++) d += x1[i] * ar.f32(X2, n)[i];
      assert.ok(Math.abs(k.f32_dot(n, X1, X2) - d) <= 1e-5 * Math.max(1, Math.abs(d)), `dot ${what}`);
    }
  }
});

kern('f32_adamw = PyTorch AdamW (decoupled decay, bias corrections)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const n of [...SIZES, 33]) {
      const r = ref.rng(n + 500);
      const ar = ref.arena(ks[v]);
      const p = ref.randomArray(n, r), g = ref.randomArray(n, r), m = ref.randomArray(n, r, -0.1, 0.1), vv = ref.randomArray(n, r, 0, 0.01);
      const P = ref.put(ar, p), G = ref.put(ar, g), Mp = ref.put(ar, m), V = ref.put(ar, vv);
      const [lr, b1, b2, eps, wd, t] = [1e-3, 0.9, 0.98, 1e-6, 0.01, 7];
      const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
      k.f32_adamw(n, P, G, Mp, V, lr, b1, b2, eps, wd, bc1, bc2);
      const wp = new Float64Array(n), wm = new Float64Array(n), wv = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        wm[i] = b1 * m[i] + (1 - b1) * g[i];
        wv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i];
        wp[i] = p[i] * (1 - lr * wd) - (lr / bc1) * wm[i] / (Math.sqrt(wv[i]) / Math.sqrt(bc2) + eps);
      }
      ref.assertClose(ar.f32(Mp, n), wm, 1e-6, `${v} adamw m n=${n}`);
      ref.assertClose(ar.f32(V, n), wv, 1e-6, `${v} adamw v n=${n}`);
      ref.assertClose(ar.f32(P, n), wp, 1e-6, `${v} adamw p n=${n}`);
    }
  }
});

kern('f32_col2im_add and f32_pack_rows (overlapping rows, N not a multiple of 8)', async () => {
  const ks = await ref.kernels();
  let seed = 600;
  for (const v of ref.VARIANTS) {
    const k = ks[v].exports;
    for (const [Tout, S, K, Cin] of [[1, 1, 1, 1], [3, 2, 3, 5], [5, 5, 10, 1], [17, 1, 4, 3], [6, 2, 2, 7]]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const Tin = (Tout - 1) * S + K + 2;
      const cols = ref.randomArray(Tout * K * Cin, r), dx = ref.randomArray(Tin * Cin, r);
      const DX = ref.put(ar, dx);
      k.f32_col2im_add(Tout, S, K, Cin, ref.put(ar, cols), DX);
      const want = f64(dx);
      for (let t = 0; t < Tout; t++) for (let j = 0; j < K * Cin; j++) want[t * S * Cin + j] += cols[t * K * Cin + j];
      ref.assertClose(ar.f32(DX, Tin * Cin), want, 1e-6, `${v} col2im ${Tout},${S},${K},${Cin}`);
    }
    for (const [Kk, N, ldb] of [[1, 1, 1], [3, 5, 5], [5, 17, 20], [17, 8, 8], [4, 12, 3], [7, 30, 6]]) {
      const r = ref.rng(seed++);
      const ar = ref.arena(ks[v]);
      const B = ref.randomArray((Kk - 1) * ldb + N, r);
      const np = Math.ceil(N / 8);
      const Bp = ar.alloc(np * Kk * 8);
      ar.f32(Bp, np * Kk * 8).fill(NaN);
      k.f32_pack_rows(Kk, N, ref.put(ar, B), ldb, Bp);
      const got = ar.f32(Bp, np * Kk * 8);
      for (let p = 0; p < np; p++) for (let kk = 0; kk < Kk; kk++) for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        assert.is(got[p * Kk * 8 + kk * 8 + j], n < N ? B[kk * ldb + n] : 0, `${v} pack_rows K=${Kk} N=${N} ldb=${ldb}`);
      }
    }
  }
});

kern.run();

// =============================================================================================================
// ops: forward vs f64 reference, backward vs finite differences of that reference
// =============================================================================================================

interface Rt { ops: Ops; mem: LinearMemory; pool: ThreadPool | null; threads: number }
const runtimes = new Map<number, Promise<Rt>>();
function runtime(threads: number): Promise<Rt> {
  let p = runtimes.get(threads);
  if (!p) {
    p = (async () => {
      const kk = await instantiateKernels(threads > 1 ? 'release-shared' : 'release');
      const pool = threads > 1 ? await ThreadPool.create(threads, kk.module, kk.memory, kk.exports) : null;
      const mem = new LinearMemory(kk.memory, kk.heapBase);
      return { ops: new Ops(new Exec(kk.exports, pool), mem), mem, pool, threads };
    })();
    runtimes.set(threads, p);
  }
  return p;
}
const THREADS = [1, 2];

const put = (rt: Rt, a: ArrayLike<number>): number => {
  const p = rt.mem.allocWeights(Math.max(1, a.length));
  rt.mem.f32(p, a.length).set(a);
  return p;
};
const zeros = (rt: Rt, n: number): number => put(rt, new Float32Array(n));
const get = (rt: Rt, p: number, n: number) => rt.mem.f32(p, n).slice();

type Fn = (xs: Float64Array[]) => Float64Array;

/**
 * d/dx_i Σ R⊙f(x) by central differences of the f64 reference f: every coordinate when the input is small, else
 * `dirs` random directions (compared with Σ grad·u). Tolerance: rel·(max|fd| or Σ|grad·u|) + abs.
 */
function checkGrads(what: string, f: Fn, xs: Float32Array[], R: ArrayLike<number>, grads: (Float32Array | null)[], rel = 2e-3, dirs = 6): void {
  const base = xs.map(f64);
  const L = (ys: Float64Array[]) => {
    const y = f(ys);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += R[i] * y[i];
    return s;
  };
  const r = ref.rng(what.length * 7919 + 13);
  grads.forEach((g, i) => {
    if (!g) return;
    const x = base[i];
    let amax = 0;
    for (const e of x) amax = Math.max(amax, Math.abs(e));
    const h = 1e-6 * Math.max(1, amax);
    if (x.length <= 400) {
      const fd = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const keep = x[j];
        x[j] = keep + h;
        const up = L(base);
        x[j] = keep - h;
        const dn = L(base);
        x[j] = keep;
        fd[j] = (up - dn) / (2 * h);
      }
      let fmax = 0;
      for (const e of fd) fmax = Math.max(fmax, Math.abs(e));
      for (let j = 0; j < x.length; j++) {
        assert.ok(Math.abs(g[j] - fd[j]) <= rel * fmax + 1e-6, `${what}: gradient of input ${i} at ${j}: ${g[j]} vs finite difference ${fd[j]} (max ${fmax})`);
      }
    } else {
      for (let d = 0; d < dirs; d++) {
        const u = new Float64Array(x.length).map(() => r(-1, 1));
        const xp = Float64Array.from(x, (e, j) => e + h * u[j]), xm = Float64Array.from(x, (e, j) => e - h * u[j]);
        const fd = (L(base.map((b, k) => (k === i ? xp : b))) - L(base.map((b, k) => (k === i ? xm : b)))) / (2 * h);
        let an = 0, mass = 0;
        for (let j = 0; j < x.length; j++) { an += g[j] * u[j]; mass += Math.abs(g[j] * u[j]); }
        assert.ok(Math.abs(an - fd) <= rel * mass + 1e-9, `${what}: gradient of input ${i} along direction ${d}: ${an} vs finite difference ${fd} (mass ${mass})`);
      }
    }
  });
}

// --- f64 references ---
const linearRef = (M: number, N: number, K: number, ldx: number) => ([X, W, b]: Float64Array[]) => {
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = b ? b[n] : 0;
    for (let k = 0; k < K; k++) s += X[m * ldx + k] * W[n * K + k];
    Y[m * N + n] = s;
  }
  return Y;
};
const lnRef = (M: number, N: number, eps: number) => ([X, g, b]: Float64Array[]) => {
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    let mean = 0;
    for (let n = 0; n < N; n++) mean += X[m * N + n];
    mean /= N;
    let v = 0;
    for (let n = 0; n < N; n++) v += (X[m * N + n] - mean) ** 2;
    const rs = 1 / Math.sqrt(v / N + eps);
    for (let n = 0; n < N; n++) Y[m * N + n] = (X[m * N + n] - mean) * rs * g[n] + b[n];
  }
  return Y;
};

const ops = suite('ops');

ops('linear: forward, dX (written and accumulated), dW, db; small (coordinate-wise) and large (threads split)', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const [M, N, K, pad] of [[1, 1, 1, 0], [3, 5, 17, 2], [7, 9, 4, 1], [200, 41, 37, 3], [70, 300, 20, 0], [130, 260, 130, 0]]) {
      const r = ref.rng(M * 1000 + N * 10 + K);
      const ldx = K + pad;
      const x = ref.randomArray((M - 1) * ldx + K, r), w = ref.randomArray(N * K, r), b = ref.randomArray(N, r);
      const R = ref.randomArray(M * N, r);
      const X = put(rt, x), W = put(rt, w), B = put(rt, b), Y = zeros(rt, M * N);
      rt.ops.linearForward(M, N, K, X, ldx, W, B, Y, N);
      const what = `linear ${threads}T M=${M} N=${N} K=${K}`;
      ref.assertClose(get(rt, Y, M * N), linearRef(M, N, K, ldx)([f64(x), f64(w), f64(b)]), 1e-5, `${what} forward`);
      const d0 = ref.randomArray(M * ldx, r);
      const dX = put(rt, d0), dW = zeros(rt, N * K), dB = zeros(rt, N), dY = put(rt, R);
      rt.ops.linearBackward(M, N, K, X, ldx, W, dY, N, dX, ldx, dW, dB, true);
      // accumulated: subtract what was there
      const gx = get(rt, dX, M * ldx).map((e, i) => e - d0[i]);
      const gxs = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) gxs[i] = i % ldx < K ? gx[i] : 0;
      checkGrads(what, linearRef(M, N, K, ldx), [x, w, b], R, [gxs, get(rt, dW, N * K), get(rt, dB, N)]);
      // written, and parameter gradients accumulate across calls
      rt.ops.linearBackward(M, N, K, X, ldx, W, dY, N, dX, ldx, dW, dB, false);
      const g2 = get(rt, dX, M * ldx);
      for (let i = 0; i < x.length; i++) if (i % ldx < K) assert.ok(Math.abs(g2[i] - gx[i]) <= 1e-5 * (1 + Math.abs(gx[i])), `${what}: written dX`);
      const w1 = get(rt, dW, N * K);
      rt.ops.linearBackward(M, N, K, X, ldx, W, dY, N, 0, 0, dW, 0);
      const w2 = get(rt, dW, N * K);
      ref.assertClose(w2, Array.from(w1, (e) => e * 1.5), 1e-5, `${what}: dW accumulates`);
    }
  }
});

const convRef = (Tout: number, Cout: number, Cin: number, Kw: number, S: number, bias: boolean) => ([X, W, b]: Float64Array[]) => {
  const Y = new Float64Array(Tout * Cout);
  for (let t = 0; t < Tout; t++) for (let o = 0; o < Cout; o++) {
    let s = bias ? b[o] : 0;
    for (let j = 0; j < Kw; j++) for (let i = 0; i < Cin; i++) s += X[(t * S + j) * Cin + i] * W[(o * Kw + j) * Cin + i];
    Y[t * Cout + o] = s;
  }
  return Y;
};

ops('conv1d (time-major, strided, kernel > stride, ≤ stride): forward and backward', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const [Tout, Cout, Cin, Kw, S, bias] of [[1, 1, 1, 1, 1, 0], [4, 3, 1, 10, 5, 1], [5, 5, 3, 3, 2, 0], [6, 7, 4, 2, 2, 1], [9, 3, 2, 1, 3, 1], [60, 40, 13, 3, 2, 1]] as const) {
      const r = ref.rng(Tout * 31 + Cout * 7 + Kw);
      const Tin = (Tout - 1) * S + Kw + (Tout % 2);
      const x = ref.randomArray(Tin * Cin, r), w = ref.randomArray(Cout * Kw * Cin, r), b = ref.randomArray(Cout, r);
      const R = ref.randomArray(Tout * Cout, r);
      const X = put(rt, x), W = put(rt, w), B = bias ? put(rt, b) : 0, Y = zeros(rt, Tout * Cout);
      rt.ops.conv1dForward(Tout, Cout, Cin, Kw, S, X, W, B, Y);
      const f = convRef(Tout, Cout, Cin, Kw, S, !!bias);
      const what = `conv ${threads}T ${[Tout, Cout, Cin, Kw, S, bias]}`;
      ref.assertClose(get(rt, Y, Tout * Cout), f([f64(x), f64(w), f64(b)]), 1e-5, `${what} forward`);
      const dX = put(rt, ref.randomArray(Tin * Cin, r)), dW = zeros(rt, w.length), dB = zeros(rt, Cout);
      rt.ops.conv1dBackward(Tout, Tin, Cout, Cin, Kw, S, X, W, put(rt, R), Cout, dX, dW, bias ? dB : 0);
      checkGrads(what, f, [x, w, b], R, [get(rt, dX, Tin * Cin), get(rt, dW, w.length), bias ? get(rt, dB, Cout) : null]);
    }
  }
});

ops('layer norm and group norm over time: forward and backward (incl. threads split and accumulate)', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const [M, N] of [[1, 3], [5, 17], [3, 1], [600, 64]]) {
      const r = ref.rng(M * 17 + N);
      const x = ref.randomArray(M * N, r, -1, 3), g = ref.randomArray(N, r, 0.5, 1.5), b = ref.randomArray(N, r), R = ref.randomArray(M * N, r);
      const X = put(rt, x), G = put(rt, g), B = put(rt, b), Y = zeros(rt, M * N);
      rt.ops.layerNormForward(M, N, X, Y, G, B, 1e-5);
      const what = `LN ${threads}T M=${M} N=${N}`;
      ref.assertClose(get(rt, Y, M * N), lnRef(M, N, 1e-5)([f64(x), f64(g), f64(b)]), 2e-5, `${what} forward`);
      const d0 = ref.randomArray(M * N, r);
      const dX = put(rt, d0), dG = zeros(rt, N), dB = zeros(rt, N);
      rt.ops.layerNormBackward(M, N, X, put(rt, R), G, dX, dG, dB, 1e-5, true);
      const gx = get(rt, dX, M * N).map((e, i) => e - d0[i]);
      checkGrads(what, lnRef(M, N, 1e-5), [x, g, b], R, [N === 1 ? null : gx, get(rt, dG, N), get(rt, dB, N)], N === 1 ? 1e-2 : 2e-3);
    }
    for (const [T, C] of [[1, 3], [7, 5], [40, 17]]) {
      const r = ref.rng(T * 3 + C);
      const x = ref.randomArray(T * C, r, -1, 2), g = ref.randomArray(C, r, 0.5, 1.5), b = ref.randomArray(C, r), R = ref.randomArray(T * C, r);
      const tr = (a: Float64Array, R_: number, C_: number) => { const o = new Float64Array(a.length); for (let i = 0; i < R_; i++) for (let j = 0; j < C_; j++) o[j * R_ + i] = a[i * C_ + j]; return o; };
      const f: Fn = ([X_, g_, b_]) => tr(lnRef(C, T, 1e-5)([tr(X_, T, C), new Float64Array(T).fill(1), new Float64Array(T)]), C, T).map((e, i) => e * g_[i % C] + b_[i % C]);
      const X = put(rt, x), G = put(rt, g), B = put(rt, b), Y = zeros(rt, T * C);
      rt.ops.groupNormTimeForward(T, C, X, Y, G, B, 1e-5);
      const what = `GN ${threads}T T=${T} C=${C}`;
      ref.assertClose(get(rt, Y, T * C), f([f64(x), f64(g), f64(b)]), 2e-5, `${what} forward`);
      const d0 = ref.randomArray(T * C, r);
      const dX = put(rt, d0), dG = zeros(rt, C), dB = zeros(rt, C);
      rt.ops.groupNormTimeBackward(T, C, X, put(rt, R), G, dX, dG, dB, 1e-5, true);
      const gx = get(rt, dX, T * C).map((e, i) => e - d0[i]);
      checkGrads(what, f, [x, g, b], R, [T === 1 ? null : gx, get(rt, dG, C), get(rt, dB, C)]);
    }
  }
});

ops('GELU, column gates (mul_cols), gated residual: forward and backward', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const [M, N] of [[1, 1], [3, 5], [17, 3], [400, 100]]) {
      const r = ref.rng(M + N * 5);
      const n = M * N;
      const x = ref.randomArray(n, r, -4, 4), z = ref.randomArray(N, r, 0, 1), y = ref.randomArray(n, r), R = ref.randomArray(n, r);
      const what = `${threads}T M=${M} N=${N}`;
      // GELU
      const X = put(rt, x), Y = zeros(rt, n);
      rt.ops.geluForward(n, X, Y);
      ref.assertClose(get(rt, Y, n), Array.from(x, ref.gelu), 1e-6, `gelu ${what}`);
      const dX = zeros(rt, n);
      rt.ops.geluBackward(n, X, put(rt, R), dX);
      checkGrads(`gelu ${what}`, ([a]) => a.map(ref.gelu), [x], R, [get(rt, dX, n)]);
      // Y = X ⊙ z[col]
      const Z = put(rt, z), Y2 = zeros(rt, n);
      rt.ops.mulColsForward(M, N, X, N, Z, Y2, N);
      const mc: Fn = ([a, zz]) => a.map((e, i) => e * zz[i % N]);
      ref.assertClose(get(rt, Y2, n), mc([f64(x), f64(z)]), 1e-6, `mul_cols ${what}`);
      const dX2 = zeros(rt, n), dZ = zeros(rt, N);
      rt.ops.mulColsBackward(M, N, X, N, Z, put(rt, R), N, dX2, N, dZ);
      checkGrads(`mul_cols ${what}`, mc, [x, z], R, [get(rt, dX2, n), get(rt, dZ, N)]);
      // Z = X + s·Y
      const s = 0.37;
      const res: Fn = ([a, b, sv]) => a.map((e, i) => e + sv[0] * b[i]);
      const Yp = put(rt, y), Out = zeros(rt, n);
      rt.ops.residualForward(n, X, Yp, s, Out);
      ref.assertClose(get(rt, Out, n), res([f64(x), f64(y), f64([s])]), 1e-6, `residual ${what}`);
      const dA = zeros(rt, n), dB = zeros(rt, n);
      const ds = rt.ops.residualBackward(n, Yp, s, put(rt, R), dA, dB);
      checkGrads(`residual ${what}`, res, [x, y, Float32Array.of(s)], R, [get(rt, dA, n), get(rt, dB, n), Float32Array.of(ds)]);
    }
  }
});

/** f64 reference of one attention head: inputs Q [T][dq], K [T][dq], V [T][dv], relb [2T−1], gate [T]. */
const headRef = (T: number, dq: number, dv: number, scale: number, useRelb: boolean, useGate: boolean) => ([Q, K, V, rb, g]: Float64Array[]) => {
  const O = new Float64Array(T * dv);
  const s = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    let mx = -Infinity;
    for (let j = 0; j < T; j++) {
      let d = 0;
      for (let c = 0; c < dq; c++) d += Q[i * dq + c] * K[j * dq + c];
      s[j] = scale * d + (useRelb ? (useGate ? g[i] : 1) * rb[j - i + T - 1] : 0);
      mx = Math.max(mx, s[j]);
    }
    let sum = 0;
    for (let j = 0; j < T; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
    for (let e = 0; e < dv; e++) {
      let o = 0;
      for (let j = 0; j < T; j++) o += s[j] * V[j * dv + e];
      O[i * dv + e] = o / sum;
    }
  }
  return O;
};

ops('attention heads on column slices of a fused buffer: dq = 0, ragged widths, position bias and gate', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const T of [1, 3, 6, 13]) {
      // ragged heads: (dq, dv, relb, gate)
      const spec: [number, number, boolean, boolean][] = [[4, 3, false, false], [0, 2, false, false], [5, 1, true, true], [0, 3, true, false], [2, 5, true, true]];
      const r = ref.rng(T * 101 + threads);
      const qk = spec.reduce((a, s) => a + s[0], 0), vt = spec.reduce((a, s) => a + s[1], 0);
      const ld = 2 * qk + vt;
      const buf = ref.randomArray(T * ld, r, -1.5, 1.5);
      const relbs = spec.map(() => ref.randomArray(2 * T - 1, r));
      const gates = spec.map(() => ref.randomArray(T, r, 0.5, 2));
      const R = ref.randomArray(T * vt, r);
      const B = put(rt, buf), O = zeros(rt, T * vt), dO = put(rt, R), dBuf = put(rt, new Float32Array(T * ld).fill(NaN));
      const scale = 0.4;
      const heads: AttentionHead[] = [], grads: AttentionHeadGrads[] = [];
      let qo = 0, vo = 0;
      const rb: number[] = [], gp: number[] = [], drb: number[] = [], dgp: number[] = [];
      spec.forEach(([dq, dv, useR, useG], i) => {
        rb.push(put(rt, relbs[i]));
        gp.push(put(rt, gates[i]));
        drb.push(zeros(rt, 2 * T - 1));
        dgp.push(zeros(rt, T));
        heads.push({ dq, dv, Q: B + qo * 4, K: B + (qk + qo) * 4, ldqk: ld, V: B + (2 * qk + vo) * 4, ldv: ld, O: O + vo * 4, ldo: vt,
          P: zeros(rt, T * T), relb: useR ? rb[i] : 0, gate: useR && useG ? gp[i] : 0 });
        grads.push({ dQ: dBuf + qo * 4, dK: dBuf + (qk + qo) * 4, lddqk: ld, dV: dBuf + (2 * qk + vo) * 4, lddv: ld, dO: dO + vo * 4, lddo: vt, drelb: drb[i], dgate: dgp[i] });
        qo += dq;
        vo += dv;
      });
      // q/k columns of dq = 0 heads do not exist; nothing else may stay NaN
      rt.ops.attentionForward(T, heads, scale);
      rt.ops.attentionBackward(T, heads, grads, scale);
      const out = get(rt, O, T * vt), dbuf = get(rt, dBuf, T * ld);
      assert.ok(dbuf.every((e) => Number.isFinite(e)), `${threads}T T=${T}: every gradient column written`);
      qo = 0;
      vo = 0;
      spec.forEach(([dq, dv, useR, useG], i) => {
        const what = `head ${i} (dq ${dq}, dv ${dv}, bias ${useR}, gate ${useG}) ${threads}T T=${T}`;
        const slice = (off: number, w: number, src: Float32Array, ldd: number) => { const o = new Float32Array(T * w); for (let t = 0; t < T; t++) for (let c = 0; c < w; c++) o[t * w + c] = src[t * ldd + off + c]; return o; };
        const q = slice(qo, dq, buf, ld), k = slice(qk + qo, dq, buf, ld), v = slice(2 * qk + vo, dv, buf, ld);
        const f = headRef(T, dq, dv, scale, useR, useG);
        ref.assertClose(slice(vo, dv, out, vt), f([f64(q), f64(k), f64(v), f64(relbs[i]), f64(gates[i])]), 1e-5, `${what} forward`);
        const Ri = slice(vo, dv, R, vt);
        checkGrads(what, f, [q, k, v, relbs[i], gates[i]], Ri, [
          dq ? slice(qo, dq, dbuf, ld) : null, dq ? slice(qk + qo, dq, dbuf, ld) : null, slice(2 * qk + vo, dv, dbuf, ld),
          useR ? get(rt, drb[i], 2 * T - 1) : null, useR && useG ? get(rt, dgp[i], T) : null,
        ]);
        qo += dq;
        vo += dv;
      });
    }
  }
});

ops('WavLM gate: gru_rel_pos_linear over the input split into original heads, sigmoid sums, per-head constant', async () => {
  for (const threads of THREADS) {
    const rt = await runtime(threads);
    for (const [T, H, hd, heads] of [[1, 2, 3, [1]], [5, 4, 6, [0, 2, 3]], [9, 3, 5, [0, 1, 2]]] as [number, number, number, number[]][]) {
      const r = ref.rng(T * 11 + H);
      const x = ref.randomArray(T * H * hd, r), w = ref.randomArray(8 * hd, r), b = ref.randomArray(8, r), c = ref.randomArray(H, r, 0.5, 1.5);
      const R = ref.randomArray(heads.length * T, r);
      const f: Fn = ([X, W, B, C]) => {
        const g = new Float64Array(heads.length * T);
        const sg = (v: number) => 1 / (1 + Math.exp(-v));
        heads.forEach((h, k) => {
          for (let i = 0; i < T; i++) {
            const p = new Float64Array(8);
            for (let o = 0; o < 8; o++) { p[o] = B[o]; for (let j = 0; j < hd; j++) p[o] += W[o * hd + j] * X[(i * H + h) * hd + j]; }
            const a = sg(p[0] + p[1] + p[2] + p[3]), bb = sg(p[4] + p[5] + p[6] + p[7]);
            g[k * T + i] = a * (bb * C[h] - 1) + 2;
          }
        });
        return g;
      };
      const X = put(rt, x), W = put(rt, w), B = put(rt, b), C = put(rt, c), P = zeros(rt, T * H * 8), G = zeros(rt, heads.length * T);
      rt.ops.wavlmGateForward(T, H, hd, X, W, B, C, heads, P, G);
      const what = `wavlm gate ${threads}T T=${T} H=${H}`;
      ref.assertClose(get(rt, G, heads.length * T), f([f64(x), f64(w), f64(b), f64(c)]), 1e-5, `${what} forward`);
      const dX = zeros(rt, x.length), dW = zeros(rt, w.length), dB = zeros(rt, 8), dC = zeros(rt, H);
      rt.ops.wavlmGateBackward(T, H, hd, X, W, C, heads, P, put(rt, R), dX, dW, dB, dC);
      checkGrads(what, f, [x, w, b, c], R, [get(rt, dX, x.length), get(rt, dW, w.length), get(rt, dB, 8), get(rt, dC, H)]);
    }
  }
});

ops('distillation loss L1 − cosine: value and gradient (written, accumulated, scaled)', () => {
  for (const [T, D] of [[1, 1], [3, 5], [7, 17]]) {
    const r = ref.rng(T * 9 + D);
    const s = ref.randomArray(T * D, r), t = ref.randomArray(T * D, r);
    const grad = new Float32Array(T * D);
    const res = distillLoss(s, t, T, D, grad);
    let l1 = 0, cs = 0;
    for (let f = 0; f < T; f++) {
      let a = 0, b = 0, c = 0;
      for (let d = 0; d < D; d++) { const x = s[f * D + d], y = t[f * D + d]; l1 += Math.abs(x - y); a += x * x; b += y * y; c += x * y; }
      cs += c / Math.sqrt(a * b);
    }
    assert.ok(Math.abs(res.l1 - l1 / (T * D)) < 1e-12 && Math.abs(res.cos - cs / T) < 1e-12, 'loss parts');
    assert.ok(Math.abs(res.loss - (res.l1 - res.cos)) < 1e-12, 'loss = l1 − cos');
    checkGrads(`distill T=${T} D=${D}`, ([a]) => Float64Array.of(distillLoss(a, t, T, D).loss), [s], [1], [grad], 1e-3);
    // accumulate with a scale
    const g2 = grad.slice();
    distillLoss(s, t, T, D, g2, { accumulate: true, scale: 0.5 });
    ref.assertClose(g2, Array.from(grad, (e) => 1.5 * e), 1e-6, 'accumulated, scaled');
  }
});

ops('threads: 1 and 2 threads give the same op results', async () => {
  const one = await runtime(1), two = await runtime(2);
  const r = ref.rng(77);
  const [M, N, K] = [300, 70, 50];
  const x = ref.randomArray(M * K, r), w = ref.randomArray(N * K, r), R = ref.randomArray(M * N, r);
  const res = await Promise.all([one, two].map(async (rt) => {
    const X = put(rt, x), W = put(rt, w), Y = zeros(rt, M * N), dX = zeros(rt, M * K), dW = zeros(rt, N * K), dB = zeros(rt, N), dY = put(rt, R);
    rt.ops.linearForward(M, N, K, X, K, W, 0, Y, N);
    rt.ops.linearBackward(M, N, K, X, K, W, dY, N, dX, K, dW, dB);
    const g = zeros(rt, N), b = zeros(rt, N), d2 = zeros(rt, M * N);
    rt.ops.layerNormBackward(M, N, Y, dY, 0, d2, g, b, 1e-5);
    return [get(rt, Y, M * N), get(rt, dX, M * K), get(rt, dW, N * K), get(rt, dB, N), get(rt, d2, M * N), get(rt, g, N)];
  }));
  res[0].forEach((a, i) => ref.assertClose(res[1][i], a, 1e-5, `output ${i}`));
  for (const p of runtimes.values()) (await p).pool?.terminate();
});

ops.run();
