// The int8 GEMM (assembly/q8gemm.ts) against the plain-TS reference (test/ref/kernels.ts q8Gemm), every build:
// the quantized activations (values and layout) and their scales must be bit-exact, the integer accumulators exact
// (read back through unit scales), and C bit-exact without GELU (every epilogue step is one correctly rounded f32
// operation, done in the same order); with GELU within 1e-5·max(1, max|C|), the vector erf's error (as gemm.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';
import type { Kernels } from '../../src/runtime/wasm.js';
import { quantizeRows, type Q8 } from '../../src/arch/quant.js';
import { packQ8, q8PackedBytes, q8ScaleFloats } from '../../src/runtime/pack-q8.js';

const GELU_TOL = 1e-5;

interface Case {
  M: number; N: number; K: number;
  lda: number; ldc: number;
  bias: boolean; act: number; accumulate: boolean;
  seed: number;
}

const label = (c: Case) => `M=${c.M} N=${c.N} K=${c.K} lda=${c.lda} ldc=${c.ldc} bias=${+c.bias} act=${c.act} acc=${+c.accumulate}`;
const span = (rows: number, ld: number, cols: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);

/** Place a packed q8 weight and its scales in the arena. */
function putWeights(ar: ReturnType<typeof ref.arena>, w: Q8, N: number, K: number): { Bq: number; sw: number } {
  const bytes = q8PackedBytes(N, K), sf = q8ScaleFloats(N);
  const Bq = ar.alloc(Math.ceil(bytes / 4)), sw = ar.alloc(sf);
  packQ8(w, N, K, new Int8Array(ar.memory.buffer, Bq, bytes), ar.f32(sw, sf));
  return { Bq, sw };
}

/** Quantized activation (m, k) read from q8_quantize_a's tile layout. */
function qaAt(k: Kernels, Aq: number, K: number, m: number, kk: number): number {
  const mr = k.exports.q8_tile_rows(), KP = (K + 1) >> 1;
  return new DataView(k.memory.buffer).getInt16(Aq + Math.floor(m / mr) * KP * 32 + (kk >> 1) * 32 + (m % mr) * 4 + (kk & 1) * 2, true);
}

/**
 * Run one case: quantize + GEMM, then compare activations, scales, integer sums and C with the reference. A sits
 * at the very end of memory so a read past its last element traps; C's gaps must stay as they were.
 */
function check(k: Kernels, c: Case, variant: string, fill?: { a: Float32Array; w: Q8 }): void {
  const what = `${variant} q8_gemm ${label(c)}`;
  const r = ref.rng(c.seed);
  const ar = ref.arena(k);
  const a = fill?.a ?? ref.randomArray(span(c.M, c.lda, c.K), r, -3, 3);
  const w = fill?.w ?? quantizeRows(ref.randomArray(c.N * c.K, r), c.N, c.K);
  const C0 = ref.randomArray(span(c.M, c.ldc, c.N), r, -2, 2);
  const bias = ref.randomArray(c.N, r);
  const { Bq, sw } = putWeights(ar, w, c.N, c.K);
  const Cp = ref.put(ar, C0), C1 = ref.put(ar, C0);
  const biasP = c.bias ? ref.put(ar, bias) : 0;
  const Aq = ar.alloc(Math.ceil(k.exports.q8_packed_a_bytes(c.M, c.K) / 4)), sa = ar.alloc(c.M);
  const ones = ref.put(ar, new Float32Array(Math.max(c.M, q8ScaleFloats(c.N))).fill(1));
  const Ap = ref.atEnd(ar, a);
  k.exports.q8_quantize_a(c.M, c.K, Ap, c.lda, Aq, sa);
  k.exports.q8_gemm(c.M, c.N, c.K, Aq, sa, Bq, sw, Cp, c.ldc, biasP, c.act, +c.accumulate);
  // the integer sums, read through unit scales (exact while |acc| < 2²⁴; f32-rounded beyond, as the reference)
  k.exports.q8_gemm(c.M, c.N, c.K, Aq, ones, Bq, ones, C1, c.ldc, 0, 0, 0);

  const want = ref.q8Gemm({ M: c.M, N: c.N, K: c.K, A: a, lda: c.lda, w: w.q, sw: w.scale, C: C0, ldc: c.ldc,
    bias: c.bias ? bias : null, act: c.act, accumulate: c.accumulate });
  assert.equal(Array.from(ar.f32(sa, c.M)), Array.from(want.sa), `${what}: activation scales`);
  for (let m = 0; m < c.M; m++) {
    for (let kk = 0; kk < c.K + (c.K & 1); kk++) {
      const got = qaAt(k, Aq, c.K, m, kk), exp = kk < c.K ? want.qa[m * c.K + kk] : 0;
      if (got !== exp) throw new Error(`${what}: quantized activation [${m}][${kk}] = ${got}, want ${exp}`);
    }
  }
  const c1 = ar.f32(C1, C0.length);
  for (let m = 0; m < c.M; m++) {
    for (let n = 0; n < c.N; n++) {
      const got = c1[m * c.ldc + n], exp = Math.fround(want.acc[m * c.N + n]);
      if (got !== exp) throw new Error(`${what}: integer sum [${m}][${n}] = ${got}, want ${exp}`);
    }
  }
  const got = ar.f32(Cp, C0.length);
  if (c.act === 1) {
    ref.assertClose(got, want.C, GELU_TOL, what);
  } else {
    for (let i = 0; i < C0.length; i++) {
      if (got[i] !== want.C[i]) throw new Error(`${what}: C[${i}] = ${got[i]}, want ${want.C[i]} (bit-exact)`);
    }
  }
}

const Ms = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 17];
const Ns = [1, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24, 41];
const Ks = [0, 1, 2, 3, 5, 8, 17, 64];

/** The edge matrix of gemm.test.ts: strides and flags rotate through every combination across the shapes. */
function matrix(seed0 = 0): Case[] {
  const cases: Case[] = [];
  let i = seed0;
  for (const M of Ms) for (const N of Ns) for (const K of Ks) {
    const f = i++;
    const strided = f % 3 === 1;
    cases.push({
      M, N, K, lda: strided ? K + 3 : K, ldc: strided ? N + 5 : f % 3 === 2 ? N + 1 : N,
      bias: (f & 1) === 1, act: (f >> 1) & 1, accumulate: ((f >> 2) & 1) === 1, seed: 30000 + f,
    });
  }
  return cases;
}

const gemm = suite('q8_gemm');
gemm('edge matrix M × N × K (incl. K = 0 and odd K), strided A and C, bias / GELU / accumulate; every tile height', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) for (const c of matrix()) check(ks[v], c, v);
});
gemm('every flag combination on a ragged shape', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    for (let f = 0; f < 8; f++) {
      check(ks[v], { M: 11, N: 29, K: 37, lda: 40, ldc: 31, bias: (f & 1) === 1, act: (f >> 1) & 1, accumulate: f >= 4, seed: f }, v);
    }
  }
});
gemm('conv as implicit im2col: overlapping rows (lda < K)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { M: 37, N: 19, K: 1536, lda: 1024, ldc: 19, bias: false, act: 1, accumulate: false, seed: 1 }, v);
    check(ks[v], { M: 9, N: 8, K: 9, lda: 6, ldc: 8, bias: true, act: 0, accumulate: false, seed: 2 }, v);
    check(ks[v], { M: 6, N: 3, K: 4, lda: 1, ldc: 3, bias: true, act: 0, accumulate: true, seed: 3 }, v);
  }
});
gemm('long K across row blocks (C exact; sums past 2²⁴ compared as f32, like the epilogue sees them)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { M: 50, N: 21, K: 1000, lda: 1000, ldc: 21, bias: true, act: 0, accumulate: false, seed: 4 }, v);
    check(ks[v], { M: 23, N: 9, K: 3072, lda: 3073, ldc: 10, bias: true, act: 0, accumulate: true, seed: 5 }, v);
    check(ks[v], { M: 190, N: 13, K: 3000, lda: 3000, ldc: 13, bias: true, act: 1, accumulate: false, seed: 9 }, v);
  }
});
gemm('both weight paths: i16-widened panels (≥ 2 row tiles per block) and int8 panels (1 tile: M ≤ 4, or K ≥ 16384)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    // K = 16382: a row tile is 262 KB, two fit the 512 KB block (widened); K = 16386: one per block (int8 panels)
    check(ks[v], { M: 6, N: 9, K: 16382, lda: 16382, ldc: 9, bias: true, act: 0, accumulate: false, seed: 10 }, v);
    check(ks[v], { M: 6, N: 9, K: 16386, lda: 16386, ldc: 9, bias: true, act: 0, accumulate: true, seed: 11 }, v);
    // the same weights and rows as one call of 8 rows (widened) and as two calls of 4 (int8): identical bits
    const k = ks[v], ar = ref.arena(k), r = ref.rng(12);
    const M = 8, N = 17, K = 3071;
    const a = ref.randomArray(M * K, r, -3, 3), w = quantizeRows(ref.randomArray(N * K, r), N, K);
    const { Bq, sw } = putWeights(ar, w, N, K);
    const A = ref.put(ar, a), bias = ref.put(ar, ref.randomArray(N, r));
    const Aq = ar.alloc(Math.ceil(k.exports.q8_packed_a_bytes(M, K) / 4)), sa = ar.alloc(M);
    const C1 = ar.alloc(M * N), C2 = ar.alloc(M * N);
    k.exports.q8_quantize_a(M, K, A, K, Aq, sa);
    k.exports.q8_gemm(M, N, K, Aq, sa, Bq, sw, C1, N, bias, 0, 0);
    for (const m0 of [0, 4]) {
      k.exports.q8_quantize_a(4, K, A + m0 * K * 4, K, Aq, sa);
      k.exports.q8_gemm(4, N, K, Aq, sa, Bq, sw, C2 + m0 * N * 4, N, bias, 0, 0);
    }
    assert.equal(Array.from(ar.f32(C2, M * N)), Array.from(ar.f32(C1, M * N)), `${v}: 8 rows at once vs 2 × 4 rows`);
  }
});
gemm('zero rows of A: scale 1, all-zero activations, C = bias', async () => {
  const ks = await ref.kernels();
  const M = 7, N = 10, K = 33;
  const r = ref.rng(5);
  const a = ref.randomArray(M * K, r);
  a.fill(0, 2 * K, 3 * K); // row 2
  a.fill(0, 6 * K, 7 * K); // row 6 (the second tile)
  const w = quantizeRows(ref.randomArray(N * K, r), N, K);
  for (const v of ref.VARIANTS) check(ks[v], { M, N, K, lda: K, ldc: N, bias: true, act: 0, accumulate: false, seed: 6 }, v, { a, w });
  const want = ref.q8QuantizeRows(M, K, a, K);
  assert.is(want.sa[2], 1);
  assert.ok(want.q.subarray(6 * K, 7 * K).every((x) => x === 0));
});
gemm('M = 0 or N = 0 writes nothing', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    const ar = ref.arena(k);
    const C = ar.alloc(8);
    ar.f32(C, 8).fill(3);
    const B = ar.alloc(64);
    k.exports.q8_gemm(0, 8, 8, B, B, B, B, C, 8, 0, 0, 0);
    k.exports.q8_gemm(1, 0, 8, B, B, B, B, C, 8, 0, 0, 0);
    assert.equal(Array.from(ar.f32(C, 8)), [3, 3, 3, 3, 3, 3, 3, 3]);
  }
});
gemm.run();

// ---

const limits = suite('q8 overflow rule');
limits('levels: L = min(2047, floor((2³¹ − 1)/(127·Kp))), 2047 up to K = 8260, fewer beyond', async () => {
  const ks = await ref.kernels();
  for (const K of [0, 1, 2, 767, 768, 3072, 8259, 8260, 8261, 8262, 10000, 65536, 1 << 20]) {
    for (const v of ref.VARIANTS) assert.is(ks[v].exports.q8_levels(K), ref.q8Levels(K), `${v} K=${K}`);
  }
  assert.is(ref.q8Levels(3072), 2047);
  assert.is(ref.q8Levels(8260), 2047);
  assert.is(ref.q8Levels(8262), 2046);
  assert.is(ref.q8Levels(10000), 1690);
  // the bound holds and is tight: one more level would overflow at these K
  for (const K of [8262, 10000, 65536]) {
    const L = ref.q8Levels(K);
    assert.ok(K * 127 * L <= 2 ** 31 - 1 && K * 127 * (L + 1) > 2 ** 31 - 1, `K=${K}`);
  }
});
limits('saturated inputs, signs aligned (every product ±127·L): the i32 sums reach ±K·127·L without wrapping', async () => {
  const ks = await ref.kernels();
  for (const K of [3072, 8260, 8262, 10000]) {
    const M = 7, N = 9;
    // |a| = 2.5 everywhere, the sign pattern of w matches a's, flipped on odd columns
    const a = new Float32Array(M * K), q = new Int8Array(N * K);
    for (let m = 0; m < M; m++) for (let kk = 0; kk < K; kk++) a[m * K + kk] = (kk % 3 === 0) !== (m % 2 === 1) ? -2.5 : 2.5;
    for (let n = 0; n < N; n++) for (let kk = 0; kk < K; kk++) q[n * K + kk] = (kk % 3 === 0) !== (n % 2 === 1) ? -127 : 127;
    const w = { q, scale: new Float32Array(N).fill(0.01) };
    const L = ref.q8Levels(K);
    const want = ref.q8Gemm({ M, N, K, A: a, lda: K, w: q, sw: w.scale, C: new Float32Array(M * N), ldc: N, bias: null, act: 0, accumulate: false });
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) assert.is(want.acc[m * N + n], (m % 2 === n % 2 ? 1 : -1) * K * 127 * L);
    for (const v of ref.VARIANTS) {
      check(ks[v], { M, N, K, lda: K, ldc: N, bias: false, act: 0, accumulate: false, seed: 7 }, `${v} saturated`, { a, w });
    }
  }
});
limits.run();
