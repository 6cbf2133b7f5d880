/**
 * Kernel throughput on the layer shapes of wav2vec2-base for 10 s of audio (T = 499 frames), release build.
 * Every kernel is first checked against the plain-loop reference on a few rows, then timed (best of N runs).
 *   npx tsx bench/kernels.ts            (build first: npm run build:wasm)
 */
import { instantiateKernels, Arena } from '../src/runtime/wasm.js';
import * as ref from '../test/ref/kernels.js';

const k = await instantiateKernels('release');
const ar = new Arena(k.memory, k.heapBase);
const r = ref.rng(1);

function best(f: () => void, minMs = 300): number {
  f();
  let t = Infinity, total = 0, n = 0;
  while (total < minMs || n < 5) {
    const t0 = performance.now();
    f();
    const dt = performance.now() - t0;
    t = Math.min(t, dt);
    total += dt;
    n++;
  }
  return t;
}

function row(name: string, ms: number, flops: number, ok: boolean): void {
  const g = flops / ms / 1e6;
  console.log(`${ok ? '✔' : '✘'} ${name.padEnd(44)} ${ms.toFixed(3).padStart(9)} ms ${g.toFixed(1).padStart(6)} GFLOP/s`);
}

// --- packed gemm: conv layers (implicit im2col) and linear layers -------------------------------------------

const gemms: [string, number, number, number, number, number][] = [
  // name, M, N, K, lda, act
  ['conv0 k=10 s=5 (C_in=1)', 31999, 512, 10, 5, 1],
  ['conv1 k=3 s=2', 15999, 512, 1536, 1024, 1],
  ['conv4 k=3 s=2', 1999, 512, 1536, 1024, 1],
  ['conv6 k=2 s=2', 499, 512, 1024, 1024, 1],
  ['feature projection 512→768', 499, 768, 512, 512, 0],
  ['qkv 768→2304', 499, 2304, 768, 768, 0],
  ['out proj 768→768', 499, 768, 768, 768, 0],
  ['ffn up 768→3072 +GELU', 499, 3072, 768, 768, 1],
  ['ffn down 3072→768', 499, 768, 3072, 3072, 0],
];
for (const [name, M, N, K, lda, act] of gemms) {
  ar.reset();
  const aLen = (M - 1) * lda + K;
  const A = ar.alloc(aLen), W = ar.alloc(N * K), Bp = ar.alloc(k.exports.f32_packed_floats(N, K));
  const C = ar.alloc(M * N), bias = ar.alloc(N);
  ar.f32(A, aLen).set(ref.randomArray(aLen, r));
  ar.f32(W, N * K).set(ref.randomArray(N * K, r, -0.05, 0.05));
  ar.f32(bias, N).set(ref.randomArray(N, r));
  k.exports.f32_pack_b(N, K, W, Bp);
  const run = () => k.exports.f32_gemm_packed(M, N, K, A, lda, Bp, C, N, bias, act, 0);
  run();
  // check the first and last 3 rows
  const a = ar.f32(A, aLen).slice(), w = ar.f32(W, N * K).slice(), b = ar.f32(bias, N).slice(), c = ar.f32(C, M * N);
  let ok = true;
  for (const m0 of [0, M - 3]) {
    const want = ref.gemm({ M: 3, N, K, A: a.subarray(m0 * lda), lda, b: (kk, n) => w[n * K + kk], C: new Float32Array(3 * N),
      ldc: N, bias: b, act, accumulate: false });
    ok &&= ref.maxErr(c.subarray(m0 * N, (m0 + 3) * N), want).err <= 1e-5 * Math.max(1, ref.maxErr(want, new Float64Array(want.length)).err);
  }
  row(`gemm_packed ${name} [${M}×${N}×${K}]`, best(run), 2 * M * N * K, ok);
}

// --- attention: one head of 12, T = 499, D = 64, Q/K/V strided in a fused [T][3C] buffer -----------------------

for (const T of [499, 1499]) {
  ar.reset();
  const C = 768, D = 64;
  const qkv = ar.alloc(T * 3 * C), Kt = ar.alloc(D * T), O = ar.alloc(T * C), relb = ar.alloc(2 * T - 1), gate = ar.alloc(T);
  const S = ar.alloc(k.exports.f32_attention_scratch_floats(T));
  ar.f32(qkv, T * 3 * C).set(ref.randomArray(T * 3 * C, r));
  ar.f32(relb, 2 * T - 1).set(ref.randomArray(2 * T - 1, r));
  ar.f32(gate, T).set(ref.randomArray(T, r, 0, 2));
  const run = () => {
    k.exports.f32_transpose(T, D, qkv + 4 * C, 3 * C, Kt, T);
    k.exports.f32_attention(0, T, T, D, D, qkv, 3 * C, Kt, qkv + 8 * C, 3 * C, O, C, 0.125, relb, gate, S);
  };
  run();
  const all = ar.f32(qkv, T * 3 * C).slice();
  const kt = ar.f32(Kt, D * T).slice();
  const want = ref.attention({ i0: 0, i1: 4, T, dq: D, dv: D, Q: all, ldq: 3 * C, Kt: kt, V: all.subarray(2 * C), ldv: 3 * C,
    O: new Float32Array(4 * C), ldo: C, scale: 0.125, relb: ar.f32(relb, 2 * T - 1).slice(), gate: ar.f32(gate, T).slice() });
  const got = ar.f32(O, 4 * C);
  let err = 0;
  for (let i = 0; i < 4; i++) for (let e = 0; e < D; e++) err = Math.max(err, Math.abs(got[i * C + e] - want[i * C + e]));
  row(`attention head T=${T} D=${D} (+ K transpose)`, best(run), 2 * T * T * 2 * D, err <= 1e-5);
}

// --- elementwise and norms -------------------------------------------------------------------------------------

{
  ar.reset();
  const n = 499 * 3072;
  const X = ar.alloc(n), Y = ar.alloc(n);
  ar.f32(X, n).set(ref.randomArray(n, r, -6, 6));
  const runG = () => k.exports.f32_gelu(n, X, Y);
  runG();
  const x = ar.f32(X, 64).slice(), y = ar.f32(Y, 64);
  row(`gelu n=${n} (flops = elements)`, best(runG), n, Array.from(x).every((v, i) => Math.abs(y[i] - ref.gelu(v)) <= 4e-7));
  const runE = () => k.exports.f32_exp(n, X, Y);
  row(`exp n=${n} (flops = elements)`, best(runE), n, true);
  const M = 499, N = 768, G = ar.alloc(N), B = ar.alloc(N);
  ar.f32(G, N).fill(1);
  const runL = () => k.exports.f32_layernorm(M, N, X, N, Y, N, G, B, 1e-5);
  row(`layernorm ${M}×${N} (flops = elements)`, best(runL), M * N, true);
  const T = 31999, Cg = 512, S = ar.alloc(2 * Cg), Xg = ar.alloc(T * Cg);
  ar.f32(Xg, T * Cg).set(ref.randomArray(T * Cg, r));
  const runN = () => k.exports.f32_groupnorm_time(T, Cg, Xg, G, B, 1e-5, S);
  row(`groupnorm_time ${T}×${Cg} (flops = elements)`, best(runN), T * Cg, true);
}
