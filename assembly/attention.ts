// One attention head over query rows [i0, i1), in memory independent of T (online softmax):
//   s[i][j] = scale·Σ_{d<dq} Q[i][d]·Kt[d][j] + (relb ? g_i·relb[j − i + T − 1] : 0),  g_i = gate ? gate[i] : 1
//   p[i][·] = softmax(s[i][·]),  O[i][e] = Σ_j p[i][j]·V[j][e]  for e < dv (O overwritten)
//   Q  [T][dq] row stride ldq      Kt [dq][T] (keys transposed, dense)     V [T][dv] row stride ldv
//   O  [T][dv] row stride ldo      relb [2T−1] (WavLM position bias for this head, relative distance j − i)
//   gate [T] (WavLM gated position bias per query) or 0     S scratch: f32_attention_scratch_floats(T) floats
// dq = 0 gives all-zero scores (uniform average of V, plus the bias). Rows outside [i0, i1) of O are not touched.
//
// Flash-attention order: query rows in blocks of BQ, and for each block the keys in blocks of BK, keeping per query
// a running maximum m and sum l of exp(s − m) and a running Σ_j exp(s − m)·V[j]; when a key block raises m, the
// earlier sums are scaled by exp(m_old − m_new). Only one BQ×BK tile of scores exists at a time, so the scratch is
// O(BQ·BK + (BQ + BK)·D) whatever T is (T = 30000, 10 minutes of audio, needs the same ~400 KB as T = 499).
// Everything runs transposed, 8 queries to a panel, so that both products are the packed-A GEMM tiles of
// gemm.ts (assembly/gen/, FMA in the relaxed builds) and the softmax is lane-parallel over queries:
//   scores   Sᵀ[k][q] = Σ_d Kt[d][j0+k]·(scale·Q[ib+q][d])   A = key rows packed from Kt (kp), B = a Q panel (qp)
//   softmax  per panel: column max/sum are plain f32x4 max/add over k, no horizontal reductions
//   values   Oᵀ[e][q] += Σ_k V[j0+k][e]·P[q][k]             A = value columns packed from V (vp), B = the P panel
// then O = (Oᵀ)ᵀ / l once per query block. kp and vp are packed once per (query block, key block) and shared by
// the block's BQ/8 panels; packing costs ~1/(2·BQ) of the multiply-adds. Packing V also walks V's rows once per
// key block instead of once per tile, which keeps a strided V (rows 3C apart in a fused QKV buffer) off the TLB.
// Head widths above DMAX run in chunks: value columns by re-running the head per chunk of DMAX columns, query/key
// dims by accumulating the scores over chunks of DMAX.
//
// The pruner trains through attention with the explicit T×T form instead (it needs the probabilities for the
// backward pass): logits by GEMM, then f32_attn_logits, f32_softmax_rows, and their backwards, at the end of this file.

import { exp4, exp4_neg } from './math';
import { hmax, hsum, load_lanes, madd, store_lanes } from './simd';
import { MR, tile_pa, tile_pa_main } from './gemm';

// @ts-ignore: decorator
@inline const BQ = 128; // queries per block (16 panels of 8); 64 and 96 measured 2–3% slower, 32 8% slower
// @ts-ignore: decorator
@inline const BK = 128; // keys per block (64 and 256 measured within 2%)
// @ts-ignore: decorator
@inline const DMAX = 128; // widest dq / dv chunk

/** Queries per block for T keys (T also bounds the query rows): BQ, or T rounded up to whole panels when smaller. */
// @ts-ignore: decorator
@inline function block_q(T: i32): i32 {
  return min(BQ, (T + 7) & ~7);
}

/** Keys per block: BK, or T when smaller. */
// @ts-ignore: decorator
@inline function block_k(T: i32): i32 {
  return min(BK, T);
}

// Scratch layout in floats, for bq queries and bk keys per block (see f32_attention_scratch_floats):
//   qp  [bq/8 panels][DMAX][8]            scale·Q of the query block, transposed per panel
//   kp  [ceil(bk/MR) tiles][DMAX][8]      key rows of the key block, MR per tile (packed-A layout)
//   vp  [ceil(DMAX/MR) tiles][bk][8]      value columns of the key block, MR per tile (packed-A layout)
//   sp  [bq/8 panels][bk][8]              scores, then probabilities, of the (query, key) block
//   acc [bq/8 panels][DMAX][8]            running Σ_k p·V, transposed per panel
//   ml  [bq/8 panels][2][8]               running max m and sum l per query
//   win [bk + bq + 8]                     relb over the block's distances, reversed (see bias_window)
// @ts-ignore: decorator
@inline function key_tiles(bk: i32): i32 {
  return (bk + MR - 1) / MR;
}
// @ts-ignore: decorator
@inline function value_tiles(): i32 {
  return (DMAX + MR - 1) / MR;
}

/** Scratch floats f32_attention needs for T keys: a fixed budget (~400 KB) once T ≥ 128, less for shorter inputs. */
export function f32_attention_scratch_floats(T: i32): i32 {
  if (T <= 0) return 0;
  const bq = block_q(T), bk = block_k(T);
  return bq * DMAX + key_tiles(bk) * DMAX * 8 + value_tiles() * bk * 8 + bq * bk + bq * DMAX + bq * 2 + bk + bq + 8;
}

// --- packing ----------------------------------------------------------------------------------------------------

/** 8 floats from p where n (≥ 0) are readable: both halves in full when n ≥ 8, else only the first n. */
// @ts-ignore: decorator
@inline function copy8(dst: usize, src: usize, n: i32): void {
  if (n >= 8) {
    v128.store(dst, v128.load(src));
    v128.store(dst, v128.load(src, 16), 16);
  } else {
    v128.store(dst, load_lanes(src, min(n, 4)));
    v128.store(dst, load_lanes(src + 16, max(n - 4, 0)), 16);
  }
}

/**
 * qp panel p ← scale·Q[ib + 8p + q][d0 + d] at qp + 32·(p·nd + d) + 4·q, for q < 8 (0 beyond the nq query rows),
 * d < nd. q: &Q[ib][d0].
 */
function pack_q(q: usize, ldq4: usize, nq: i32, nd: i32, scale: f32, qp: usize): void {
  const np = (nq + 7) >> 3;
  for (let p = 0; p < np; p++) {
    const dst = qp + (<usize>(p * nd) << 5);
    for (let r = 0; r < 8; r++) {
      const i = (p << 3) + r;
      const dr = dst + (<usize>r << 2);
      if (i < nq) {
        const src = q + <usize>i * ldq4;
        for (let d = 0; d < nd; d++) store<f32>(dr + (<usize>d << 5), load<f32>(src + (<usize>d << 2)) * scale);
      } else {
        for (let d = 0; d < nd; d++) store<f32>(dr + (<usize>d << 5), 0);
      }
    }
  }
}

/**
 * kp tile t ← Kt[d][j0 + MR·t + 0..7] at kp + 32·(t·nd + d) for d < nd (lanes ≥ MR unused): the key rows of the
 * block in packed-A layout, a straight copy because Kt is already key-major along its rows. kt: &Kt[d0][j0];
 * T: row stride of Kt; cols: floats readable from j0 to the end of a Kt row (T − j0).
 */
function pack_kt(kt: usize, T: i32, cols: i32, nk: i32, nd: i32, kp: usize): void {
  const T4 = <usize>T << 2;
  const nt = key_tiles(nk);
  for (let t = 0; t < nt; t++) {
    const room = cols - t * MR; // readable floats from this tile's first key to the end of a Kt row
    let src = kt + (<usize>(t * MR) << 2);
    let dst = kp + (<usize>(t * nd) << 5);
    for (let d = 0; d < nd; d++) {
      copy8(dst, src, room);
      src += T4;
      dst += 32;
    }
  }
}

/**
 * vp tile t ← V[k][MR·t + 0..7] at vp + 32·(t·nk + k) for k < nk (lanes ≥ MR unused): the block's value columns
 * in packed-A layout. v: &V[j0][e0]; cols: readable floats from e0 to the end of the head in each V row.
 */
function pack_v(v: usize, ldv4: usize, nk: i32, nd: i32, cols: i32, vp: usize): void {
  const nt = (nd + MR - 1) / MR;
  for (let t = 0; t < nt; t++) {
    const room = cols - t * MR;
    let src = v + (<usize>(t * MR) << 2);
    let dst = vp + (<usize>(t * nk) << 5);
    for (let k = 0; k < nk; k++) {
      copy8(dst, src, room);
      src += ldv4;
      dst += 32;
    }
  }
}

/**
 * win[t] ← relb[H − t] (0 outside [0, 2T − 2]) for t < n, H = (j0 + nk − 1) − ib + T − 1: the bias of query
 * ib + 8p + q and key j0 + k is then win[8p + nk − 1 − k + q], so each key's 8 queries are one contiguous,
 * ascending run (reading relb backwards once here saves a lane reversal per score vector).
 */
function bias_window(relb: usize, T: i32, H: i32, n: i32, win: usize): void {
  const top = 2 * T - 2;
  for (let t = 0; t < n; t++) {
    const idx = H - t;
    store<f32>(win + (<usize>t << 2), idx >= 0 && idx <= top ? load<f32>(relb + (<usize>idx << 2)) : 0);
  }
}

// --- softmax ----------------------------------------------------------------------------------------------------

/**
 * One panel (8 queries) of one key block: s ← s + g·bias over the nk key rows of sp ([nk][8], in place), then
 * the online update: m' = max(m, max_k s), p = exp(s − m') (in place), l' = l·exp(m − m') + Σ_k p, and the
 * panel's running Σ p·V (acc, nd rows of 8) scaled by exp(m − m'). first: m, l and acc start here.
 * win: this panel's bias window (0: no bias); g0, g1: gates of queries 0..3 and 4..7; ml: m at +0, l at +32.
 */
function softmax_panel(sp: usize, nk: i32, win: usize, g0: v128, g1: v128, ml: usize, acc: usize, nd: i32, first: bool): void {
  const end = sp + (<usize>nk << 5);
  let mx0 = f32x4.splat(-Infinity), mx1 = mx0;
  if (win) {
    let w = win + (<usize>(nk - 1) << 2);
    for (let s = sp; s < end; s += 32) {
      const x0 = madd(v128.load(w), g0, v128.load(s));
      const x1 = madd(v128.load(w, 16), g1, v128.load(s, 16));
      v128.store(s, x0);
      v128.store(s, x1, 16);
      mx0 = f32x4.pmax(mx0, x0);
      mx1 = f32x4.pmax(mx1, x1);
      w -= 4;
    }
  } else {
    for (let s = sp; s < end; s += 32) {
      mx0 = f32x4.pmax(mx0, v128.load(s));
      mx1 = f32x4.pmax(mx1, v128.load(s, 16));
    }
  }
  const zero = f32x4.splat(0);
  let m0 = mx0, m1 = mx1, a0 = zero, a1 = zero;
  if (!first) {
    const o0 = v128.load(ml), o1 = v128.load(ml, 16);
    m0 = f32x4.pmax(o0, mx0);
    m1 = f32x4.pmax(o1, mx1);
    a0 = exp4_neg(f32x4.sub(o0, m0));
    a1 = exp4_neg(f32x4.sub(o1, m1));
  }
  let l0 = zero, l1 = zero;
  for (let s = sp; s < end; s += 32) {
    const p0 = exp4_neg(f32x4.sub(v128.load(s), m0));
    const p1 = exp4_neg(f32x4.sub(v128.load(s, 16), m1));
    v128.store(s, p0);
    v128.store(s, p1, 16);
    l0 = f32x4.add(l0, p0);
    l1 = f32x4.add(l1, p1);
  }
  if (!first) {
    l0 = madd(v128.load(ml, 32), a0, l0);
    l1 = madd(v128.load(ml, 48), a1, l1);
    const aend = acc + (<usize>nd << 5);
    for (let a = acc; a < aend; a += 32) {
      v128.store(a, f32x4.mul(v128.load(a), a0));
      v128.store(a, f32x4.mul(v128.load(a, 16), a1), 16);
    }
  }
  v128.store(ml, m0);
  v128.store(ml, m1, 16);
  v128.store(ml, l0, 32);
  v128.store(ml, l1, 48);
}

// --- kernel -----------------------------------------------------------------------------------------------------

/** The head for value columns [e0, e0 + nv) (nv ≤ DMAX); cols: V columns readable from e0 (dv − e0). */
function head_chunk(i0: i32, i1: i32, T: i32, dq: i32, nv: i32, cols: i32, Q: usize, ldq: i32, Kt: usize,
                    V: usize, ldv: i32, O: usize, ldo: i32, scale: f32, relb: usize, gate: usize, S: usize): void {
  const bq = block_q(T), bk = block_k(T);
  const qp = S;
  const kp = qp + (<usize>(bq * DMAX) << 2);
  const vp = kp + (<usize>(key_tiles(bk) * DMAX * 8) << 2);
  const sp = vp + (<usize>(value_tiles() * bk * 8) << 2);
  const acc = sp + (<usize>(bq * bk) << 2);
  const ml = acc + (<usize>(bq * DMAX) << 2);
  const win = ml + (<usize>(bq * 2) << 2);
  const ldq4 = <usize>ldq << 2, ldv4 = <usize>ldv << 2, ldo4 = <usize>ldo << 2;
  const chunked = dq > DMAX; // scores accumulate over dq chunks; qp is repacked per chunk and key block
  const nd0 = min(dq, DMAX);
  const one = f32x4.splat(1);
  for (let ib = i0; ib < i1; ib += bq) {
    const nq = min(bq, i1 - ib), np = (nq + 7) >> 3;
    if (!chunked) pack_q(Q + <usize>ib * ldq4, ldq4, nq, nd0, scale, qp);
    for (let j0 = 0; j0 < T; j0 += bk) {
      const nk = min(bk, T - j0);
      const first = j0 == 0;
      // scores Sᵀ for every panel of the block (dq = 0: one chunk of width 0, the tiles store zeros)
      for (let d0 = 0; d0 == 0 || d0 < dq; d0 += DMAX) {
        const nd = min(DMAX, dq - d0);
        if (chunked) pack_q(Q + <usize>ib * ldq4 + (<usize>d0 << 2), ldq4, nq, nd, scale, qp);
        pack_kt(Kt + (<usize>d0 * <usize>T + <usize>j0 << 2), T, T - j0, nk, nd, kp);
        const flags = d0 > 0 ? 2 : 0;
        const panel = <usize>nd << 5; // bytes per Q panel and per key tile
        for (let p = 0; p < np; p++) {
          const b = qp + <usize>p * panel;
          const c = sp + (<usize>(p * bk) << 5);
          let k = 0, a = kp;
          for (; k + MR <= nk; k += MR) {
            tile_pa_main(nd, a, b, c + (<usize>k << 5), 32, 0, 8, flags);
            a += panel;
          }
          if (k < nk) tile_pa(nk - k, nd, a, b, c + (<usize>k << 5), 32, 0, 8, flags);
        }
      }
      if (relb) bias_window(relb, T, j0 + nk - 1 - ib + T - 1, nk + (np << 3) - 1, win);
      pack_v(V + <usize>j0 * ldv4, ldv4, nk, nv, cols, vp);
      const vtile = <usize>nk << 5; // bytes per value tile
      for (let p = 0; p < np; p++) {
        const sp_p = sp + (<usize>(p * bk) << 5), acc_p = acc + (<usize>(p * DMAX) << 5);
        let g0 = one, g1 = one;
        if (gate) {
          const gi = gate + (<usize>(ib + (p << 3)) << 2), n = min(8, nq - (p << 3));
          g0 = load_lanes(gi, min(n, 4));
          g1 = load_lanes(gi + 16, max(n - 4, 0));
        }
        softmax_panel(sp_p, nk, relb ? win + (<usize>(p << 3) << 2) : 0, g0, g1, ml + (<usize>p << 6), acc_p, nv, first);
        // Oᵀ (+)= Vᵀ·P over the block's keys
        const flags = first ? 0 : 2;
        let e = 0, a = vp;
        for (; e + MR <= nv; e += MR) {
          tile_pa_main(nk, a, sp_p, acc_p + (<usize>e << 5), 32, 0, 8, flags);
          a += vtile;
        }
        if (e < nv) tile_pa(nv - e, nk, a, sp_p, acc_p + (<usize>e << 5), 32, 0, 8, flags);
      }
    }
    // O = (Oᵀ)ᵀ / l
    for (let p = 0; p < np; p++) {
      const acc_p = acc + (<usize>(p * DMAX) << 5), l = ml + (<usize>p << 6) + 32;
      const n = min(8, nq - (p << 3));
      for (let q = 0; q < n; q++) {
        const inv: f32 = <f32>1.0 / load<f32>(l + (<usize>q << 2));
        const o = O + <usize>(ib + (p << 3) + q) * ldo4;
        const a = acc_p + (<usize>q << 2);
        for (let e = 0; e < nv; e++) store<f32>(o + (<usize>e << 2), load<f32>(a + (<usize>e << 5)) * inv);
      }
    }
  }
}

/**
 * One attention head, query rows [i0, i1) (see the header): O = softmax(scale·Q·Kt + bias)·V; S holds
 * f32_attention_scratch_floats(T) floats.
 */
export function f32_attention(i0: i32, i1: i32, T: i32, dq: i32, dv: i32, Q: usize, ldq: i32, Kt: usize,
                              V: usize, ldv: i32, O: usize, ldo: i32, scale: f32, relb: usize, gate: usize,
                              S: usize): void {
  assert(0 <= i0 && i0 <= i1 && i1 <= T, 'f32_attention: query rows outside [0, T)');
  assert(dq >= 0 && dv >= 0 && S != 0, 'f32_attention: bad head sizes or no scratch');
  if (T <= 0 || dv <= 0 || i0 >= i1) return;
  for (let e0 = 0; e0 < dv; e0 += DMAX) {
    head_chunk(i0, i1, T, dq, min(DMAX, dv - e0), dv - e0, Q, ldq, Kt, V + (<usize>e0 << 2), ldv,
      O + (<usize>e0 << 2), ldo, scale, relb, gate, S);
  }
}

// --- training form: explicit logits and softmax, with their backwards (src/prune/ops.ts) ---------------------------

/**
 * X[m][·] ← softmax(X[m][·]) in place, max-subtracted; rows of N values, row stride ldx.
 */
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

/**
 * dP ← P ⊙ (dP − rowsum(dP ⊙ P)) in place: the backward of f32_softmax_rows, P its output (row stride ldp),
 * dP the gradient with respect to it (row stride lddp).
 */
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

/**
 * S[i][j] ← scale·S[i][j] + g_i·relb[j − i + T − 1] for a T×T logit block S (row stride lds);
 * relb [2T−1] (WavLM position bias of this head) or 0 = none, gate [T] or 0 = all ones.
 */
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

/**
 * Backward of f32_attn_logits: drelb[j − i + T − 1] += g_i·dS[i][j] and dgate[i] += Σ_j dS[i][j]·relb[j − i + T − 1]
 * (each skipped when its pointer is 0), then dS ← scale·dS in place.
 */
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
