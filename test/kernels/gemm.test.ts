import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';
import { instantiateKernels, SHARED_MAX_PAGES, type Kernels } from '../../src/runtime/wasm.js';

const TOL = 1e-5; // max-abs error ≤ TOL·max(1, max|ref|)

interface Case {
  M: number; N: number; K: number;
  lda: number; ldc: number; ldb?: number;
  bias: boolean; act: number; accumulate: boolean;
  /** rows of A overlap (lda < K, the implicit im2col of a strided conv) */
  seed: number;
}

function label(c: Case): string {
  return `M=${c.M} N=${c.N} K=${c.K} lda=${c.lda} ldc=${c.ldc}${c.ldb !== undefined ? ` ldb=${c.ldb}` : ''}` +
    ` bias=${+c.bias} act=${c.act} acc=${+c.accumulate}`;
}

/** Floats an A of M rows with stride lda and K columns spans. */
const span = (rows: number, ld: number, cols: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);

/**
 * Run one case through f32_gemm_packed (ldb undefined) or f32_gemm and compare the whole C buffer (including the
 * gaps of a strided C, which must stay as they were) with the reference. A is placed at the very end of memory so a
 * read past its last element traps.
 */
function check(k: Kernels, c: Case, variant: string): void {
  const r = ref.rng(c.seed);
  const ar = ref.arena(k);
  const a = ref.randomArray(span(c.M, c.lda, c.K), r);
  const W = ref.randomArray(c.N * c.K, r); // PyTorch layout [N][K]
  const C0 = ref.randomArray(span(c.M, c.ldc, c.N), r, -2, 2);
  const bias = ref.randomArray(c.N, r);
  const packed = c.ldb === undefined;
  const ldb = c.ldb ?? c.N;
  // B [K][N] with row stride ldb for f32_gemm; gaps hold junk the kernel must not use
  const Brm = ref.randomArray(span(c.K, ldb, c.N), r, 100, 200);
  for (let kk = 0; kk < c.K; kk++) for (let n = 0; n < c.N; n++) Brm[kk * ldb + n] = W[n * c.K + kk];

  const Cp = ref.put(ar, C0);
  const Bp = packed ? ar.alloc(k.exports.f32_packed_floats(c.N, c.K)) : ref.put(ar, Brm);
  const Wp = ref.put(ar, W);
  const biasP = c.bias ? ref.put(ar, bias) : 0;
  const Ap = ref.atEnd(ar, a);
  if (packed) k.exports.f32_pack_b(c.N, c.K, Wp, Bp);
  const args = [c.M, c.N, c.K, Ap, c.lda] as const;
  if (packed) k.exports.f32_gemm_packed(...args, Bp, Cp, c.ldc, biasP, c.act, +c.accumulate);
  else k.exports.f32_gemm(...args, Bp, ldb, Cp, c.ldc, biasP, c.act, +c.accumulate);

  const want = ref.gemm({ M: c.M, N: c.N, K: c.K, A: a, lda: c.lda, b: (kk, n) => W[n * c.K + kk], C: C0, ldc: c.ldc,
    bias: c.bias ? bias : null, act: c.act, accumulate: c.accumulate });
  ref.assertClose(ar.f32(Cp, C0.length), want, TOL, `${variant} ${packed ? 'f32_gemm_packed' : 'f32_gemm'} ${label(c)}`);
}

const Ms = [1, 2, 3, 4, 5, 7, 8, 17];
const Ns = [1, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24];
const Ks = [0, 1, 3, 4, 5, 8, 17, 64];
// f32_gemm_packed packs A only from 6 panels (N > 40) on: rows 1..13 cover every packed tile height (5×8 / 6×8
// main tiles and each 1..5-row tail) and a second tile of each
const MsPacked = [1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 37];
const NsPacked = [41, 48, 49, 55, 64];
const KsPacked = [0, 1, 3, 4, 5, 7, 17, 64];

/** The XNNPACK-style edge matrix; flags and strides rotate through every combination across the shapes. */
function matrix(rowMajorB: boolean, ms = Ms, ns = Ns, ks = Ks, seed0 = 0): Case[] {
  const cases: Case[] = [];
  let i = seed0;
  for (const M of ms) for (const N of ns) for (const K of ks) {
    const f = i++;
    const strided = f % 3 === 1;
    cases.push({
      M, N, K,
      lda: strided ? K + 3 : K, ldc: strided ? N + 5 : f % 3 === 2 ? N + 1 : N,
      ldb: rowMajorB ? (strided ? N + 2 : N) : undefined,
      bias: (f & 1) === 1, act: (f >> 1) & 1, accumulate: ((f >> 2) & 1) === 1, seed: f + (rowMajorB ? 10000 : 0),
    });
  }
  return cases;
}

// ---

const pack = suite('f32_pack_b');
pack('panel layout and zero padding are exact; size is ceil(N/8)·8·K', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    for (const [N, K] of [[1, 1], [3, 5], [8, 4], [9, 3], [17, 17], [24, 1], [5, 0]]) {
      assert.is(k.exports.f32_packed_floats(N, K), Math.ceil(N / 8) * 8 * K, `${v} packed_floats(${N}, ${K})`);
      const ar = ref.arena(k);
      const W = ref.randomArray(N * K, ref.rng(N * 100 + K));
      const n = k.exports.f32_packed_floats(N, K);
      const Bp = ar.alloc(n + 4);
      ar.f32(Bp, n + 4).fill(7); // junk where the padding goes, plus a guard after
      k.exports.f32_pack_b(N, K, ref.put(ar, W), Bp);
      assert.equal(Array.from(ar.f32(Bp, n)), Array.from(ref.packB(N, K, W)), `${v} pack N=${N} K=${K}`);
      assert.equal(Array.from(ar.f32(Bp + 4 * n, 4)), [7, 7, 7, 7], `${v} pack wrote past the end`);
    }
  }
});
pack.run();

// ---

const packed = suite('f32_gemm_packed');
packed('edge matrix M × N × K (incl. K = 0), strided A and C, bias / GELU / accumulate', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) for (const c of matrix(false)) check(ks[v], c, v);
});
packed('packed-A path (N > 40): every tile height and tail, K edges incl. 0, strided A and C, all flags', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) for (const c of matrix(false, MsPacked, NsPacked, KsPacked, 20000)) check(ks[v], c, v);
});
packed('packed-A path across row blocks: long K (few rows per workspace block), overlapping rows, GELU pass', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { M: 61, N: 50, K: 3000, lda: 3001, ldc: 53, bias: true, act: 1, accumulate: false, seed: 21 }, v);
    check(ks[v], { M: 41, N: 47, K: 6000, lda: 6000, ldc: 47, bias: true, act: 0, accumulate: true, seed: 22 }, v);
    check(ks[v], { M: 700, N: 45, K: 10, lda: 5, ldc: 45, bias: true, act: 1, accumulate: false, seed: 23 }, v);
    check(ks[v], { M: 1100, N: 43, K: 3, lda: 2, ldc: 44, bias: false, act: 1, accumulate: true, seed: 24 }, v);
    // K so long that not one packed row tile fits the workspace: the strided-A tiles take over
    check(ks[v], { M: 3, N: 41, K: 33000, lda: 33000, ldc: 41, bias: true, act: 0, accumulate: false, seed: 25 }, v);
  }
});
packed('every flag combination on a ragged shape', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    for (let f = 0; f < 8; f++) {
      check(ks[v], { M: 11, N: 29, K: 37, lda: 40, ldc: 31, bias: (f & 1) === 1, act: (f >> 1) & 1, accumulate: f >= 4, seed: f }, v);
    }
  }
});
packed('conv as implicit im2col: overlapping rows (lda < K)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    // first wav2vec2 conv: C_in = 1, k = 10, S = 5 → K = 10, lda = 5; a later one: C_in = 3, k = 3, S = 2
    check(ks[v], { M: 37, N: 19, K: 10, lda: 5, ldc: 19, bias: false, act: 1, accumulate: false, seed: 1 }, v);
    check(ks[v], { M: 9, N: 8, K: 9, lda: 6, ldc: 8, bias: true, act: 0, accumulate: false, seed: 2 }, v);
    check(ks[v], { M: 6, N: 3, K: 4, lda: 1, ldc: 3, bias: true, act: 1, accumulate: true, seed: 3 }, v);
  }
});
packed('large K spans several row blocks; long sums stay accurate', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { M: 50, N: 21, K: 1000, lda: 1000, ldc: 21, bias: true, act: 0, accumulate: false, seed: 4 }, v);
    check(ks[v], { M: 23, N: 9, K: 3072, lda: 3073, ldc: 10, bias: true, act: 1, accumulate: true, seed: 5 }, v);
    // GELU as a pass over finished panels: several row blocks, a partial last panel, with and without accumulate
    check(ks[v], { M: 190, N: 13, K: 3000, lda: 3000, ldc: 13, bias: true, act: 1, accumulate: false, seed: 9 }, v);
    check(ks[v], { M: 1100, N: 11, K: 3, lda: 2, ldc: 12, bias: true, act: 1, accumulate: false, seed: 10 }, v);
    check(ks[v], { M: 1100, N: 11, K: 3, lda: 2, ldc: 12, bias: false, act: 1, accumulate: true, seed: 11 }, v);
  }
});
packed('M = 0 or N = 0 writes nothing', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    const ar = ref.arena(k);
    const C = ar.alloc(8);
    ar.f32(C, 8).fill(3);
    const Bp = ar.alloc(64);
    k.exports.f32_gemm_packed(0, 8, 8, C, 8, Bp, C, 8, 0, 0, 0);
    k.exports.f32_gemm_packed(1, 0, 8, C, 8, Bp, C, 8, 0, 0, 0);
    k.exports.f32_gemm(0, 8, 8, C, 8, Bp, 8, C, 8, 0, 0, 0);
    assert.equal(Array.from(ar.f32(C, 8)), [3, 3, 3, 3, 3, 3, 3, 3]);
  }
});
packed.run();

// ---

const plain = suite('f32_gemm');
plain('edge matrix M × N × K (incl. K = 0), strided A, B and C, bias / GELU / accumulate', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) for (const c of matrix(true)) check(ks[v], c, v);
});
plain('attention shapes: scores = Q·Kᵀ (B = Kt, ldb = T) and P·V with a wide-strided V', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { M: 8, N: 50, K: 64, lda: 2304, ldc: 52, ldb: 50, bias: false, act: 0, accumulate: false, seed: 6 }, v);
    check(ks[v], { M: 7, N: 64, K: 50, lda: 52, ldc: 768, ldb: 2304, bias: false, act: 0, accumulate: false, seed: 7 }, v);
    check(ks[v], { M: 30, N: 13, K: 1000, lda: 1000, ldc: 13, ldb: 13, bias: true, act: 1, accumulate: true, seed: 8 }, v);
    check(ks[v], { M: 600, N: 15, K: 5, lda: 5, ldc: 15, ldb: 17, bias: true, act: 1, accumulate: false, seed: 12 }, v);
  }
});
plain.run();

// ---

const workspace = suite('workspace');
workspace('shared memory: 36 instances over one memory (more than the 32 workspace slots) all give identical, correct results', async () => {
  for (const variant of ['release-shared', 'relaxed-shared'] as const) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
    const first = await instantiateKernels(variant, memory);
    const ks: Kernels[] = [first];
    for (let i = 0; i < 35; i++) ks.push(await instantiateKernels(variant, memory)); // more instances than slots (32)
    const ar = ref.arena(first);
    const M = 37, N = 53, K = 300; // N > 40: the packed-A path where a workspace slot exists
    const r = ref.rng(77);
    const A = ref.put(ar, ref.randomArray(M * K, r)), W = ref.put(ar, ref.randomArray(N * K, r));
    const bias = ref.put(ar, ref.randomArray(N, r));
    const Bp = ar.alloc(first.exports.f32_packed_floats(N, K));
    first.exports.f32_pack_b(N, K, W, Bp);
    const outs = ks.map(() => ar.alloc(M * N));
    for (let rep = 0; rep < 2; rep++) ks.forEach((k, i) => k.exports.f32_gemm_packed(M, N, K, A, K, Bp, outs[i], N, bias, 1, 0));
    const want = Array.from(ar.f32(outs[0], M * N));
    const a = ar.f32(A, M * K), w = ar.f32(W, N * K);
    ref.assertClose(want, ref.gemm({ M, N, K, A: a, lda: K, b: (kk, n) => w[n * K + kk], C: new Float32Array(M * N), ldc: N,
      bias: ar.f32(bias, N), act: 1, accumulate: false }), 1e-5, `${variant} gemm`);
    ks.forEach((_, i) => assert.equal(Array.from(ar.f32(outs[i], M * N)), want, `${variant} instance ${i}`));
  }
});
workspace.run();
