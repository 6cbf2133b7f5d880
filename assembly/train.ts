// Training kernels of the pruner (src/prune/ops.ts): the backward passes and reductions the inference kernels do not
// have. Pointers are byte offsets, sizes and strides are element counts, data is f32; nothing is allocated.
//
//   f32_softmax_rows(M, N, X, ldx)                    X[m][·] ← softmax(X[m][·]) in place (max-subtracted)
//   f32_softmax_rows_backward(M, N, P, ldp, dP, lddp) dP ← P ⊙ (dP − rowsum(dP ⊙ P)) in place (P = softmax output)
//   f32_attn_logits(T, S, lds, scale, relb, gate)     S[i][j] ← scale·S[i][j] + g_i·relb[j − i + T − 1]
//                                                     (relb [2T−1] or 0; gate [T] or 0 = all ones)
//   f32_attn_logits_backward(T, dS, lds, scale, relb, gate, drelb, dgate)
//                                                     drelb[j − i + T − 1] += g_i·dS[i][j], dgate[i] += Σ_j dS[i][j]·relb[…]
//                                                     (each skipped when its pointer is 0), then dS ← scale·dS
//   f32_gelu_backward(n, X, dY, dX, accumulate)       dX (+)= dY·(Φ(x) + x·φ(x)), exact-GELU derivative
//   f32_layernorm_backward(M, N, X, ldx, dY, ldy, gamma, dX, lddx, dgamma, dbeta, eps, accumulate)
//                                                     rows of X; mean and 1/std recomputed as f32_layernorm does;
//                                                     dX (+)= …, dgamma/dbeta += … (0 = skip; gamma 0 = ones; dX 0 = skip)
//   f32_groupnorm_time_backward(T, C, X, dY, gamma, dX, dgamma, dbeta, eps, scratch)
//                                                     X [T][C] each channel over T (f32_groupnorm_time); dX written
//                                                     (may equal dY); dgamma/dbeta += (0 = skip); scratch 4·C floats
//   f32_colsum(M, N, A, lda, out, accumulate)         out[n] (+)= Σ_m A[m][n]
//   f32_colsum_mul(M, N, A, lda, B, ldb, out, acc)    out[n] (+)= Σ_m A[m][n]·B[m][n]
//   f32_mul_cols(M, N, X, ldx, z, Y, ldy)             Y[m][n] = X[m][n]·z[n] (Y may equal X)
//   f32_mul_cols_add(M, N, X, ldx, z, Y, ldy)         Y[m][n] += X[m][n]·z[n]
//   f32_add(n, X, Y, Z)                               Z = X + Y (Z may alias either)
//   f32_axpy(n, a, X, Y)                              Y += a·X
//   f32_dot(n, X, Y) → f32                            Σ X·Y (four lanes, blocks of 256, so long sums round little)
//   f32_adamw(n, p, g, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2)
//                                                     PyTorch AdamW: m, v moments; p ← p·(1 − lr·wd) − lr·(m/bc1)/(√(v/bc2) + eps)
//                                                     with bc1 = 1 − β1^t, bc2 = 1 − β2^t supplied by the caller
//   f32_col2im_add(Tout, S, K, Cin, cols, dX)         dX[(t·S)·Cin + j] += cols[t·K·Cin + j], j < K·Cin (the transpose
//                                                     of the implicit im2col a strided time-major conv reads)
//   f32_pack_rows(K, N, B, ldb, Bp)                   row-major B [K][N] (row stride ldb, rows may overlap) → the panel
//                                                     layout of f32_pack_b: Bp[p·K·8 + k·8 + j] = B[k][8p + j], 0 past N.
//                                                     (f32_pack_b packs Wᵀ from W [N][K]; this packs B itself, with
//                                                     contiguous 8-float copies: dX = dY·W and dW = dYᵀ·X use it.)
// Column reductions run over blocks of 64 rows in registers added to the totals, like f32_groupnorm_time.

import { exp4, normal_tail4 } from './math';
import { hmax, hsum, madd, load_lanes, store_lanes } from './simd';
import { row_stats } from './norm';

// @ts-ignore: decorator
@inline const RB = 64; // rows per register-accumulated block of the column reductions

// --- softmax ----------------------------------------------------------------------------------------------------

export function f32_softmax_rows(M: i32, N: i32, X: usize, ldx: i32): void {
  if (N <= 0) return;
  const n4 = N & ~3;
  const zero = f32x4.splat(0);
  for (let m = 0; m < M; m++) {
    const x = X + (<usize>m * <usize>ldx << 2);
    let mx = f32x4.splat(-Infinity);
    let j = 0;
    for (; j < n4; j += 4) mx = f32x4.pmax(mx, v128.load(x + (<usize>j << 2)));
    let mxs = hmax(mx);
    for (; j < N; j++) mxs = max(mxs, load<f32>(x + (<usize>j << 2)));
    const mv = f32x4.splat(mxs);
    let acc = zero;
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      const e = exp4(f32x4.sub(v128.load(x + o), mv), zero);
      v128.store(x + o, e);
      acc = f32x4.add(acc, e);
    }
    if (j < N) {
      const n = N - j, o = <usize>j << 2;
      const valid = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
      const e = v128.and(exp4(f32x4.sub(load_lanes(x + o, n), mv), zero), valid);
      store_lanes(x + o, e, n);
      acc = f32x4.add(acc, e);
    }
    const inv: f32 = <f32>1.0 / hsum(acc);
    const iv = f32x4.splat(inv);
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), iv));
    }
    for (; j < N; j++) {
      const o = <usize>j << 2;
      store<f32>(x + o, load<f32>(x + o) * inv);
    }
  }
}

export function f32_softmax_rows_backward(M: i32, N: i32, P: usize, ldp: i32, dP: usize, lddp: i32): void {
  if (N <= 0) return;
  const n4 = N & ~3;
  for (let m = 0; m < M; m++) {
    const p = P + (<usize>m * <usize>ldp << 2);
    const d = dP + (<usize>m * <usize>lddp << 2);
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      acc = madd(v128.load(p + o), v128.load(d + o), acc);
    }
    let s = hsum(acc);
    for (; j < N; j++) s += load<f32>(p + (<usize>j << 2)) * load<f32>(d + (<usize>j << 2));
    const sv = f32x4.splat(s);
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      v128.store(d + o, f32x4.mul(v128.load(p + o), f32x4.sub(v128.load(d + o), sv)));
    }
    for (; j < N; j++) {
      const o = <usize>j << 2;
      store<f32>(d + o, load<f32>(p + o) * (load<f32>(d + o) - s));
    }
  }
}

// --- attention logits -------------------------------------------------------------------------------------------

export function f32_attn_logits(T: i32, S: usize, lds: i32, scale: f32, relb: usize, gate: usize): void {
  const t4 = T & ~3;
  const sv = f32x4.splat(scale);
  for (let i = 0; i < T; i++) {
    const s = S + (<usize>i * <usize>lds << 2);
    const rb = relb ? relb + (<usize>(T - 1 - i) << 2) : 0;
    const g: f32 = gate ? load<f32>(gate + (<usize>i << 2)) : 1.0;
    const gv = f32x4.splat(g);
    let j = 0;
    if (rb) {
      for (; j < t4; j += 4) {
        const o = <usize>j << 2;
        v128.store(s + o, madd(v128.load(rb + o), gv, f32x4.mul(v128.load(s + o), sv)));
      }
      for (; j < T; j++) {
        const o = <usize>j << 2;
        store<f32>(s + o, load<f32>(rb + o) * g + load<f32>(s + o) * scale);
      }
    } else {
      for (; j < t4; j += 4) {
        const o = <usize>j << 2;
        v128.store(s + o, f32x4.mul(v128.load(s + o), sv));
      }
      for (; j < T; j++) {
        const o = <usize>j << 2;
        store<f32>(s + o, load<f32>(s + o) * scale);
      }
    }
  }
}

export function f32_attn_logits_backward(T: i32, dS: usize, lds: i32, scale: f32, relb: usize, gate: usize,
                                         drelb: usize, dgate: usize): void {
  const t4 = T & ~3;
  const sv = f32x4.splat(scale);
  for (let i = 0; i < T; i++) {
    const s = dS + (<usize>i * <usize>lds << 2);
    const off = <usize>(T - 1 - i) << 2;
    const g: f32 = gate ? load<f32>(gate + (<usize>i << 2)) : 1.0;
    const gv = f32x4.splat(g);
    let acc = f32x4.splat(0);
    let accs: f32 = 0;
    let j = 0;
    for (; j < t4; j += 4) {
      const o = <usize>j << 2;
      const d = v128.load(s + o);
      if (relb && dgate) acc = madd(d, v128.load(relb + off + o), acc);
      if (drelb) v128.store(drelb + off + o, madd(d, gv, v128.load(drelb + off + o)));
      v128.store(s + o, f32x4.mul(d, sv));
    }
    for (; j < T; j++) {
      const o = <usize>j << 2;
      const d = load<f32>(s + o);
      if (relb && dgate) accs += d * load<f32>(relb + off + o);
      if (drelb) store<f32>(drelb + off + o, load<f32>(drelb + off + o) + d * g);
      store<f32>(s + o, d * scale);
    }
    if (relb && dgate) {
      const o = <usize>i << 2;
      store<f32>(dgate + o, load<f32>(dgate + o) + hsum(acc) + accs);
    }
  }
}

// --- GELU -------------------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function gelu_grad4(x: v128): v128 {
  // Φ(x) + x·φ(x); Φ from the Gaussian tail Q(|x|), φ(x) = e^(−x²/2)/√(2π)
  const ax = f32x4.abs(x);
  const q = normal_tail4(ax);
  const phiCdf = v128.bitselect(q, f32x4.sub(f32x4.splat(1.0), q), f32x4.lt(x, f32x4.splat(0.0)));
  const dens = f32x4.mul(exp4(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5)), f32x4.splat(0)), f32x4.splat(0.3989422804014327));
  return madd(x, dens, phiCdf);
}

export function f32_gelu_backward(n: i32, X: usize, dY: usize, dX: usize, accumulate: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const m = min(4, n - i);
    let g = f32x4.mul(load_lanes(dY + o, m), gelu_grad4(load_lanes(X + o, m)));
    if (accumulate) g = f32x4.add(g, load_lanes(dX + o, m));
    store_lanes(dX + o, g, m);
  }
}

// --- LayerNorm --------------------------------------------------------------------------------------------------

export function f32_layernorm_backward(M: i32, N: i32, X: usize, ldx: i32, dY: usize, ldy: i32, gamma: usize,
                                       dX: usize, lddx: i32, dgamma: usize, dbeta: usize, eps: f32,
                                       accumulate: i32): void {
  if (N <= 0) return;
  const n4 = N & ~3;
  const invN: f32 = 1.0 / <f32>N;
  const one = f32x4.splat(1.0);
  for (let m = 0; m < M; m++) {
    const x = X + (<usize>m * <usize>ldx << 2);
    const dy = dY + (<usize>m * <usize>ldy << 2);
    const st = row_stats(x, N, eps);
    const mean = f32x4.extract_lane(st, 0), rstd = f32x4.extract_lane(st, 1);
    const mv = f32x4.splat(mean), rv = f32x4.splat(rstd);
    // a = Σ dy·γ, b = Σ dy·γ·x̂; parameter gradients on the way
    let a4 = f32x4.splat(0), b4 = f32x4.splat(0);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      const d = v128.load(dy + o);
      const g = f32x4.mul(d, gamma ? v128.load(gamma + o) : one);
      a4 = f32x4.add(a4, g);
      b4 = madd(g, xh, b4);
      if (dgamma) v128.store(dgamma + o, madd(d, xh, v128.load(dgamma + o)));
      if (dbeta) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), d));
    }
    let a = hsum(a4), b = hsum(b4);
    for (; j < N; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(x + o) - mean) * rstd;
      const d = load<f32>(dy + o);
      const g = d * (gamma ? load<f32>(gamma + o) : <f32>1.0);
      a += g;
      b += g * xh;
      if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + d * xh);
      if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + d);
    }
    if (!dX) continue;
    a *= invN;
    b *= invN;
    const av = f32x4.splat(a), bv = f32x4.splat(b);
    const dx = dX + (<usize>m * <usize>lddx << 2);
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      const g = f32x4.mul(v128.load(dy + o), gamma ? v128.load(gamma + o) : one);
      let r = f32x4.mul(rv, f32x4.sub(f32x4.sub(g, av), f32x4.mul(xh, bv)));
      if (accumulate) r = f32x4.add(r, v128.load(dx + o));
      v128.store(dx + o, r);
    }
    for (; j < N; j++) {
      const o = <usize>j << 2;
      const xh = (load<f32>(x + o) - mean) * rstd;
      const g = load<f32>(dy + o) * (gamma ? load<f32>(gamma + o) : <f32>1.0);
      let r = rstd * (g - a - xh * b);
      if (accumulate) r += load<f32>(dx + o);
      store<f32>(dx + o, r);
    }
  }
}

// --- GroupNorm over time ----------------------------------------------------------------------------------------

export function f32_groupnorm_time_backward(T: i32, C: i32, X: usize, dY: usize, gamma: usize, dX: usize,
                                            dgamma: usize, dbeta: usize, eps: f32, scratch: usize): void {
  assert(scratch != 0, 'f32_groupnorm_time_backward: no scratch');
  if (T <= 0 || C <= 0) return;
  const C4 = <usize>C << 2;
  const mean = scratch, rstd = scratch + C4, sdy = scratch + 2 * C4, sdx = scratch + 3 * C4;
  const invT: f32 = 1.0 / <f32>T;
  for (let c = 0; c < 4 * C; c++) store<f32>(scratch + (<usize>c << 2), 0);
  // mean, then variance of the deviations (the forward's order), over blocks of RB frames
  colsum_blocks(T, C, X, C, 0, 0, 0, mean, 0);
  for (let c = 0; c < C; c++) store<f32>(mean + (<usize>c << 2), load<f32>(mean + (<usize>c << 2)) * invT);
  colsum_blocks(T, C, X, C, X, C, mean, rstd, 1);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(rstd + o, <f32>1.0 / Mathf.sqrt(load<f32>(rstd + o) * invT + eps));
  }
  // Σ dy and Σ dy·x̂ per channel
  colsum_blocks(T, C, dY, C, 0, 0, 0, sdy, 0);
  colsum_blocks(T, C, dY, C, X, C, mean, sdx, 2);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    const s = load<f32>(sdx + o) * load<f32>(rstd + o); // Σ dy·(x − mean) → Σ dy·x̂
    store<f32>(sdx + o, s);
    if (dgamma) store<f32>(dgamma + o, load<f32>(dgamma + o) + s);
    if (dbeta) store<f32>(dbeta + o, load<f32>(dbeta + o) + load<f32>(sdy + o));
  }
  // dx = γ·rstd·(dy − Σdy/T − x̂·Σ(dy·x̂)/T)
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(sdy + o, load<f32>(sdy + o) * invT);
    store<f32>(sdx + o, load<f32>(sdx + o) * invT);
  }
  for (let t = 0; t < T; t++) {
    const x = X + <usize>t * C4, dy = dY + <usize>t * C4, dx = dX + <usize>t * C4;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const r = v128.load(rstd + o);
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), v128.load(mean + o)), r);
      const inner = f32x4.sub(f32x4.sub(v128.load(dy + o), v128.load(sdy + o)), f32x4.mul(xh, v128.load(sdx + o)));
      const sc = gamma ? f32x4.mul(r, v128.load(gamma + o)) : r;
      v128.store(dx + o, f32x4.mul(sc, inner));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const r = load<f32>(rstd + o);
      const xh = (load<f32>(x + o) - load<f32>(mean + o)) * r;
      const inner = load<f32>(dy + o) - load<f32>(sdy + o) - xh * load<f32>(sdx + o);
      store<f32>(dx + o, (gamma ? r * load<f32>(gamma + o) : r) * inner);
    }
  }
}

// --- column reductions ------------------------------------------------------------------------------------------

/**
 * out[c] += Σ_m f(A[m][c], B[m][c]) over blocks of RB rows:
 *   mode 0: a;   mode 1: (a − mean[c])² (B unused, mean given);   mode 2: a·(b − mean[c]);   mode 3: a·b
 */
// @ts-ignore: decorator
@inline function colsum_block(NV: i32, A: usize, lda4: usize, B: usize, ldb4: usize, mean: usize, out: usize,
                               m0: i32, m1: i32, c0: i32, mode: i32): void {
  const o = <usize>c0 << 2;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let u0 = f32x4.splat(0), u1 = f32x4.splat(0), u2 = f32x4.splat(0), u3 = f32x4.splat(0);
  if (mode == 1 || mode == 2) {
    u0 = v128.load(mean + o);
    if (NV > 1) {
      u1 = v128.load(mean + o, 16);
      u2 = v128.load(mean + o, 32);
      u3 = v128.load(mean + o, 48);
    }
  }
  let pa = A + <usize>m0 * lda4 + o;
  let pb = B + <usize>m0 * ldb4 + o;
  for (let m = m0; m < m1; m++) {
    if (mode == 0) {
      a0 = f32x4.add(a0, v128.load(pa));
      if (NV > 1) {
        a1 = f32x4.add(a1, v128.load(pa, 16));
        a2 = f32x4.add(a2, v128.load(pa, 32));
        a3 = f32x4.add(a3, v128.load(pa, 48));
      }
    } else if (mode == 1) {
      const d0 = f32x4.sub(v128.load(pa), u0);
      a0 = madd(d0, d0, a0);
      if (NV > 1) {
        const d1 = f32x4.sub(v128.load(pa, 16), u1);
        const d2 = f32x4.sub(v128.load(pa, 32), u2);
        const d3 = f32x4.sub(v128.load(pa, 48), u3);
        a1 = madd(d1, d1, a1);
        a2 = madd(d2, d2, a2);
        a3 = madd(d3, d3, a3);
      }
    } else if (mode == 2) {
      a0 = madd(v128.load(pa), f32x4.sub(v128.load(pb), u0), a0);
      if (NV > 1) {
        a1 = madd(v128.load(pa, 16), f32x4.sub(v128.load(pb, 16), u1), a1);
        a2 = madd(v128.load(pa, 32), f32x4.sub(v128.load(pb, 32), u2), a2);
        a3 = madd(v128.load(pa, 48), f32x4.sub(v128.load(pb, 48), u3), a3);
      }
    } else {
      a0 = madd(v128.load(pa), v128.load(pb), a0);
      if (NV > 1) {
        a1 = madd(v128.load(pa, 16), v128.load(pb, 16), a1);
        a2 = madd(v128.load(pa, 32), v128.load(pb, 32), a2);
        a3 = madd(v128.load(pa, 48), v128.load(pb, 48), a3);
      }
    }
    pa += lda4;
    pb += ldb4;
  }
  v128.store(out + o, f32x4.add(v128.load(out + o), a0));
  if (NV > 1) {
    v128.store(out + o, f32x4.add(v128.load(out + o, 16), a1), 16);
    v128.store(out + o, f32x4.add(v128.load(out + o, 32), a2), 32);
    v128.store(out + o, f32x4.add(v128.load(out + o, 48), a3), 48);
  }
}

function colsum_blocks(M: i32, N: i32, A: usize, lda: i32, B: usize, ldb: i32, mean: usize, out: usize, mode: i32): void {
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2;
  for (let m0 = 0; m0 < M; m0 += RB) {
    const m1 = min(M, m0 + RB);
    let c = 0;
    if (mode == 0) {
      for (; c + 16 <= N; c += 16) colsum_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, 0);
      for (; c + 4 <= N; c += 4) colsum_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, 0);
    } else if (mode == 1) {
      for (; c + 16 <= N; c += 16) colsum_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, 1);
      for (; c + 4 <= N; c += 4) colsum_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, 1);
    } else if (mode == 2) {
      for (; c + 16 <= N; c += 16) colsum_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, 2);
      for (; c + 4 <= N; c += 4) colsum_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, 2);
    } else {
      for (; c + 16 <= N; c += 16) colsum_block(4, A, lda4, B, ldb4, mean, out, m0, m1, c, 3);
      for (; c + 4 <= N; c += 4) colsum_block(1, A, lda4, B, ldb4, mean, out, m0, m1, c, 3);
    }
    for (; c < N; c++) {
      const o = <usize>c << 2;
      const u: f32 = mode == 1 || mode == 2 ? load<f32>(mean + o) : 0;
      let s: f32 = 0;
      for (let m = m0; m < m1; m++) {
        const a = load<f32>(A + <usize>m * lda4 + o);
        if (mode == 0) s += a;
        else if (mode == 1) s += (a - u) * (a - u);
        else if (mode == 2) s += a * (load<f32>(B + <usize>m * ldb4 + o) - u);
        else s += a * load<f32>(B + <usize>m * ldb4 + o);
      }
      store<f32>(out + o, load<f32>(out + o) + s);
    }
  }
}

export function f32_colsum(M: i32, N: i32, A: usize, lda: i32, out: usize, accumulate: i32): void {
  if (N <= 0) return;
  if (!accumulate) for (let c = 0; c < N; c++) store<f32>(out + (<usize>c << 2), 0);
  colsum_blocks(M, N, A, lda, 0, 0, 0, out, 0);
}

export function f32_colsum_mul(M: i32, N: i32, A: usize, lda: i32, B: usize, ldb: i32, out: usize, accumulate: i32): void {
  if (N <= 0) return;
  if (!accumulate) for (let c = 0; c < N; c++) store<f32>(out + (<usize>c << 2), 0);
  colsum_blocks(M, N, A, lda, B, ldb, 0, out, 3);
}

// --- elementwise ------------------------------------------------------------------------------------------------

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

export function f32_mul_cols(M: i32, N: i32, X: usize, ldx: i32, z: usize, Y: usize, ldy: i32): void {
  mul_cols_impl(M, N, X, ldx, z, Y, ldy, false);
}

export function f32_mul_cols_add(M: i32, N: i32, X: usize, ldx: i32, z: usize, Y: usize, ldy: i32): void {
  mul_cols_impl(M, N, X, ldx, z, Y, ldy, true);
}

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

export function f32_dot(n: i32, X: usize, Y: usize): f32 {
  let total: f32 = 0;
  for (let b = 0; b < n; b += 256) {
    const e = min(n, b + 256);
    let acc = f32x4.splat(0);
    let i = b;
    for (; i + 4 <= e; i += 4) {
      const o = <usize>i << 2;
      acc = madd(v128.load(X + o), v128.load(Y + o), acc);
    }
    let s = hsum(acc);
    for (; i < e; i++) s += load<f32>(X + (<usize>i << 2)) * load<f32>(Y + (<usize>i << 2));
    total += s;
  }
  return total;
}

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

// --- convolution and packing helpers ----------------------------------------------------------------------------

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

export function f32_pack_rows(K: i32, N: i32, B: usize, ldb: i32, Bp: usize): void {
  const np = (N + 7) >> 3;
  const ldb4 = <usize>ldb << 2;
  for (let p = 0; p < np; p++) {
    const n0 = p << 3;
    const nv = min(8, N - n0);
    let dst = Bp + (<usize>p * <usize>K << 5);
    let src = B + (<usize>n0 << 2);
    if (nv == 8) {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
        src += ldb4;
      }
    } else {
      const a = min(4, nv), b = nv - 4;
      for (let k = 0; k < K; k++) {
        v128.store(dst, load_lanes(src, a));
        v128.store(dst, b > 0 ? load_lanes(src + 16, b) : f32x4.splat(0), 16);
        dst += 32;
        src += ldb4;
      }
    }
  }
}
