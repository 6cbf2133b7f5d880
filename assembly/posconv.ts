// The positional convolution through the discrete Fourier transform (the host side is in src/runtime/engine.ts).
// wav2vec2's positional conv is a grouped conv1d with a long kernel (128 taps, 16 groups of 48 channels: 4.7 M
// multiply-adds per frame). Per group, in blocks of L output frames, the host runs
//   X = DFT of each input channel's N-sample window            one packed GEMM: [C][N] · [N][2·NBp]
//   Y[o] = Σ_c H[o][c] · X[c]  per frequency bin (complex)      f32_cmix, below
//   y = inverse DFT of each Y[o], only the L valid samples       one packed GEMM: [C][2·NBp] · [2·NBp][L]
// with H the DFT of the reversed, zero-padded taps (computed once at load). N = 256, L = 129 for wav2vec2: about
// a sixth of the direct multiply-adds. Spectra are stored split: re of bins 0..NBp−1, then im of bins 0..NBp−1
// (NBp = N/2 + 1 rounded up to a multiple of 4; the padding bins are zero).

import { load_lanes, madd, nmadd, store_lanes } from './simd';
import { gelu4 } from './math';
import { f32_gemm_packed } from './gemm';
import { f32_fill, f32_transpose } from './copy';

/**
 * Y[b][o][·] = Σ_c H[o][c][·] ⊙ X[b][c][·] (complex, per bin) for every block b < nb and output channel o < C.
 *   X: [nb][C][2·NBp]    H: [C (out)][C (in)][2·NBp]    Y: [nb][C][2·NBp]      (re | im halves, NBp % 4 == 0)
 * Two blocks at a time share each loaded H vector: per input channel 2 H loads and 4 X loads feed 8 multiply-adds.
 */
export function f32_cmix(nb: i32, C: i32, NBp: i32, X: usize, H: usize, Y: usize): void {
  assert(nb >= 0 && C >= 0 && NBp >= 0 && (NBp & 3) == 0, 'f32_cmix: bad sizes');
  const row = <usize>NBp << 3; // bytes per channel row (re | im)
  const im = <usize>NBp << 2; // offset of the im half
  const blk = <usize>C * row; // bytes per block
  const z = f32x4.splat(0);
  for (let o = 0; o < C; o++) {
    const ho = H + <usize>o * <usize>C * row;
    for (let f: usize = 0; f < (<usize>NBp << 2); f += 16) {
      let b = 0;
      for (; b + 2 <= nb; b += 2) {
        const x0 = X + <usize>b * blk + f, x1 = x0 + blk;
        let r0 = z, i0 = z, r1 = z, i1 = z;
        let h = ho + f, xa = x0, xb = x1;
        for (let c = 0; c < C; c++) {
          const hr = v128.load(h), hi = v128.load(h + im);
          const ar = v128.load(xa), ai = v128.load(xa + im);
          const br = v128.load(xb), bi = v128.load(xb + im);
          r0 = nmadd(hi, ai, madd(hr, ar, r0));
          i0 = madd(hi, ar, madd(hr, ai, i0));
          r1 = nmadd(hi, bi, madd(hr, br, r1));
          i1 = madd(hi, br, madd(hr, bi, i1));
          h += row;
          xa += row;
          xb += row;
        }
        const y0 = Y + <usize>b * blk + <usize>o * row + f, y1 = y0 + blk;
        v128.store(y0, r0);
        v128.store(y0 + im, i0);
        v128.store(y1, r1);
        v128.store(y1 + im, i1);
      }
      if (b < nb) {
        let r0 = z, i0 = z;
        let h = ho + f, xa = X + <usize>b * blk + f;
        for (let c = 0; c < C; c++) {
          const hr = v128.load(h), hi = v128.load(h + im);
          const ar = v128.load(xa), ai = v128.load(xa + im);
          r0 = nmadd(hi, ai, madd(hr, ar, r0));
          i0 = madd(hi, ar, madd(hr, ai, i0));
          h += row;
          xa += row;
        }
        const y0 = Y + <usize>b * blk + <usize>o * row + f;
        v128.store(y0, r0);
        v128.store(y0 + im, i0);
      }
    }
  }
}

/** X[m][n] += GELU(Y[m][n] + bias[n]) for m < M, n < N (row strides ldy, ldx floats); bias: [N] or 0. */
export function f32_bias_gelu_add(M: i32, N: i32, Y: usize, ldy: i32, bias: usize, X: usize, ldx: i32): void {
  assert(M >= 0 && N >= 0, 'f32_bias_gelu_add: negative size');
  const ldy4 = <usize>ldy << 2, ldx4 = <usize>ldx << 2;
  for (let m = 0; m < M; m++) {
    const y = Y + <usize>m * ldy4, x = X + <usize>m * ldx4;
    for (let n = 0; n < N; n += 4) {
      const o = <usize>n << 2, k = min(4, N - n);
      let v = load_lanes(y + o, k);
      if (bias) v = f32x4.add(v, load_lanes(bias + o, k));
      store_lanes(x + o, f32x4.add(load_lanes(x + o, k), gelu4(v)), k);
    }
  }
}

// @ts-ignore: decorator
@inline const CHUNK = 8; // blocks transformed at a time (bounds the spectra's scratch whatever T is)

/** Round a float count up to whole f32x4 vectors (keeps every scratch region 16-byte aligned). */
// @ts-ignore: decorator
@inline function vec(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Scratch floats f32_posconv_dft needs (see there for the sizes). */
export function f32_posconv_dft_scratch_floats(T: i32, C: i32, Kw: i32, N: i32, L: i32, NBp: i32): i32 {
  if (T <= 0 || C <= 0) return 0;
  const nb = (T + L - 1) / L, R = (nb - 1) * L + N, cb = min(nb, CHUNK);
  return vec(C * R) + vec(C * nb * L) + 2 * vec(cb * C * 2 * NBp);
}

/**
 * One group of the positional conv, through the DFT, added into X:
 *   X[t][o] += GELU(b[o] + Σ_{c<C} Σ_{j<Kw} W[o][c][j] · x[t + j − ⌊Kw/2⌋][c])   for t < T, o < C (x = X before)
 * X: the group's first column, row stride ldx. fwd: packed [2·NBp][N] forward DFT (f32_pack_b); inv: packed
 * [L][2·NBp] inverse DFT that keeps the L valid samples of each N-window; H: [C][C][2·NBp] the DFT of each reversed
 * kernel (engine.ts builds all three); bias: [C] or 0; S: f32_posconv_dft_scratch_floats(…) floats.
 *   Pt  [C][R]          the group's channels, time along rows, ⌊Kw/2⌋ zeros in front and zeros after T
 *   Z   [C][nb·L]       the conv output, channel-major
 *   XT, YT [≤CHUNK][C][2·NBp]  spectra of a chunk of blocks
 * Block b covers outputs [b·L, b·L + L) from the window Pt[·][b·L, b·L + N). Pt is reused for Zᵀ at the end.
 */
export function f32_posconv_dft(T: i32, C: i32, Kw: i32, N: i32, L: i32, NBp: i32, X: usize, ldx: i32, fwd: usize,
                                inv: usize, H: usize, bias: usize, S: usize): void {
  assert(T >= 0 && C >= 0 && Kw >= 1 && N >= Kw && L == N - Kw + 1 && 2 * NBp >= N + 2 && (NBp & 3) == 0,
    'f32_posconv_dft: bad sizes');
  if (T <= 0 || C <= 0) return;
  const nb = (T + L - 1) / L, R = (nb - 1) * L + N, cb = min(nb, CHUNK), W2 = 2 * NBp;
  const Pt = S;
  const Z = Pt + (<usize>vec(C * R) << 2);
  const XT = Z + (<usize>vec(C * nb * L) << 2);
  const YT = XT + (<usize>vec(cb * C * W2) << 2);
  const spec = <usize>(C * W2) << 2; // bytes per block of spectra
  f32_fill(C * R, Pt, 0);
  f32_transpose(T, C, X, ldx, Pt + (<usize>(Kw >> 1) << 2), R);
  for (let b0 = 0; b0 < nb; b0 += CHUNK) {
    const n = min(CHUNK, nb - b0);
    for (let b = 0; b < n; b++) {
      f32_gemm_packed(C, W2, N, Pt + (<usize>((b0 + b) * L) << 2), R, fwd, XT + <usize>b * spec, W2, 0, 0, 0);
    }
    f32_cmix(n, C, NBp, XT, H, YT);
    for (let b = 0; b < n; b++) {
      f32_gemm_packed(C, L, W2, YT + <usize>b * spec, W2, inv, Z + (<usize>((b0 + b) * L) << 2), nb * L, 0, 0, 0);
    }
  }
  f32_transpose(C, T, Z, nb * L, Pt, C);
  f32_bias_gelu_add(T, C, Pt, C, bias, X, ldx);
}
