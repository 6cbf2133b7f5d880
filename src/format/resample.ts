/**
 * Band-limited resampling with a Kaiser-windowed sinc.
 *
 * Output sample j sits at input position p = j · from / to and is y[j] = Σ_i x[i] · h(p − i), with
 *   h(d) = 2f · sinc(2f·d) · kaiser(d / W),   sinc(u) = sin(πu) / (πu),   |d| < W, x[i] = 0 outside the input.
 * f (cycles per input sample) puts the −6 dB point at 0.95 of the lower Nyquist frequency, min(from, to) / 2;
 * the transition band is 0.90 → 1.00 of it, so nothing above the new Nyquist frequency aliases back into the
 * passband. Kaiser β = 8.6 gives ≈ 86 dB of stopband attenuation; the half width W follows from Kaiser's formula
 * (≈ 52 zero crossings of the sinc per side). Each set of taps is normalised to sum to 1, so DC passes exactly.
 *
 * Integer rates are reduced by their gcd to to/from = L/M; the L sub-sample phases then repeat and their taps are
 * computed once (polyphase). When L × taps would be too large (e.g. 44100 → 16001) or the rates are not
 * integers, the kernel is tabulated once at 4096 points per zero crossing and interpolated linearly.
 *
 * Output length is ceil(n · to / from): every output instant j / to that falls before the end of the input
 * (n / from) gets a sample. Equal rates return a copy.
 */
import { fail } from '../errors.js';

const KAISER_BETA = 8.6;
const STOPBAND_DB = 86;     // what β = 8.6 buys, for Kaiser's length formula
const CUTOFF = 0.95;        // −6 dB point, fraction of the lower Nyquist frequency
const TRANSITION = 0.1;     // full transition width, same unit
const MAX_POLYPHASE_COEFFS = 1 << 21;
const TABLE_STEPS = 4096;   // kernel table resolution per sinc zero crossing (arbitrary-ratio path)
/** Refuse outputs above this many samples (2^28 ≈ 4.6 h at 16 kHz, 1 GB of f32). */
export const MAX_RESAMPLE_OUTPUT = 2 ** 28;

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for x ≤ ~30). */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** ceil(n · to / from), exact for integers (n · to stays below 2^53 for any realistic input). */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  if (Number.isInteger(fromRate) && Number.isInteger(toRate) && Number.isSafeInteger(n * toRate)) {
    const num = n * toRate;
    const r = num % fromRate;
    return (num - r) / fromRate + (r ? 1 : 0);
  }
  return Math.ceil((n * toRate) / fromRate);
}

interface Kernel {
  /** cutoff, cycles per input sample */
  f: number;
  /** half width in input samples (taps where |d| < W) */
  W: number;
  /** integer half width: 2·Wi taps per output */
  Wi: number;
  invI0Beta: number;
}

function designKernel(fromRate: number, toRate: number): Kernel {
  const lower = Math.min(1, toRate / fromRate); // lower Nyquist / input Nyquist
  const f = 0.5 * CUTOFF * lower;
  const transition = 0.5 * TRANSITION * lower;   // cycles per input sample
  const taps = (STOPBAND_DB - 7.95) / (2.285 * 2 * Math.PI * transition) + 1;
  const W = taps / 2;
  return { f, W, Wi: Math.ceil(W), invI0Beta: 1 / besselI0(KAISER_BETA) };
}

function kernelAt(k: Kernel, d: number): number {
  const r = d / k.W;
  if (r <= -1 || r >= 1) return 0;
  const w = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) * k.invI0Beta;
  const u = 2 * k.f * d;
  const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
  return 2 * k.f * sinc * w;
}

export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  for (const [name, r] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) fail('E_ARGS', `resample: ${name} must be a positive number, got ${r}`);
  }
  if (fromRate === toRate) return new Float32Array(x);
  const outLen = resampledLength(x.length, fromRate, toRate);
  if (outLen > MAX_RESAMPLE_OUTPUT) {
    fail('E_ARGS', `resample: ${x.length} samples at ${fromRate} Hz would become ${outLen} at ${toRate} Hz, over the ${MAX_RESAMPLE_OUTPUT}-sample limit`);
  }
  const k = designKernel(fromRate, toRate);
  if (Number.isInteger(fromRate) && Number.isInteger(toRate)) {
    const g = gcd(fromRate, toRate);
    const L = toRate / g;
    const M = fromRate / g;
    if (L * 2 * k.Wi <= MAX_POLYPHASE_COEFFS) return polyphase(x, outLen, L, M, k);
  }
  return tabulated(x, outLen, fromRate / toRate, k);
}

/**
 * Rational path. Output j: p = j·M/L = base + φ/L with φ = j·M mod L. Taps of phase φ cover input indices
 * base − Wi + 1 … base + Wi, i.e. coef[φ][t] = h(φ/L + Wi − 1 − t).
 */
function polyphase(x: Float32Array, outLen: number, L: number, M: number, k: Kernel): Float32Array {
  const T = 2 * k.Wi;
  const coef = new Float32Array(L * T);
  for (let ph = 0; ph < L; ph++) {
    const frac = ph / L;
    let sum = 0;
    for (let t = 0; t < T; t++) sum += (coef[ph * T + t] = kernelAt(k, frac + k.Wi - 1 - t));
    for (let t = 0; t < T; t++) coef[ph * T + t] /= sum;
  }
  const n = x.length;
  const y = new Float32Array(outLen);
  let base = 0;
  let ph = 0;
  for (let j = 0; j < outLen; j++) {
    const start = base - k.Wi + 1;
    const c0 = ph * T;
    let acc = 0;
    if (start >= 0 && start + T <= n) {
      for (let t = 0; t < T; t++) acc += coef[c0 + t] * x[start + t];
    } else {
      const t0 = Math.max(0, -start);
      const t1 = Math.min(T, n - start);
      for (let t = t0; t < t1; t++) acc += coef[c0 + t] * x[start + t];
    }
    y[j] = acc;
    ph += M;
    if (ph >= L) {
      const q = Math.floor(ph / L);
      base += q;
      ph -= q * L;
    }
  }
  return y;
}

/**
 * Arbitrary-ratio path: the kernel tabulated over |d| in units of sinc zero crossings and interpolated linearly.
 * Taps are normalised by their full sum (including taps that fall outside the input), as in the polyphase path.
 */
function tabulated(x: Float32Array, outLen: number, step: number, k: Kernel): Float32Array {
  const zc = 2 * k.f;                                // sinc zero crossings per input sample
  const size = Math.ceil(k.W * zc * TABLE_STEPS) + 2;
  const table = new Float64Array(size);
  for (let m = 0; m < size; m++) table[m] = kernelAt(k, m / TABLE_STEPS / zc);
  const scale = zc * TABLE_STEPS;
  const n = x.length;
  const y = new Float32Array(outLen);
  for (let j = 0; j < outLen; j++) {
    const p = j * step;
    const base = Math.floor(p);
    const end = base + k.Wi;
    let acc = 0;
    let wsum = 0;
    for (let i = base - k.Wi + 1; i <= end; i++) {
      const u = Math.abs(p - i) * scale;
      const m = Math.floor(u);
      if (m + 1 >= size) continue;
      const w = table[m] + (u - m) * (table[m + 1] - table[m]);
      wsum += w;
      if (i >= 0 && i < n) acc += w * x[i];
    }
    y[j] = acc / wsum;
  }
  return y;
}
