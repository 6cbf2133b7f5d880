import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';

const SIZES = [1, 2, 3, 4, 5, 7, 8, 16, 17, 33];

// ---

const fill = suite('f32_fill');
fill('writes exactly n values', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    for (const n of [0, ...SIZES]) {
      const ar = ref.arena(ks[v]);
      const D = ar.alloc(n + 4);
      ar.f32(D, n + 4).fill(-1);
      ks[v].exports.f32_fill(n, D, 2.5);
      const got = Array.from(ar.f32(D, n + 4));
      assert.equal(got, [...new Array(n).fill(2.5), -1, -1, -1, -1], `${v} fill n=${n}`);
    }
  }
});
fill.run();

// ---

/** dst after the kernel, from a dst prefilled with `base` (gaps must keep it). */
function run2d(transpose: boolean, R: number, Cc: number, lds: number, ldd: number, variant: ref.Variant, seed: number) {
  return ref.kernels().then(ks => {
    const k = ks[variant];
    const ar = ref.arena(k);
    const r = ref.rng(seed);
    const src = ref.randomArray((R - 1) * lds + Cc, r);
    const dstLen = transpose ? (Cc - 1) * ldd + R : (R - 1) * ldd + Cc;
    const base = ref.randomArray(dstLen, r, 10, 20);
    const D = ref.put(ar, base);
    const S = ref.atEnd(ar, src);
    if (transpose) k.exports.f32_transpose(R, Cc, S, lds, D, ldd);
    else k.exports.f32_copy2d(R, Cc, S, lds, D, ldd);
    const want = Array.from(base);
    for (let i = 0; i < R; i++) for (let c = 0; c < Cc; c++) {
      want[transpose ? c * ldd + i : i * ldd + c] = src[i * lds + c];
    }
    return { got: Array.from(ar.f32(D, dstLen)), want };
  });
}

const copy2d = suite('f32_copy2d');
copy2d('all R × Cc edge shapes, dense and strided', async () => {
  let seed = 0;
  for (const v of ref.VARIANTS) for (const R of SIZES) for (const Cc of SIZES) for (const pad of [0, 3]) {
    const { got, want } = await run2d(false, R, Cc, Cc + pad, Cc + 2 * pad, v, ++seed);
    assert.equal(got, want, `${v} copy2d R=${R} Cc=${Cc} pad=${pad}`);
  }
});
copy2d.run();

// ---

const transpose = suite('f32_transpose');
transpose('all R × Cc edge shapes, dense and strided (keys of a fused QKV buffer)', async () => {
  let seed = 1000;
  for (const v of ref.VARIANTS) for (const R of SIZES) for (const Cc of SIZES) for (const pad of [0, 5]) {
    const { got, want } = await run2d(true, R, Cc, Cc + 3 * pad, R + pad, v, ++seed);
    assert.equal(got, want, `${v} transpose R=${R} Cc=${Cc} pad=${pad}`);
  }
});
transpose('a head of keys: T = 50 frames, D = 64, from a row stride of 3·768', async () => {
  for (const v of ref.VARIANTS) {
    const { got, want } = await run2d(true, 50, 64, 2304, 50, v, 7);
    assert.equal(got, want, `${v} transpose keys`);
  }
});
transpose.run();
