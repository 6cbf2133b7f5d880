// Elementwise arithmetic the pruner's training steps need (src/prune/ops.ts), and its optimiser step. Pointers are
// byte offsets, sizes and strides element counts, data f32; nothing is allocated. Four lanes at a time, then a
// scalar (or partial-vector) tail.

import { madd, load_lanes, store_lanes } from './simd';

// @ts-ignore: decorator
@inline function mul_cols_impl(M: i32, N: i32, X: usize, ldx: i32, z: usize, Y: usize, ldy: i32, add: bool): void {
  const n4 = N & ~3;
  for (let m = 0; m < M; m++) {
    const x = X + (<usize>m * <usize>ldx << 2);
    const y = Y + (<usize>m * <usize>ldy << 2);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      const p = f32x4.mul(v128.load(x + o), v128.load(z + o));
      v128.store(y + o, add ? f32x4.add(v128.load(y + o), p) : p);
    }
    for (; j < N; j++) {
      const o = <usize>j << 2;
      const p = load<f32>(x + o) * load<f32>(z + o);
      store<f32>(y + o, add ? load<f32>(y + o) + p : p);
    }
  }
}

/**
 * Y[m][n] = X[m][n]·z[n] (row strides ldx, ldy; Y may equal X): a per-column gate or scale.
 */
export function f32_mul_cols(M: i32, N: i32, X: usize, ldx: i32, z: usize, Y: usize, ldy: i32): void {
  mul_cols_impl(M, N, X, ldx, z, Y, ldy, false);
}

/**
 * Y[m][n] += X[m][n]·z[n].
 */
export function f32_mul_cols_add(M: i32, N: i32, X: usize, ldx: i32, z: usize, Y: usize, ldy: i32): void {
  mul_cols_impl(M, N, X, ldx, z, Y, ldy, true);
}

/**
 * Z = X + Y over n floats (Z may alias either).
 */
export function f32_add(n: i32, X: usize, Y: usize, Z: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(Z + o, f32x4.add(v128.load(X + o), v128.load(Y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(Z + o, load<f32>(X + o) + load<f32>(Y + o));
  }
}

/**
 * Y += a·X over n floats.
 */
export function f32_axpy(n: i32, a: f32, X: usize, Y: usize): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(Y + o, madd(v128.load(X + o), av, v128.load(Y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(Y + o, load<f32>(X + o) * a + load<f32>(Y + o));
  }
}

/**
 * One AdamW step over n parameters (PyTorch semantics): moments m, v updated from the gradient g, then
 * p ← p·(1 − lr·weightDecay) − lr·(m/bc1)/(√(v/bc2) + eps), with bc1 = 1 − β1^t and bc2 = 1 − β2^t from the caller.
 */
export function f32_adamw(n: i32, p: usize, g: usize, m: usize, v: usize, lr: f32, beta1: f32, beta2: f32, eps: f32,
                          weightDecay: f32, bc1: f32, bc2: f32): void {
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(<f32>1.0 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(<f32>1.0 - beta2);
  const step = f32x4.splat(lr / bc1);
  const ibc2 = f32x4.splat(<f32>1.0 / Mathf.sqrt(bc2));
  const ev = f32x4.splat(eps);
  const decay = f32x4.splat(<f32>1.0 - lr * weightDecay);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const k = min(4, n - i);
    const gv = load_lanes(g + o, k);
    const mv = madd(load_lanes(m + o, k), b1, f32x4.mul(gv, c1));
    const vv = madd(load_lanes(v + o, k), b2, f32x4.mul(f32x4.mul(gv, gv), c2));
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), ibc2), ev);
    const pv = f32x4.sub(f32x4.mul(load_lanes(p + o, k), decay), f32x4.div(f32x4.mul(mv, step), denom));
    store_lanes(m + o, mv, k);
    store_lanes(v + o, vv, k);
    store_lanes(p + o, pv, k);
  }
}
