// Elementwise activations over n floats: exact GELU and its derivative, exp, erf (the vector math is in math.ts).
//   X, Y: [n] f32, Y may equal X (in place). Four lanes at a time; the 1..3 tail goes through the same vector
//   code with a partial load/store, so every element gets bit-identical treatment.

import { exp4, gelu4, erf4, normal_tail4 } from './math';
import { load_lanes, madd, store_lanes } from './simd';

/** Y[i] = GELU(X[i]) = ½·X[i]·(1 + erf(X[i]/√2)), exact (erf-based) form. */
export function f32_gelu(n: i32, X: usize, Y: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const a = gelu4(v128.load(X + o));
    const b = gelu4(v128.load(X + o, 16));
    v128.store(Y + o, a);
    v128.store(Y + o, b, 16);
  }
  for (; i < n; i += 4) {
    const o = <usize>i << 2;
    const m = min(4, n - i);
    store_lanes(Y + o, gelu4(load_lanes(X + o, m)), m);
  }
}

/** Y[i] = e^X[i]; overflow gives +Inf, underflow rounds through the subnormals to 0. */
export function f32_exp(n: i32, X: usize, Y: usize): void {
  const zero = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const m = min(4, n - i);
    store_lanes(Y + o, exp4(load_lanes(X + o, m), zero), m);
  }
}

/** Y[i] = erf(X[i]) (exported for tests; GELU does not go through it). */
export function f32_erf(n: i32, X: usize, Y: usize): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const m = min(4, n - i);
    store_lanes(Y + o, erf4(load_lanes(X + o, m)), m);
  }
}

// @ts-ignore: decorator
@inline function gelu_grad4(x: v128): v128 {
  // Φ(x) + x·φ(x); Φ from the Gaussian tail Q(|x|), φ(x) = e^(−x²/2)/√(2π)
  const ax = f32x4.abs(x);
  const q = normal_tail4(ax);
  const phiCdf = v128.bitselect(q, f32x4.sub(f32x4.splat(1.0), q), f32x4.lt(x, f32x4.splat(0.0)));
  const dens = f32x4.mul(exp4(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5)), f32x4.splat(0)), f32x4.splat(0.3989422804014327));
  return madd(x, dens, phiCdf);
}

/**
 * dX (+)= dY·GELU′(X) = dY·(Φ(x) + x·φ(x)), the exact-GELU derivative (the backward of f32_gelu);
 * accumulate = 0 overwrites dX.
 */
export function f32_gelu_backward(n: i32, X: usize, dY: usize, dX: usize, accumulate: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const m = min(4, n - i);
    let g = f32x4.mul(load_lanes(dY + o, m), gelu_grad4(load_lanes(X + o, m)));
    if (accumulate) g = f32x4.add(g, load_lanes(dX + o, m));
    store_lanes(dX + o, g, m);
  }
}
