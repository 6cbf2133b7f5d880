import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';

const TOL = 1e-5;

// ---

const ln = suite('f32_layernorm');
ln('N ∈ {1, 3, 17, 768}, strided rows, out of place, with and without gamma/beta', async () => {
  const ks = await ref.kernels();
  let seed = 0;
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    for (const N of [1, 2, 3, 4, 5, 8, 17, 31, 768]) for (const M of [1, 3, 6]) for (const affine of [true, false]) {
      const r = ref.rng(++seed);
      const ar = ref.arena(k);
      const ldx = N + (seed % 3) * 3, ldy = N + (seed % 2) * 5;
      // an offset mean (5) and a spread of 3 exercise the two-pass variance
      const x = ref.randomArray((M - 1) * ldx + N, r, 2, 8);
      const y0 = ref.randomArray((M - 1) * ldy + N, r);
      const g = affine ? ref.randomArray(N, r, 0.5, 1.5) : null, b = affine ? ref.randomArray(N, r) : null;
      const X = ref.put(ar, x), Y = ref.put(ar, y0);
      k.exports.f32_layernorm(M, N, X, ldx, Y, ldy, g ? ref.put(ar, g) : 0, b ? ref.put(ar, b) : 0, 1e-5);
      const want = ref.layernorm(M, N, x, ldx, y0, ldy, g, b, 1e-5);
      // statistics per row; the gaps of a strided Y are their own (untouched) entries with the base tolerance
      const xs = new Float64Array(y0.length), inRow = (i: number) => i % ldy < N;
      for (let i = 0; i < y0.length; i++) if (inRow(i)) xs[i] = x[Math.floor(i / ldy) * ldx + (i % ldy)];
      const tol = ref.normTolerance(xs, want, y0.length, i => (inRow(i) ? Math.floor(i / ldy) : -1 - i), g, i => Math.min(i % ldy, N - 1), 1e-5, TOL);
      ref.assertCloseEach(ar.f32(Y, y0.length), want, tol, `${v} layernorm M=${M} N=${N} affine=${affine}`);
      assert.equal(Array.from(ar.f32(X, x.length)), Array.from(x), `${v} layernorm changed its input`);
    }
  }
});
ln('in place (Y = X) and a mean far from zero relative to the spread', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    for (const N of [3, 17, 768]) {
      const r = ref.rng(N);
      const ar = ref.arena(k);
      const x = ref.randomArray(2 * N, r, 99, 101);
      const g = ref.randomArray(N, r), b = ref.randomArray(N, r);
      const X = ref.put(ar, x);
      k.exports.f32_layernorm(2, N, X, N, X, N, ref.put(ar, g), ref.put(ar, b), 1e-5);
      ref.assertClose(ar.f32(X, 2 * N), ref.layernorm(2, N, x, N, x, N, g, b, 1e-5), 2e-5, `${v} layernorm in place N=${N}`);
    }
  }
});
ln('a constant row gives beta (variance 0, eps keeps it finite)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    const ar = ref.arena(k);
    const N = 13;
    const X = ref.put(ar, new Float32Array(N).fill(4.25));
    const b = ref.randomArray(N, ref.rng(1));
    k.exports.f32_layernorm(1, N, X, N, X, N, ref.put(ar, new Float32Array(N).fill(2)), ref.put(ar, b), 1e-5);
    ref.assertClose(ar.f32(X, N), b, 1e-7, `${v} constant row`);
  }
});
ln.run();

// ---

const gn = suite('f32_groupnorm_time');
gn('T × C edge shapes (C tails by 16 and 4, T across the 64-frame blocks), in place', async () => {
  const ks = await ref.kernels();
  let seed = 100;
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    for (const T of [1, 2, 3, 17, 64, 65, 200]) for (const C of [1, 3, 4, 5, 16, 17, 21, 36]) {
      const r = ref.rng(++seed);
      const ar = ref.arena(k);
      const affine = seed % 2 === 0;
      const x = ref.randomArray(T * C, r, -3, 5);
      const g = affine ? ref.randomArray(C, r, 0.5, 1.5) : null, b = affine ? ref.randomArray(C, r) : null;
      const X = ref.put(ar, x);
      const G = g ? ref.put(ar, g) : 0, B = b ? ref.put(ar, b) : 0;
      const S = ar.alloc(2 * C + 4);
      ar.f32(S + 8 * C, 4).fill(9);
      k.exports.f32_groupnorm_time(T, C, X, G, B, 1e-5, S);
      const want = ref.groupnormTime(T, C, x, g, b, 1e-5);
      const tol = ref.normTolerance(x, want, T * C, i => i % C, g, i => i % C, 1e-5, TOL);
      ref.assertCloseEach(ar.f32(X, T * C), want, tol, `${v} groupnorm T=${T} C=${C} affine=${affine}`);
      assert.equal(Array.from(ar.f32(S + 8 * C, 4)), [9, 9, 9, 9], `${v} groupnorm wrote past its 2·C scratch floats`);
    }
  }
});
gn('long T (wav2vec2 layer 0: 512 channels, ~1 s of frames) with a large mean', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const k = ks[v];
    const T = 3199, C = 512;
    const r = ref.rng(5);
    const ar = ref.arena(k);
    const x = ref.randomArray(T * C, r, 10, 14);
    const g = ref.randomArray(C, r), b = ref.randomArray(C, r);
    const X = ref.put(ar, x);
    k.exports.f32_groupnorm_time(T, C, X, ref.put(ar, g), ref.put(ar, b), 1e-5, ar.alloc(2 * C));
    ref.assertClose(ar.f32(X, T * C), ref.groupnormTime(T, C, x, g, b, 1e-5), TOL, `${v} groupnorm T=${T} C=${C}`);
  }
});
gn.run();
