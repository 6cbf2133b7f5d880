// End-to-end and kernel benchmarks on the wav2vec2-base shape (tinybench).
//
//   npx tsx bench/e2e.ts [--seconds 10] [--iterations 3] [--json]
//
// 1. The machine's f32x4 mul+add peak, measured in registers in this same run.
// 2. The packed GEMM on the base model's real shapes (validated against a plain loop first), GFLOP/s and % of peak.
// 3. The dense base-shaped model on 10 s of speech, one thread: load time, run time, real-time factor.
// 4. A pruned layout with ~28% of the parameters (fine-grained heads, ragged FFN, pruned conv channels): the speedup
//    next to the ratio of MACs.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import { buildModel, compact, parseConfig, readAudioFile } from '../src/index.js';
import { randomTensors } from '../src/arch/random-model.js';
import { countMacs, countParams } from '../src/arch/tensors.js';
import { instantiateKernels, Arena } from '../src/runtime/wasm.js';
import { benchMasks } from '../src/bench.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 10);
const ITER = arg('iterations', 3);
const JSON_OUT = process.argv.includes('--json');
const log = (s = '') => { if (!JSON_OUT) console.log(s); };

async function time(name: string, fn: () => unknown, iterations = ITER): Promise<number> {
  const bench = new Bench({ iterations, warmupIterations: 1, time: 0, warmupTime: 0 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result as unknown as { latency: { mean: number; min: number } };
  return r.latency.min; // ms; the minimum is the least noisy estimate of what the code can do
}

// ---- 1. peak
const k = await instantiateKernels('release');
const kx = k.exports as unknown as Record<string, (...a: number[]) => number>;
const PEAK_ITERS = 20_000_000;
const peakMs = await time('peak', () => kx.f32_peak_madd(PEAK_ITERS), 5);
const peak = (PEAK_ITERS * 96) / (peakMs / 1000) / 1e9;

// ---- 2. GEMM on base shapes
const arena = new Arena(k.memory, k.heapBase);
const shapes: [string, number, number, number][] = [
  ['q/k/v/out 499×768×768', 499, 768, 768],
  ['FFN in 499×768×3072', 499, 3072, 768],
  ['FFN out 499×3072×768', 499, 768, 3072],
  ['conv1 1599×512×1536', 1599, 512, 1536],
];
const gemm: { shape: string; ms: number; gflops: number; ofPeak: number }[] = [];
for (const [name, M, N, K] of shapes) {
  const A = arena.alloc(M * K), W = arena.alloc(N * K), Bp = arena.alloc(kx.f32_packed_floats(N, K)), C = arena.alloc(M * N);
  const a = arena.f32(A, M * K), w = arena.f32(W, N * K);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37);
  for (let i = 0; i < w.length; i++) w[i] = Math.cos(i * 0.11) / 30;
  kx.f32_pack_b(N, K, W, Bp);
  kx.f32_gemm_packed(M, N, K, A, K, Bp, C, N, 0, 0, 0);
  // validate a few entries against a plain loop before timing
  const c = arena.f32(C, M * N), av = arena.f32(A, M * K), wv = arena.f32(W, N * K);
  for (const [m, n] of [[0, 0], [M - 1, N - 1], [M >> 1, N >> 1], [3, N - 5]]) {
    let s = 0;
    for (let q = 0; q < K; q++) s += av[m * K + q] * wv[n * K + q];
    if (Math.abs(s - c[m * N + n]) > 1e-3 * Math.max(1, Math.abs(s))) throw new Error(`gemm ${name} wrong at ${m},${n}: ${c[m * N + n]} vs ${s}`);
  }
  const ms = await time(name, () => kx.f32_gemm_packed(M, N, K, A, K, Bp, C, N, 0, 0, 0), 20);
  const gflops = (2 * M * N * K) / (ms / 1000) / 1e9;
  gemm.push({ shape: name, ms, gflops, ofPeak: gflops / peak });
}

// ---- 3/4. end to end
const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
const cfg = parseConfig(cfgJson);
const speech = await readAudioFile(new URL('../models/speech.wav', import.meta.url).pathname);
const pcm = new Float32Array(SECONDS * 16000);
for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length];

let t0 = performance.now();
const tensors = randomTensors(cfg, cfgJson.slimwav_init_seed);
const genMs = performance.now() - t0;
t0 = performance.now();
const dense = await buildModel(cfgJson, tensors, 'dense', [], { threads: 1 });
const loadMs = performance.now() - t0;
const pruned = compact(cfgJson, tensors, benchMasks(cfg));
const pcfg = parseConfig(pruned.config);
const small = await buildModel(pruned.config, pruned.tensors, 'pruned', [], { threads: 1 });
const denseParams = countParams(cfg, tensors), smallParams = countParams(pcfg, pruned.tensors);
const denseMacs = countMacs(cfg, pcm.length).total, smallMacs = countMacs(pcfg, pcm.length).total;
tensors.clear();

const denseMs = await time('dense', () => dense.extract(pcm, { layers: 'last' }));
const smallMs = await time('pruned', () => small.extract(pcm, { layers: 'last' }));
dense.dispose();
small.dispose();

const result = {
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`,
  peak_gflops_f32x4_muladd: peak,
  gemm,
  e2e: {
    audio_seconds: SECONDS,
    threads: 1,
    dense: { params: denseParams, gmacs: denseMacs / 1e9, ms: denseMs, rtf: denseMs / 1000 / SECONDS, gflops: (2 * denseMacs) / (denseMs / 1000) / 1e9, weights_generate_ms: genMs, load_ms: loadMs },
    pruned: { params: smallParams, params_fraction: smallParams / denseParams, gmacs: smallMacs / 1e9, macs_fraction: smallMacs / denseMacs, ms: smallMs, rtf: smallMs / 1000 / SECONDS, speedup: denseMs / smallMs, mac_ratio: denseMacs / smallMacs },
  },
};

if (JSON_OUT) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (x: number, d = 1) => x.toFixed(d);
  log(`slimwav bench — ${result.machine}, ${result.date}`);
  log(`f32x4 mul+add peak (measured now): ${f(peak)} GFLOP/s per core`);
  log();
  log('GEMM (packed, single thread)          ms    GFLOP/s  of peak');
  for (const g of gemm) log(`  ${g.shape.padEnd(32)} ${f(g.ms, 2).padStart(7)} ${f(g.gflops).padStart(9)} ${(100 * g.ofPeak).toFixed(0).padStart(6)}%`);
  log();
  const d = result.e2e.dense, p = result.e2e.pruned;
  log(`end to end, ${SECONDS} s of speech, 1 thread`);
  log(`  dense  wav2vec2-base  ${f(d.params / 1e6)} M params  ${f(d.gmacs)} GMAC  ${f(d.ms, 0)} ms  RTF ${d.rtf.toFixed(3)}  ${f(d.gflops)} GFLOP/s  (load ${f(d.load_ms, 0)} ms)`);
  log(`  pruned ${(100 * p.params_fraction).toFixed(0)}% params       ${f(p.params / 1e6)} M params  ${f(p.gmacs)} GMAC  ${f(p.ms, 0)} ms  RTF ${p.rtf.toFixed(3)}`);
  log(`  speedup ${p.speedup.toFixed(2)}× for a MAC ratio of ${p.mac_ratio.toFixed(2)}×`);
}
