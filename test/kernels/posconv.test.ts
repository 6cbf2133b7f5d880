// The positional conv's DFT kernels (assembly/posconv.ts) against plain-TS references; the whole DFT conv is
// checked against the direct one and against torchaudio in test/posconv.test.ts and test/parity.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';

const cmix = suite('f32_cmix');
cmix('complex channel mixing per bin, every block count (pairs and the odd one), every build', async () => {
  const ks = await ref.kernels();
  const r = ref.rng(11);
  for (const v of ref.VARIANTS) {
    for (const [nb, C, NBp] of [[1, 1, 4], [2, 3, 4], [3, 5, 8], [5, 8, 12], [8, 2, 4]]) {
      const W2 = 2 * NBp;
      const X = ref.randomArray(nb * C * W2, r), H = ref.randomArray(C * C * W2, r);
      const ar = ref.arena(ks[v]);
      const px = ref.put(ar, X), ph = ref.put(ar, H), py = ar.alloc(nb * C * W2 + 4);
      ar.f32(py, nb * C * W2 + 4).fill(777);
      ks[v].exports.f32_cmix(nb, C, NBp, px, ph, py);
      const want = new Float64Array(nb * C * W2);
      for (let b = 0; b < nb; b++) {
        for (let o = 0; o < C; o++) {
          for (let f = 0; f < NBp; f++) {
            let re = 0, im = 0;
            for (let c = 0; c < C; c++) {
              const hr = H[(o * C + c) * W2 + f], hi = H[(o * C + c) * W2 + NBp + f];
              const xr = X[(b * C + c) * W2 + f], xi = X[(b * C + c) * W2 + NBp + f];
              re += hr * xr - hi * xi;
              im += hr * xi + hi * xr;
            }
            want[(b * C + o) * W2 + f] = re;
            want[(b * C + o) * W2 + NBp + f] = im;
          }
        }
      }
      ref.assertClose(ar.f32(py, nb * C * W2), want, 1e-6, `${v} nb=${nb} C=${C} NBp=${NBp}`);
      assert.ok(ar.f32(py + 4 * nb * C * W2, 4).every((g) => g === 777), `${v}: wrote past Y`);
    }
  }
});
cmix.run();

const bga = suite('f32_bias_gelu_add');
bga('X += GELU(Y + bias) over strided rows, 1..3-column tails, with and without bias; the row gaps untouched', async () => {
  const ks = await ref.kernels();
  const r = ref.rng(5);
  for (const v of ref.VARIANTS) {
    for (const [M, N] of [[1, 1], [3, 5], [4, 8], [7, 13]]) {
      for (const withBias of [true, false]) {
        const ldy = N + 3, ldx = N + 2;
        const Y = ref.randomArray(M * ldy, r, -4, 4), X = ref.randomArray(M * ldx, r), bias = ref.randomArray(N, r);
        const ar = ref.arena(ks[v]);
        const py = ref.put(ar, Y), px = ref.put(ar, X), pb = withBias ? ref.put(ar, bias) : 0;
        ks[v].exports.f32_bias_gelu_add(M, N, py, ldy, pb, px, ldx);
        const got = ar.f32(px, M * ldx);
        const want = Float64Array.from(X);
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) want[m * ldx + n] += ref.gelu(Y[m * ldy + n] + (withBias ? bias[n] : 0));
        }
        ref.assertClose(got, want, 2e-6, `${v} ${M}×${N} bias=${withBias}`);
        for (let m = 0; m < M; m++) for (let n = N; n < ldx; n++) assert.is(got[m * ldx + n], X[m * ldx + n], `${v}: gap written`);
      }
    }
  }
});
bga.run();
