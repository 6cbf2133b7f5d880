// Kernel-3, stride-2 convolutions (wav2vec2's conv layers 1–4) with Winograd's F(2,2) on the even taps.
// Output t reads input frames 2t, 2t+1, 2t+2 (rows of X, Cin floats each; conv weights w0, w1, w2 are [Cout][Cin]).
// For a pair of outputs (2q, 2q+1), with d0 = x[4q], d1 = x[4q+2], d2 = x[4q+4]:
//   y[2q]   = w0·d0 + w2·d1 + w1·x[4q+1] = w0·(d0 − d1) + w1·x[4q+1] + m,     m = (w0 + w2)·d1
//   y[2q+1] = w0·d1 + w2·d2 + w1·x[4q+3] = w1·x[4q+3] + w2·(d2 − d1) + m
// so a pair costs 5 Cout×Cin products instead of 6: m once (read in place, rows 4 apart), then [w0|w1] and [w1|w2]
// over rows [d0 − d1 | x[4q+1]] and [x[4q+3] | d2 − d1] built per chunk of pairs in scratch (L2-sized), all three
// through the packed GEMM. The differences are of neighbouring frames, so rounding stays at the direct form's level.
// f32_col2im_add, at the end, is the pruner's backward of a strided conv's input (any kernel and stride).

import { f32_gemm_packed } from './gemm';
import { gelu4 } from './math';
import { load_lanes, store_lanes } from './simd';

// @ts-ignore: decorator
@inline const PAIRS = 128; // output pairs per chunk

/** Scratch floats f32_conv_k3s2 needs: two [PAIRS][2·Cin] row buffers and m [PAIRS][Cout]. */
export function f32_conv_k3s2_scratch_floats(Cin: i32, Cout: i32): i32 {
  return PAIRS * (4 * Cin + Cout) + 12;
}

/** dst[0..n) = a[0..n) − b[0..n) */
// @ts-ignore: decorator
@inline function sub_row(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.sub(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(a + o) - load<f32>(b + o));
  }
}

/**
 * Output rows [2·p0, min(2·p1, nOut)) of Y [nOut][Cout] (row stride Cout) from X [≥ 2·nOut + 1][Cin] (row stride
 * Cin): Y[t] = act(w0·X[2t] + w1·X[2t+1] + w2·X[2t+2] + bias). Wm = packed w0 + w2 ([Cout][Cin]), We = packed
 * [w0|w1], Wo = packed [w1|w2] ([Cout][2·Cin], f32_pack_b); bias [Cout] or 0; act 1 = GELU; S: scratch of
 * f32_conv_k3s2_scratch_floats(Cin, Cout) floats. Pairs [p0, p1) must satisfy 2·p0 < nOut and p1 ≤ ⌈nOut/2⌉.
 */
export function f32_conv_k3s2(p0: i32, p1: i32, nOut: i32, Cin: i32, Cout: i32, X: usize, Wm: usize, We: usize,
                              Wo: usize, bias: usize, Y: usize, act: i32, S: usize): void {
  assert(p0 >= 0 && p0 <= p1 && 2 * p1 <= nOut + 1 && Cin > 0 && Cout > 0, 'f32_conv_k3s2: bad sizes');
  const K2 = 2 * Cin;
  const ci4 = <usize>Cin << 2, co4 = <usize>Cout << 2;
  const Ue = (S + 15) & ~<usize>15;
  const Uo = Ue + (<usize>(PAIRS * K2) << 2);
  const M = Uo + (<usize>(PAIRS * K2) << 2);
  const nodd = nOut >> 1; // pairs q < nodd have an odd output 2q + 1
  for (let q0 = p0; q0 < p1; q0 += PAIRS) {
    const q1 = min(p1, q0 + PAIRS), n = q1 - q0, no = max(0, min(q1, nodd) - q0);
    for (let q = q0; q < q1; q++) {
      const x0 = X + <usize>(4 * q) * ci4;
      const ue = Ue + <usize>(q - q0) * (ci4 << 1);
      sub_row(ue, x0, x0 + (ci4 << 1), Cin);
      memory.copy(ue + ci4, x0 + ci4, ci4);
      if (q < nodd) {
        const uo = Uo + <usize>(q - q0) * (ci4 << 1);
        memory.copy(uo, x0 + ci4 * 3, ci4);
        sub_row(uo + ci4, x0 + (ci4 << 2), x0 + (ci4 << 1), Cin);
      }
    }
    f32_gemm_packed(n, Cout, Cin, X + <usize>(4 * q0 + 2) * ci4, 4 * Cin, Wm, M, Cout, bias, 0, 0);
    f32_gemm_packed(n, Cout, K2, Ue, K2, We, Y + <usize>(2 * q0) * co4, 2 * Cout, 0, 0, 0);
    if (no > 0) f32_gemm_packed(no, Cout, K2, Uo, K2, Wo, Y + <usize>(2 * q0 + 1) * co4, 2 * Cout, 0, 0, 0);
    // Y[2q] += m[q], Y[2q + 1] += m[q], then the activation
    for (let q = q0; q < q1; q++) {
      const m = M + <usize>(q - q0) * co4;
      const rows = q < nodd ? 2 : 1;
      for (let r = 0; r < rows; r++) {
        const y = Y + <usize>(2 * q + r) * co4;
        let c = 0;
        for (; c + 4 <= Cout; c += 4) {
          const o = <usize>c << 2;
          let v = f32x4.add(v128.load(y + o), v128.load(m + o));
          if (act == 1) v = gelu4(v);
          v128.store(y + o, v);
        }
        if (c < Cout) {
          const o = <usize>c << 2, k = Cout - c;
          let v = f32x4.add(load_lanes(y + o, k), load_lanes(m + o, k));
          if (act == 1) v = gelu4(v);
          store_lanes(y + o, v, k);
        }
      }
    }
  }
}

// --- training: the transpose of a strided conv's implicit im2col (src/prune/ops.ts) -----------------------------

/**
 * dX[(t·S)·Cin + j] += cols[t·K·Cin + j] for t < Tout, j < K·Cin: the transpose of the implicit im2col a strided
 * time-major conv reads (kernel K, stride S, Cin channels), so a conv's input gradient is one GEMM and this.
 */
export function f32_col2im_add(Tout: i32, S: i32, K: i32, Cin: i32, cols: usize, dX: usize): void {
  const W = K * Cin;
  const w4 = W & ~3;
  for (let t = 0; t < Tout; t++) {
    const src = cols + (<usize>t * <usize>W << 2);
    const dst = dX + (<usize>t * <usize>S * <usize>Cin << 2);
    let j = 0;
    for (; j < w4; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; j < W; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}
