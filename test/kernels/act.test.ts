import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';

// Inputs every elementwise kernel sees: signed zeros, the ±30 / ±1e4 extremes, a dense sweep and random values,
// in lengths that exercise the 8-wide body and every 1..3 tail.
function inputs(): Float32Array {
  const v: number[] = [0, -0, 30, -30, 1e4, -1e4, 1e-30, -1e-30, 1, -1, 3.4e38, -3.4e38, 88, 89, -87, -104, -120];
  for (let x = -20; x <= 20; x += 0.001) v.push(x);
  const r = ref.rng(7);
  for (let i = 0; i < 5000; i++) v.push(r(-8, 8));
  return Float32Array.from(v);
}

type Unary = 'f32_gelu' | 'f32_exp' | 'f32_erf';

/** Run a unary kernel out of place on x[0..n) and in place, return both results. */
async function runUnary(variant: ref.Variant, name: Unary, x: Float32Array): Promise<{ out: Float32Array; inPlace: Float32Array }> {
  const k = (await ref.kernels())[variant];
  const ar = ref.arena(k);
  const X = ref.put(ar, x), Y = ar.alloc(x.length + 4);
  ar.f32(Y, x.length + 4).fill(12345);
  k.exports[name](x.length, X, Y);
  const guard = ar.f32(Y + 4 * x.length, 4);
  assert.ok(guard.every(g => g === 12345), `${name} wrote past n`);
  const out = ar.f32(Y, x.length).slice();
  k.exports[name](x.length, X, X);
  return { out, inPlace: ar.f32(X, x.length).slice() };
}

// ---

const reference = suite('reference erf');
reference('matches known values (so the kernel tests compare against the truth)', () => {
  const known: [number, number][] = [[0.5, 0.52049987781304653768], [1, 0.84270079294971486934], [2, 0.99532226501895273416],
    [2.4999, 0.99959283009966654862], [2.5, 0.99959304798255504106], [3, 0.99997790950300141456]];
  for (const [x, y] of known) {
    assert.ok(Math.abs(ref.erf(x) - y) < 1e-14, `erf(${x})`);
    assert.ok(Math.abs(ref.erf(-x) + y) < 1e-14, `erf(${-x})`);
  }
  const tail: [number, number][] = [[2.5, 0.00040695201744495893956], [3, 0.000022090496998585441373],
    [5, 1.5374597944280348502e-12], [10, 2.088487583762544757e-45]];
  for (const [x, y] of tail) assert.ok(Math.abs(ref.erfc(x) / y - 1) < 1e-12, `erfc(${x})`);
});
reference.run();

// ---

const exp = suite('f32_exp');
exp('relative error ≤ 2e-7 on the normal range; +Inf on overflow; tiny and 0 on underflow', async () => {
  const x = inputs();
  for (const v of ref.VARIANTS) {
    for (const n of [1, 3, 5, 17, x.length]) {
      const xs = x.subarray(0, n);
      const { out, inPlace } = await runUnary(v, 'f32_exp', xs);
      for (let i = 0; i < n; i++) {
        const want = Math.exp(xs[i]);
        const f = Math.fround(want);
        const what = `${v} exp(${xs[i]}) = ${out[i]}, want ${want}`;
        if (f === Infinity) assert.is(out[i], Infinity, what);
        else if (f < 1.1754943508222875e-38) assert.ok(out[i] >= 0 && Math.abs(out[i] - want) <= 1.5e-45, what);
        else assert.ok(Math.abs(out[i] - want) <= 2e-7 * want, what);
        assert.ok(Object.is(inPlace[i], out[i]), `${v} exp in place differs at ${i}`);
      }
    }
  }
});
exp('-Infinity gives 0, +Infinity gives +Infinity', async () => {
  for (const v of ref.VARIANTS) {
    const { out } = await runUnary(v, 'f32_exp', Float32Array.from([-Infinity, Infinity, 0]));
    assert.equal(Array.from(out), [0, Infinity, 1]);
  }
});
exp.run();

// ---

const gelu = suite('f32_gelu');
gelu('|error| ≤ 2e-7 + 2e-7·|gelu(x)| (exact erf form), out of place and in place', async () => {
  const x = inputs();
  for (const v of ref.VARIANTS) {
    for (const n of [1, 3, 5, 8, 17, x.length]) {
      const xs = x.subarray(0, n);
      const { out, inPlace } = await runUnary(v, 'f32_gelu', xs);
      for (let i = 0; i < n; i++) {
        const want = ref.gelu(xs[i]);
        assert.ok(Math.abs(out[i] - want) <= 2e-7 + 2e-7 * Math.abs(want), `${v} gelu(${xs[i]}) = ${out[i]}, want ${want}`);
        assert.ok(Object.is(inPlace[i], out[i]), `${v} gelu in place differs at ${i}`);
      }
    }
  }
});
gelu('keeps the sign of zero and the identity at large |x|', async () => {
  for (const v of ref.VARIANTS) {
    const { out } = await runUnary(v, 'f32_gelu', Float32Array.from([0, -0, 1e4, -1e4, 30, -30]));
    assert.ok(Object.is(out[0], 0) && Object.is(out[1], -0), `${v} signed zero: ${out[0]}, ${out[1]}`);
    assert.is(out[2], 1e4);
    assert.is(out[3], 0);
    assert.is(out[4], 30);
    assert.is(out[5], 0);
  }
});
gelu.run();

// ---

const erf = suite('f32_erf');
erf('absolute error ≤ 2e-7 over all x', async () => {
  const x = inputs();
  for (const v of ref.VARIANTS) {
    const { out } = await runUnary(v, 'f32_erf', x);
    for (let i = 0; i < x.length; i++) {
      const want = ref.erf(x[i]);
      assert.ok(Math.abs(out[i] - want) <= 2e-7, `${v} erf(${x[i]}) = ${out[i]}, want ${want}`);
    }
  }
});
erf.run();
