/**
 * Kernel throughput per build on the layer shapes of wav2vec2-base, single thread: the plain SIMD build (release:
 * multiply-add = f32x4.mul + f32x4.add) and the relaxed-SIMD build (relaxed: f32x4.relaxed_madd, an FMA).
 * For each build: the multiply-add peak of this machine measured in registers through the build's own madd
 * (f32_peak_madd: dependent chains, the reference; f32_peak_madd_acc: independent accumulators, a GEMM tile's
 * pattern), then every kernel checked against the plain-loop reference (test/ref/kernels.ts) before it is timed
 * (best of N runs, in CPU time), with GFLOP/s and the fraction of the build's peak. ★ marks the GEMM shapes with targets
 * (≥ 85% of the mul+add peak with release, ≥ 80% of the FMA peak with relaxed). Attention is one head, D = 64,
 * WavLM bias and gate, Q/K/V strided in a fused [T][3C] buffer, at T = 499 (10 s of audio), 1499 (30 s) and
 * 30000 (600 s). The q8 rows: the int8 GEMM (assembly/q8gemm.ts) on the same shapes (conv 0 stays f32 in q8 models),
 * each timed call quantizing its activations and running q8_gemm; GFLOP/s counts 2 per multiply-accumulate, as the
 * f32 rows (G MAC/s = half), and "of peak" is left blank (the f32 peaks do not apply).
 *   npx tsx bench/kernels.ts [--variants release,relaxed] [--no-long]      (build first: npm run build:wasm)
 *   npx tsx bench/kernels.ts --ratios [--rounds 8]
 * --ratios: on a loaded machine single rates drift with the load, so the int8 GEMM is compared with the f32 GEMMs in
 * rounds: per shape, each round times f32 plain (release build), f32 relaxed (relaxed build) and q8 (release build)
 * once each, one after the other (CPU time), and the best of the rounds is kept; prints the rates and q8's ratios.
 */
import { instantiateKernels, enableRelaxedSimd, Arena, type KernelVariant, type Kernels } from '../src/runtime/wasm.js';
import * as ref from '../test/ref/kernels.js';
import { quantizeRows, type Q8 } from '../src/arch/quant.js';
import { packQ8, q8PackedBytes, q8ScaleFloats } from '../src/runtime/pack-q8.js';

const argv = process.argv.slice(2);
const opt = (name: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
const variants = (opt('variants') ?? 'release,relaxed').split(',') as KernelVariant[];
const LONG = !argv.includes('--no-long');
const RATIOS = argv.includes('--ratios');

/**
 * Best time (ms) of repeated runs, at least `minMs` in total and `minRuns` runs. Each run is timed by this
 * process's CPU time, not the wall clock: on a shared machine the time slices other processes take are then not
 * counted (on an idle machine the two agree; the kernels are single-threaded). The minimum is the least noisy.
 */
function best(f: () => void, minMs = 400, minRuns = 5): number {
  f();
  let t = Infinity, total = 0, n = 0;
  while (total < minMs || n < minRuns) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    t = Math.min(t, (c.user + c.system) / 1000);
    total += performance.now() - t0;
    n++;
  }
  return t;
}

const f1 = (x: number) => x.toFixed(1);

const GEMMS: [string, number, number, number, number, number][] = [
  // name, M, N, K, lda, act
  ['conv0 k=10 s=5 (C_in=1) +GELU', 31999, 512, 10, 5, 1],
  ['conv1 k=3 s=2 +GELU', 15999, 512, 1536, 1024, 1],
  ['conv6 k=2 s=2 +GELU', 499, 512, 1024, 1024, 1],
  ['feature projection 512→768', 499, 768, 512, 512, 0],
  ['qkv 768→2304', 499, 2304, 768, 768, 0],
  ['★ out proj 768→768', 499, 768, 768, 768, 0],
  ['★ ffn up 768→3072', 499, 3072, 768, 768, 0],
  ['ffn up 768→3072 +GELU', 499, 3072, 768, 768, 1],
  ['★ ffn down 3072→768', 499, 768, 3072, 3072, 0],
];

/**
 * One timed q8 call on a GEMMS shape in the build k: quantize the activations a (row stride lda), then q8_gemm with
 * the int8 weight w (packed here) and bias b. C: where the result lands ([M][N]).
 */
function q8Gemm(k: Kernels, ar: Arena, M: number, N: number, K: number, lda: number, act: number, a: Float32Array, w: Q8,
  b: Float32Array): { run: () => void; C: number } {
  const x = k.exports, aLen = (M - 1) * lda + K;
  const bytes = q8PackedBytes(N, K), sf = q8ScaleFloats(N);
  const A = ar.alloc(aLen), Bq = ar.alloc(Math.ceil(bytes / 4)), sw = ar.alloc(sf);
  const Aq = ar.alloc(Math.ceil(x.q8_packed_a_bytes(M, K) / 4)), sa = ar.alloc(M), C = ar.alloc(M * N), bias = ar.alloc(N);
  ar.f32(A, aLen).set(a);
  ar.f32(bias, N).set(b);
  packQ8(w, N, K, new Int8Array(k.memory.buffer, Bq, bytes), ar.f32(sw, sf));
  const run = () => {
    x.q8_quantize_a(M, K, A, lda, Aq, sa);
    x.q8_gemm(M, N, K, Aq, sa, Bq, sw, C, N, bias, act, 0);
  };
  return { run, C };
}

const WINO_OUT = 15999;

/**
 * Conv layer 1 of the base shape (k 3, s 2, 512 → 512 channels, 15999 outputs, GELU) through f32_conv_k3s2 as the
 * f32 engine runs it (Winograd pairs), in the build k; ok() checks the first and last 3 outputs against the direct form.
 */
function winogradConv1(k: Kernels, ar: Arena, r: ReturnType<typeof ref.rng>): { run: () => void; ok: () => boolean; flops: number } {
  const x = k.exports;
  const nOut = WINO_OUT, Cin = 512, Cout = 512, K3 = 3 * Cin, xLen = (2 * nOut + 1) * Cin;
  const X = ar.alloc(xLen), bias = ar.alloc(Cout), Y = ar.alloc(nOut * Cout);
  const S = ar.alloc(x.f32_conv_k3s2_scratch_floats(Cin, Cout));
  const xs = ref.randomArray(xLen, r), W = ref.randomArray(Cout * K3, r, -0.05, 0.05), b = ref.randomArray(Cout, r);
  ar.f32(X, xLen).set(xs);
  ar.f32(bias, Cout).set(b);
  // W time-major [Cout][w0 | w1 | w2]: m = w0 + w2, e = [w0 | w1], o = [w1 | w2], each packed
  const packed = (N: number, K: number, f: (n: number, k: number) => number): number => {
    const src = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let kk = 0; kk < K; kk++) src[n * K + kk] = f(n, kk);
    const tmp = ar.alloc(N * K), dst = ar.alloc(x.f32_packed_floats(N, K));
    ar.f32(tmp, N * K).set(src);
    x.f32_pack_b(N, K, tmp, dst);
    return dst;
  };
  const Wm = packed(Cout, Cin, (n, kk) => W[n * K3 + kk] + W[n * K3 + 2 * Cin + kk]);
  const We = packed(Cout, 2 * Cin, (n, kk) => W[n * K3 + kk]);
  const Wo = packed(Cout, 2 * Cin, (n, kk) => W[n * K3 + Cin + kk]);
  const run = () => x.f32_conv_k3s2(0, Math.ceil(nOut / 2), nOut, Cin, Cout, X, Wm, We, Wo, bias, Y, 1, S);
  const ok = () => {
    const y = ar.f32(Y, nOut * Cout);
    let good = true;
    for (const t0 of [0, nOut - 3]) {
      const want = ref.gemm({ M: 3, N: Cout, K: K3, A: xs.subarray(2 * t0 * Cin), lda: 2 * Cin, b: (kk, n) => W[n * K3 + kk],
        C: new Float32Array(3 * Cout), ldc: Cout, bias: b, act: 1, accumulate: false });
      good &&= ref.maxErr(y.subarray(t0 * Cout, (t0 + 3) * Cout), want).err <= 1e-4 * Math.max(1, ref.maxErr(want, new Float64Array(want.length)).err);
    }
    return good;
  };
  return { run, ok, flops: 2 * nOut * Cout * K3 };
}

function bench(variant: KernelVariant, k: Kernels): void {
  const x = k.exports;
  const ar = new Arena(k.memory, k.heapBase);
  const r = ref.rng(1);
  const PEAK_ITERS = 2_000_000;
  const peakOf = (f: (n: number) => number) => (PEAK_ITERS * 96) / best(() => f(PEAK_ITERS), 300, 10) / 1e6;
  let peak = peakOf(x.f32_peak_madd);
  let peakAcc = peakOf(x.f32_peak_madd_acc);
  const relaxed = variant.startsWith('relaxed');
  const unit = relaxed ? 'FMA' : 'mul+add';
  console.log(`\n== ${variant} (${relaxed ? 'relaxed SIMD: f32x4.relaxed_madd' : 'SIMD128: f32x4.mul + f32x4.add'}) ==`);

  const rows: [string, number, number, boolean, boolean][] = [];
  /** flops: multiply-adds count 2; mad: the row is multiply-add work, shown as a fraction of the peak */
  const row = (name: string, ms: number, flops: number, ok: boolean, mad = true) => rows.push([name, ms, flops, ok, mad]);

  // --- packed gemm: conv layers (implicit im2col) and linear layers -------------------------------------------
  for (const [name, M, N, K, lda, act] of GEMMS) {
    ar.reset();
    const aLen = (M - 1) * lda + K;
    const A = ar.alloc(aLen), W = ar.alloc(N * K), Bp = ar.alloc(x.f32_packed_floats(N, K));
    const C = ar.alloc(M * N), bias = ar.alloc(N);
    ar.f32(A, aLen).set(ref.randomArray(aLen, r));
    ar.f32(W, N * K).set(ref.randomArray(N * K, r, -0.05, 0.05));
    ar.f32(bias, N).set(ref.randomArray(N, r));
    x.f32_pack_b(N, K, W, Bp);
    const run = () => x.f32_gemm_packed(M, N, K, A, lda, Bp, C, N, bias, act, 0);
    run();
    // check the first and last 3 rows
    const a = ar.f32(A, aLen).slice(), w = ar.f32(W, N * K).slice(), b = ar.f32(bias, N).slice(), c = ar.f32(C, M * N);
    let ok = true;
    for (const m0 of [0, M - 3]) {
      const want = ref.gemm({ M: 3, N, K, A: a.subarray(m0 * lda), lda, b: (kk, n) => w[n * K + kk], C: new Float32Array(3 * N),
        ldc: N, bias: b, act, accumulate: false });
      const scale = Math.max(1, ref.maxErr(want, new Float64Array(want.length)).err);
      ok &&= ref.maxErr(c.subarray(m0 * N, (m0 + 3) * N), want).err <= 1e-5 * scale;
    }
    row(`gemm_packed ${name} [${M}×${N}×${K}]`, best(run, name.startsWith('★') ? 1500 : 400), 2 * M * N * K, ok);
  }

  // --- int8 GEMM (q8): the same shapes but conv 0 (f32 in q8 models), activations quantized per row in the timed call
  for (const [name, M, N, K, lda, act] of GEMMS.slice(1)) {
    ar.reset();
    const aLen = (M - 1) * lda + K;
    const w = quantizeRows(ref.randomArray(N * K, r, -0.05, 0.05), N, K);
    const a = ref.randomArray(aLen, r), b = ref.randomArray(N, r);
    const { run, C } = q8Gemm(k, ar, M, N, K, lda, act, a, w, b);
    run();
    const c = ar.f32(C, M * N);
    let ok = true;
    for (const m0 of [0, M - 3]) {
      const want = ref.q8Gemm({ M: 3, N, K, A: a.subarray(m0 * lda), lda, w: w.q, sw: w.scale, C: new Float32Array(3 * N), ldc: N,
        bias: b, act, accumulate: false }).C;
      ok &&= ref.maxErr(c.subarray(m0 * N, (m0 + 3) * N), want).err <= 1e-5 * Math.max(1, ref.maxErr(want, new Float64Array(want.length)).err);
    }
    row(`q8 gemm ${name.replace('★ ', '')} [${M}×${N}×${K}]`, best(run, name.startsWith('★') ? 1500 : 400), 2 * M * N * K, ok, false);
  }

  // --- conv 1 as the f32 engine runs it: Winograd pairs (assembly/conv.ts), 5/6 of the direct form's multiply-adds;
  // GFLOP/s counts the direct form's work, so the row compares with "conv1" above (f32 GEMM) and "q8 gemm conv1"
  {
    ar.reset();
    const w = winogradConv1(k, ar, r);
    w.run();
    row(`conv1 k=3 s=2 +GELU, f32 Winograd (direct-form flops) [${WINO_OUT}×512×1536]`, best(w.run, 400), w.flops, w.ok());
  }

  // --- attention: one head of 12, D = 64, Q/K/V strided in a fused [T][3C] buffer -------------------------------
  for (const T of LONG ? [499, 1499, 30000] : [499, 1499]) {
    ar.reset();
    const C = 768, D = 64;
    const qkv = ar.alloc(T * 3 * C), Kt = ar.alloc(D * T), O = ar.alloc(T * C), relb = ar.alloc(2 * T - 1), gate = ar.alloc(T);
    const S = ar.alloc(x.f32_attention_scratch_floats(T));
    ar.f32(qkv, T * 3 * C).set(ref.randomArray(T * 3 * C, r));
    ar.f32(relb, 2 * T - 1).set(ref.randomArray(2 * T - 1, r));
    ar.f32(gate, T).set(ref.randomArray(T, r, 0, 2));
    const run = () => {
      x.f32_transpose(T, D, qkv + 4 * C, 3 * C, Kt, T);
      x.f32_attention(0, T, T, D, D, qkv, 3 * C, Kt, qkv + 8 * C, 3 * C, O, C, 0.125, relb, gate, S);
    };
    run();
    const all = ar.f32(qkv, T * 3 * C);
    const kt = ar.f32(Kt, D * T).slice();
    const got = ar.f32(O, T * C);
    let err = 0;
    for (const i0 of [0, T - 2]) {
      const want = ref.attention({ i0, i1: i0 + 2, T, dq: D, dv: D, Q: all, ldq: 3 * C, Kt: kt, V: all.subarray(2 * C), ldv: 3 * C,
        O: new Float32Array(T * C), ldo: C, scale: 0.125, relb: ar.f32(relb, 2 * T - 1), gate: ar.f32(gate, T) });
      for (let i = i0; i < i0 + 2; i++) for (let e = 0; e < D; e++) err = Math.max(err, Math.abs(got[i * C + e] - want[i * C + e]));
    }
    const ms = T > 5000 ? best(run, 0, 2) : best(run, 1500);
    row(`attention head T=${T} D=${D} (+ K transpose)`, ms, 4 * T * T * D, err <= 1e-5);
  }

  // --- elementwise and norms -------------------------------------------------------------------------------------
  {
    ar.reset();
    const n = 499 * 3072;
    const X = ar.alloc(n), Y = ar.alloc(n);
    ar.f32(X, n).set(ref.randomArray(n, r, -6, 6));
    const runG = () => x.f32_gelu(n, X, Y);
    runG();
    const xs = ar.f32(X, 64).slice(), ys = ar.f32(Y, 64);
    row(`gelu n=${n} (flops = elements)`, best(runG), n, Array.from(xs).every((v, i) => Math.abs(ys[i] - ref.gelu(v)) <= 4e-7), false);
    const runE = () => x.f32_exp(n, X, Y);
    row(`exp n=${n} (flops = elements)`, best(runE), n, true, false);
    const M = 499, N = 768, G = ar.alloc(N), B = ar.alloc(N);
    ar.f32(G, N).fill(1);
    const runL = () => x.f32_layernorm(M, N, X, N, Y, N, G, B, 1e-5);
    row(`layernorm ${M}×${N} (flops = elements)`, best(runL), M * N, true, false);
    const T = 31999, Cg = 512, S = ar.alloc(2 * Cg), Xg = ar.alloc(T * Cg);
    ar.f32(Xg, T * Cg).set(ref.randomArray(T * Cg, r));
    const runN = () => x.f32_groupnorm_time(T, Cg, Xg, G, B, 1e-5, S);
    row(`groupnorm_time ${T}×${Cg} (flops = elements)`, best(runN), T * Cg, true, false);
  }

  // the peak again after the work: keep the better reading (another process may have shared the core at first)
  peak = Math.max(peak, peakOf(x.f32_peak_madd));
  peakAcc = Math.max(peakAcc, peakOf(x.f32_peak_madd_acc));
  console.log(`${unit} peak: ${f1(peak)} GFLOP/s (f32_peak_madd, dependent chains), ${f1(peakAcc)} GFLOP/s (f32_peak_madd_acc, independent accumulators)`);
  console.log(`${''.padEnd(58)}        ms  GFLOP/s  of peak  of acc-peak`);
  for (const [name, ms, flops, ok, mad] of rows) {
    const g = flops / ms / 1e6;
    const frac = mad ? `${(100 * g / peak).toFixed(0).padStart(6)}%  ${(100 * g / peakAcc).toFixed(0).padStart(9)}%` : '';
    console.log(`${ok ? '✔' : '✘'} ${name.padEnd(56)} ${ms.toFixed(3).padStart(9)} ${f1(g).padStart(8)}  ${frac}`);
  }
}

/** --ratios: f32 plain, f32 relaxed and q8 on the linear-layer and conv shapes, interleaved (see the header). */
async function ratios(rounds: number): Promise<void> {
  const plain = await instantiateKernels('release');
  const relaxed = enableRelaxedSimd() ? await instantiateKernels('relaxed') : null;
  const cpu = (f: () => void): number => {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  console.log(`\n== f32 plain, f32 relaxed and q8 interleaved, best of ${rounds} rounds (GFLOP/s = 2 × multiply-adds / CPU time) ==`);
  console.log(`${'product'.padEnd(44)} f32 plain  f32 relaxed       q8  q8/plain  q8/relaxed`);
  const r = ref.rng(3);
  for (const [name, M, N, K, lda, act] of GEMMS.slice(1)) {
    const aLen = (M - 1) * lda + K;
    const a = ref.randomArray(aLen, r), W = ref.randomArray(N * K, r, -0.05, 0.05), b = ref.randomArray(N, r);
    /** one f32 packed-GEMM call on this shape in the build k */
    const f32Run = (k: Kernels, ar: Arena): (() => void) => {
      const x = k.exports;
      const A = ar.alloc(aLen), Wp = ar.alloc(N * K), Bp = ar.alloc(x.f32_packed_floats(N, K)), C = ar.alloc(M * N), bias = ar.alloc(N);
      ar.f32(A, aLen).set(a);
      ar.f32(Wp, N * K).set(W);
      ar.f32(bias, N).set(b);
      x.f32_pack_b(N, K, Wp, Bp);
      return () => x.f32_gemm_packed(M, N, K, A, lda, Bp, C, N, bias, act, 0);
    };
    const ar = new Arena(plain.memory, plain.heapBase);
    const runs: (() => void)[] = [f32Run(plain, ar)];
    const arR = relaxed ? new Arena(relaxed.memory, relaxed.heapBase) : null;
    if (relaxed) runs.push(f32Run(relaxed, arR!));
    // q8 in the plain build, after its f32 buffers (both builds run the same q8 instructions)
    runs.push(q8Gemm(plain, ar, M, N, K, lda, act, a, quantizeRows(W, N, K), b).run);
    const bestMs = runs.map(() => Infinity);
    for (const f of runs) f(); // warm up (compilation tiers, page faults)
    for (let i = 0; i < rounds; i++) runs.forEach((f, j) => { bestMs[j] = Math.min(bestMs[j], cpu(f)); });
    const g = bestMs.map((ms) => (2 * M * N * K) / ms / 1e6);
    const q8 = g[g.length - 1], rel = relaxed ? g[1] : NaN;
    console.log(`${`${name.replace('★ ', '')} [${M}×${N}×${K}]`.padEnd(44)} ${f1(g[0]).padStart(9)}  ${(relaxed ? f1(rel) : '–').padStart(11)}  ${f1(q8).padStart(7)}  ${(q8 / g[0]).toFixed(2).padStart(7)}×  ${(relaxed ? (q8 / rel).toFixed(2) : '–').padStart(9)}×`);
    if (name.startsWith('conv1')) {
      // the f32 engine runs conv layers 1–4 as Winograd pairs, not as this GEMM: the same rounds against q8's im2col
      const wp = winogradConv1(plain, ar, r);
      const wr = relaxed ? winogradConv1(relaxed, arR!, r) : null;
      const wruns = [wp.run, ...(wr ? [wr.run] : []), runs[runs.length - 1]];
      const wbest = wruns.map(() => Infinity);
      for (const f of wruns) f();
      for (let i = 0; i < rounds; i++) wruns.forEach((f, j) => { wbest[j] = Math.min(wbest[j], cpu(f)); });
      const wg = wbest.map((ms) => wp.flops / ms / 1e6), wq = wg[wg.length - 1];
      console.log(`${`  f32 Winograd instead (direct-form flops)`.padEnd(44)} ${f1(wg[0]).padStart(9)}  ${(wr ? f1(wg[1]) : '–').padStart(11)}  ${f1(wq).padStart(7)}  ${(wq / wg[0]).toFixed(2).padStart(7)}×  ${(wr ? (wq / wg[1]).toFixed(2) : '–').padStart(9)}×${wp.ok() && (!wr || wr.ok()) ? '' : '  ✘ check failed'}`);
    }
  }
}

if (RATIOS) {
  await ratios(Number(opt('rounds') ?? 8));
  process.exit(0);
}

for (const variant of variants) {
  if (variant.startsWith('relaxed') && !enableRelaxedSimd()) {
    console.log(`\n== ${variant}: skipped, this engine has no relaxed SIMD ==`);
    continue;
  }
  bench(variant, await instantiateKernels(variant));
}
