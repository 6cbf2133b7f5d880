/**
 * `slimwav bench`: the speed table users compare us by. Everything is measured in this one run on this machine:
 * the f32x4 peaks (mul+add and fused multiply-add), the GEMM on base shapes, then end-to-end runs of the
 * wav2vec2-base shape (deterministic random weights) and of a pruned layout with ~28% of its parameters, for each
 * SIMD build and thread count, next to onnxruntime-web and onnxruntime-node on exactly the same weights (when those
 * optional packages are installed: they are devDependencies of a clone). Peak memory for long inputs runs each
 * length in a child process, so that every figure is that length's own maximum RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { fail } from '../errors.js';
import { modelsDir } from './bundled.js';
import { buildModel, load } from '../model.js';
import { serializeSafetensors } from '../format/safetensors.js';
import { parseConfig } from '../arch/config.js';
import { randomTensors } from '../arch/random-model.js';
import { countMacs, countParams } from '../arch/tensors.js';
import { compact } from '../prune/compact.js';
import { benchMasks } from '../arch/bench-layout.js';
import type { ModelConfig } from '../arch/config.js';
import { readAudioFile } from '../format/audio.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { lineChart } from '../viz/svg.js';
import { parseCommand, usageError } from './args.js';
import { Arena, enableRelaxedSimd, instantiateKernels, type KernelVariant } from '../runtime/wasm.js';
import type { RawTensor } from '../format/tensor.js';
import { peakRssMB } from '../util/peak-rss.js';

/** tinybench: `warmup` untimed runs, then `iterations` timed ones; the minimum (ms) is the least noisy estimate. */
export async function best(fn: () => void, iterations: number, warmup = 1): Promise<number> {
  const bench = new Bench({ iterations, warmupIterations: warmup, time: 0, warmupTime: 0 });
  bench.add('task', fn);
  await bench.run();
  const r = bench.tasks[0].result as unknown as { latency?: { min: number }; error?: Error };
  if (!r.latency) throw r.error ?? new Error('benchmark task failed');
  return r.latency.min;
}

/** f32x4 peak of one build, in registers: GFLOP/s of one core. */
async function measurePeak(variant: KernelVariant): Promise<number> {
  const k = await instantiateKernels(variant);
  const ex = k.exports as unknown as { f32_peak_madd(n: number): number };
  const iters = 10_000_000;
  const ms = await best(() => void ex.f32_peak_madd(iters), 5);
  return (iters * 96) / (ms / 1000) / 1e9;
}

const GEMM_SHAPES: [string, number, number, number][] = [
  ['499×768×768 (q/k/v/out)', 499, 768, 768],
  ['499×768×3072 (FFN in)', 499, 3072, 768],
  ['499×3072×768 (FFN out)', 499, 768, 3072],
];

async function measureGemm(variant: KernelVariant): Promise<{ shape: string; gflops: number }[]> {
  const k = await instantiateKernels(variant);
  const x = k.exports;
  const arena = new Arena(k.memory, k.heapBase);
  const out: { shape: string; gflops: number }[] = [];
  for (const [shape, M, N, K] of GEMM_SHAPES) {
    const A = arena.alloc(M * K), W = arena.alloc(N * K), Bp = arena.alloc(x.f32_packed_floats(N, K)), C = arena.alloc(M * N);
    const a = arena.f32(A, M * K), w = arena.f32(W, N * K);
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37);
    for (let i = 0; i < w.length; i++) w[i] = Math.cos(i * 0.11) / 30;
    x.f32_pack_b(N, K, W, Bp);
    const ms = await best(() => x.f32_gemm_packed(M, N, K, A, K, Bp, C, N, 0, 0, 0), 15, 2);
    out.push({ shape, gflops: (2 * M * N * K) / (ms / 1000) / 1e9 });
  }
  return out;
}

export { benchMasks } from '../arch/bench-layout.js';

/**
 * Pruned layouts of the base shape: the ~28% layout by default, or for each requested sparsity (fraction of
 * parameters removed) the benchMasks layout whose scale is bisected to within 1% of it.
 */
function prunedLayouts(cfgJson: Record<string, unknown>, cfg: ModelConfig, tensors: Map<string, RawTensor>, sparsities: number[] | null) {
  const layout = (scale: number, convKeep?: number) => {
    const p = compact(cfgJson, tensors, benchMasks(cfg, scale, convKeep));
    const pcfg = parseConfig(p.config);
    return { config: p.config, cfg: pcfg, tensors: p.tensors, params: countParams(pcfg, p.tensors) };
  };
  if (!sparsities) return [{ name: 'pruned', ...layout(0.335) }];
  const dense = countParams(cfg, tensors);
  return sparsities.map((target) => {
    let lo = 0.01, hi = 1, best: ReturnType<typeof layout> | undefined;
    for (let it = 0; it < 12; it++) {
      const scale = (lo + hi) / 2;
      best = layout(scale, Math.min(1, 0.9 * Math.sqrt(scale)));
      const removed = 1 - best.params / dense;
      if (Math.abs(removed - target) < 0.01) break;
      if (removed > target) lo = scale; else hi = scale;
    }
    return { name: `pruned-${target}`, ...best! };
  });
}

/** The bench's chart: time against sparsity (fraction of parameters removed), one line per build and thread count. */
export function benchSvg(rows: { model: string; runtime: string; build: string; threads: number; ms: number }[], sparsityOf: Map<string, number>, seconds: number): string {
  const series = new Map<string, [number, number][]>();
  for (const r of rows) {
    const s = sparsityOf.get(r.model);
    if (r.runtime !== 'slimwav' || s === undefined) continue;
    const key = `${r.build}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`;
    series.set(key, [...(series.get(key) ?? []), [s, r.ms]]);
  }
  return lineChart(`slimwav bench: ${seconds} s of speech, wav2vec2-base shape`, 'sparsity (fraction of parameters removed)', 'time (ms)',
    [...series].map(([label, points]) => ({ label, points })));
}

interface Row {
  model: string;
  runtime: string;
  build: string;
  threads: number;
  ms: number;
  rtf: number;
  gflops: number;
  of_peak: number | null;
  vs_our_dense: number | null;
  vs_ort_web: number | null;
  vs_ort_node: number | null;
}

type OrtRunner = (config: Record<string, unknown>, tensors: Map<string, RawTensor>, pcm: Float32Array, threads: number, iterations: number, dtype?: 'f32' | 'q8')
  => Promise<{ ortWebMs: number | null; ortNodeMs: number | null }>;

async function loadOrtRunner(): Promise<OrtRunner | null> {
  try {
    const spec = './ort-bench.js'; // optional: needs onnxruntime-web / onnxruntime-node (devDependencies)
    const mod = (await import(spec)) as { runOrtBench: OrtRunner };
    return mod.runOrtBench;
  } catch {
    return null;
  }
}

// ---- q8 rows: slimwav's int8 engine (load(…, { dtype: 'q8' })) and ONNX Runtime on the q8 graph of the same
// weights (export-onnx --dtype q8), next to our f32 and onnxruntime-node f32 on the same model, build and threads.

export type Q8Row = Pick<Row, 'model' | 'runtime' | 'build' | 'threads' | 'ms' | 'rtf'> & {
  /** our f32 ms on the same model, build and threads / this row's ms (slimwav rows) */
  vs_our_f32: number | null;
  /** onnxruntime-web q8 ms / this row's ms, onnxruntime-node q8 ms / this row's ms, onnxruntime-node f32 ms / this row's ms */
  vs_ort_web_q8: number | null;
  vs_ort_node_q8: number | null;
  vs_ort_node_f32: number | null;
};

interface BenchModel { name: string; config: Record<string, unknown>; tensors: Map<string, RawTensor> }

/**
 * The q8 rows: for every model, build and thread count slimwav at dtype q8; for every model and thread count
 * onnxruntime-web and onnxruntime-node on the q8 ONNX graph (when `ort` is given). `ourF32` holds our f32 ms by
 * `model/build/threads`, `ortF32` onnxruntime's f32 ms by `model/threads`.
 */
export async function q8Rows(
  models: BenchModel[], builds: { name: string; simd: 'plain' | 'relaxed' }[], threadList: number[], pcm: Float32Array, iterations: number,
  ourF32: Map<string, number>, ortF32: Map<string, { web: number | null; node: number | null }>, ort: OrtRunner | null,
): Promise<Q8Row[]> {
  const seconds = pcm.length / 16000;
  const rows: Q8Row[] = [];
  const row = (model: string, runtime: string, build: string, threads: number, ms: number): Q8Row =>
    ({ model, runtime, build, threads, ms, rtf: ms / 1000 / seconds, vs_our_f32: null, vs_ort_web_q8: null, vs_ort_node_q8: null, vs_ort_node_f32: null });
  for (const m of models) {
    for (const b of builds) {
      for (const threads of threadList) {
        const opts = { threads, simd: b.simd, dtype: 'q8' as const };
        const model = await buildModel(m.config, m.tensors, m.name, [], opts);
        const ms = await best(() => void model.extract(pcm, { layers: 'last' }), iterations);
        model.dispose();
        const r = row(m.name, 'slimwav q8', b.name, threads, ms);
        const f32 = ourF32.get(`${m.name}/${b.name}/${threads}`);
        r.vs_our_f32 = f32 ? f32 / ms : null;
        rows.push(r);
      }
    }
  }
  const ortQ8 = new Map<string, { web: number | null; node: number | null }>();
  if (ort) {
    for (const m of models) {
      for (const threads of threadList) {
        const r = await ort(m.config, m.tensors, pcm, threads, iterations, 'q8');
        ortQ8.set(`${m.name}/${threads}`, { web: r.ortWebMs, node: r.ortNodeMs });
        if (r.ortWebMs !== null) rows.push(row(m.name, 'onnxruntime-web q8', 'wasm simd', threads, r.ortWebMs));
        if (r.ortNodeMs !== null) rows.push(row(m.name, 'onnxruntime-node q8', 'native', threads, r.ortNodeMs));
      }
    }
  }
  for (const r of rows) {
    const q = ortQ8.get(`${r.model}/${r.threads}`), f = ortF32.get(`${r.model}/${r.threads}`);
    if (q?.web && r.runtime !== 'onnxruntime-web q8') r.vs_ort_web_q8 = q.web / r.ms;
    if (q?.node && r.runtime !== 'onnxruntime-node q8') r.vs_ort_node_q8 = q.node / r.ms;
    if (f?.node) r.vs_ort_node_f32 = f.node / r.ms;
  }
  return rows;
}

type OrtLoadRunner = (config: Record<string, unknown>, tensors: Map<string, RawTensor>, threads: number, runs: number)
  => Promise<{ nodeMs: number | null; webMs: number | null }>;

async function loadOrtLoadRunner(): Promise<OrtLoadRunner | null> {
  try {
    const spec = './ort-bench.js'; // optional, as loadOrtRunner
    return ((await import(spec)) as { runOrtLoadBench: OrtLoadRunner }).runOrtLoadBench;
  } catch {
    return null;
  }
}

/** One load-time row: opening the model from its file, best of the runs, in ms. */
export interface LoadRow { runtime: string; threads: number; ms: number }

/**
 * Load time of one model: slimwav's load() of a model folder (config.json + F32 model.safetensors) written to a temp
 * folder, and, when installed, onnxruntime-node / -web reading the same weights exported to ONNX and creating a
 * session. Best of `runs` each; the files are in the page cache after the first run.
 */
export async function measureLoad(cfgJson: Record<string, unknown>, tensors: Map<string, RawTensor>, threadList: number[], runs: number,
  ort: OrtLoadRunner | null): Promise<LoadRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-bench-load-'));
  const rows: LoadRow[] = [];
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfgJson));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors({ tensors, metadata: {} }));
    for (const threads of threadList) {
      let ms = Infinity;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const model = await load(dir, { threads });
        ms = Math.min(ms, performance.now() - t0);
        model.dispose();
      }
      rows.push({ runtime: 'slimwav', threads, ms });
      if (ort) {
        const r = await ort(cfgJson, tensors, threads, runs);
        if (r.nodeMs !== null) rows.push({ runtime: 'onnxruntime-node', threads, ms: r.nodeMs });
        if (r.webMs !== null) rows.push({ runtime: 'onnxruntime-web', threads, ms: r.webMs });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The q8 table, in the style of the main one. */
function printQ8Rows(rows: Q8Row[], seconds: number, say: (s?: string) => void): void {
  const width = Math.max(7, ...rows.map((r) => r.model.length));
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(2) + '×');
  say();
  say(`q8 (int8 weights), ${seconds} s of speech: slimwav at dtype q8, ONNX Runtime on the q8 graph of the same weights (export-onnx --dtype q8)`);
  say(`${'model'.padEnd(width)} runtime              build      thr        ms     RTF  vs our f32  vs ort-web q8  vs ort-node q8  vs ort-node f32`);
  for (const r of rows) {
    say(`${r.model.padEnd(width)} ${r.runtime.padEnd(20)} ${r.build.padEnd(9)} ${String(r.threads).padStart(4)} ${r.ms.toFixed(0).padStart(9)} ${r.rtf.toFixed(3).padStart(7)} ` +
      `${f(r.vs_our_f32).padStart(11)} ${f(r.vs_ort_web_q8).padStart(14)} ${f(r.vs_ort_node_q8).padStart(15)} ${f(r.vs_ort_node_f32).padStart(16)}`);
  }
}

/** Child mode: run `seconds` of audio once and print this process's peak RSS. */
async function memoryChild(seconds: number, threads: number): Promise<void> {
  const dir = modelsDir('bench');
  const cfgJson = JSON.parse(readFileSync(dir + 'wav2vec2-base-random/config.json', 'utf8'));
  const tensors = randomTensors(parseConfig(cfgJson), cfgJson.slimwav_init_seed);
  const model = await buildModel(cfgJson, tensors, 'bench', [], { threads });
  tensors.clear();
  const speech = await readAudioFile(dir + 'speech.wav');
  const pcm = new Float32Array(seconds * 16000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length];
  const t0 = performance.now();
  const r = await model.extract(pcm, { layers: 'last' });
  const ms = performance.now() - t0;
  model.dispose();
  process.stdout.write(JSON.stringify({ seconds, frames: r.frames, ms, maxRssMB: peakRssMB() }) + '\n');
}

export async function bench(argv: string[]): Promise<void> {
  const { values } = parseCommand('bench', argv, {
    seconds: { type: 'string', default: '10' },
    iterations: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    json: { type: 'boolean' },
    'no-ort': { type: 'boolean' },
    memory: { type: 'string' },
    'memory-child': { type: 'string' },
    sparsity: { type: 'string' },
    svg: { type: 'string' },
  }, []);
  const svg = values.svg as string | undefined;
  if (svg !== undefined && !svg.endsWith('.svg')) usageError('bench', `--svg must name a .svg file, found "${svg}"`);
  const sparsities = values.sparsity === undefined ? null : String(values.sparsity).split(',').map(Number);
  if (sparsities && sparsities.some((x) => !(x > 0 && x < 0.95))) usageError('bench', `--sparsity must list fractions of parameters to remove, each in (0, 0.95), found "${values.sparsity}"`);
  const seconds = Number(values.seconds), iterations = Number(values.iterations);
  if (!(seconds >= 1 && seconds <= 3600)) usageError('bench', `--seconds must be between 1 and 3600, found "${values.seconds}"`);
  if (!(Number.isInteger(iterations) && iterations >= 1)) usageError('bench', `--iterations must be a positive whole number, found "${values.iterations}"`);
  const threadList = String(values.threads).split(',').map(Number);
  if (threadList.some((t) => !Number.isInteger(t) || t < 1 || t > 256)) usageError('bench', `--threads must list whole numbers 1..256, found "${values.threads}"`);
  if (values['memory-child']) return memoryChild(Number(values['memory-child']), threadList[threadList.length - 1]);

  const say = (s = '') => { if (!values.json) process.stdout.write(s + '\n'); };
  const relaxed = enableRelaxedSimd();
  const builds: { name: string; variant: KernelVariant; simd: 'plain' | 'relaxed' }[] = [{ name: 'simd128', variant: 'release', simd: 'plain' }];
  if (relaxed) builds.push({ name: 'relaxed', variant: 'relaxed', simd: 'relaxed' });

  const machine = `${cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  say(`slimwav bench — ${machine}, ${new Date().toISOString().slice(0, 10)}`);
  const peaks: Record<string, number> = {};
  const gemm: Record<string, { shape: string; gflops: number; of_peak: number }[]> = {};
  for (const b of builds) {
    peaks[b.name] = await measurePeak(b.variant);
    gemm[b.name] = (await measureGemm(b.variant)).map((g) => ({ ...g, of_peak: g.gflops / peaks[b.name] }));
  }
  say(`f32x4 peak per core, measured now: mul+add ${peaks.simd128.toFixed(1)} GFLOP/s` + (relaxed ? `, fused multiply-add ${peaks.relaxed.toFixed(1)} GFLOP/s` : ' (relaxed SIMD unavailable here)'));
  say();
  say('GEMM, one thread                  ' + builds.map((b) => `${b.name.padStart(9)} GFLOP/s  of peak`).join('   '));
  GEMM_SHAPES.forEach(([shape], i) => {
    say(`  ${shape.padEnd(32)}` + builds.map((b) => `${gemm[b.name][i].gflops.toFixed(1).padStart(17)} ${(100 * gemm[b.name][i].of_peak).toFixed(0).padStart(7)}%`).join('   '));
  });

  // models: dense base shape and the ~28% layout, on the same audio
  const dir = modelsDir('bench');
  const cfgJson = JSON.parse(readFileSync(dir + 'wav2vec2-base-random/config.json', 'utf8')) as Record<string, unknown>;
  const cfg = parseConfig(cfgJson);
  const tensors = randomTensors(cfg, cfgJson.slimwav_init_seed as number);
  const speech = await readAudioFile(dir + 'speech.wav');
  const pcm = new Float32Array(seconds * 16000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length];
  const models = [
    { name: 'dense', config: cfgJson, cfg, tensors, params: countParams(cfg, tensors), macs: countMacs(cfg, pcm.length).total },
    ...prunedLayouts(cfgJson, cfg, tensors, sparsities).map((p) => ({ ...p, macs: countMacs(p.cfg, pcm.length).total })),
  ];
  const rows: Row[] = [];
  const ours = new Map<string, number>();
  for (const m of models) {
    for (const b of builds) {
      for (const threads of threadList) {
        const model = await buildModel(m.config, m.tensors, m.name, [], { threads, simd: b.simd });
        const ms = await best(() => void model.extract(pcm, { layers: 'last' }), iterations);
        model.dispose();
        ours.set(`${m.name}/${b.name}/${threads}`, ms);
        rows.push({
          model: m.name, runtime: 'slimwav', build: b.name, threads, ms, rtf: ms / 1000 / seconds,
          gflops: (2 * m.macs) / (ms / 1000) / 1e9, of_peak: (2 * m.macs) / (ms / 1000) / 1e9 / (peaks[b.name] * threads),
          vs_our_dense: null, vs_ort_web: null, vs_ort_node: null,
        });
      }
    }
  }
  const ort = values['no-ort'] ? null : await loadOrtRunner();
  const ortMs = new Map<string, { web: number | null; node: number | null }>();
  if (ort) {
    for (const m of models) {
      for (const threads of threadList) {
        const r = await ort(m.config, m.tensors, pcm, threads, iterations);
        ortMs.set(`${m.name}/${threads}`, { web: r.ortWebMs, node: r.ortNodeMs });
        for (const [runtime, v] of [['onnxruntime-web', r.ortWebMs], ['onnxruntime-node', r.ortNodeMs]] as const) {
          if (v === null) continue;
          rows.push({ model: m.name, runtime, build: runtime.endsWith('web') ? 'wasm simd' : 'native', threads, ms: v, rtf: v / 1000 / seconds, gflops: (2 * m.macs) / (v / 1000) / 1e9, of_peak: null, vs_our_dense: null, vs_ort_web: null, vs_ort_node: null });
        }
      }
    }
  }
  for (const r of rows) {
    if (r.runtime !== 'slimwav') continue;
    const dense = ours.get(`dense/${r.build}/${r.threads}`);
    r.vs_our_dense = dense ? dense / r.ms : null;
    const o = ortMs.get(`${r.model}/${r.threads}`);
    r.vs_ort_web = o?.web ? o.web / r.ms : null;
    r.vs_ort_node = o?.node ? o.node / r.ms : null;
  }
  const q8 = await q8Rows(models, builds, threadList, pcm, iterations, ours, ortMs, ort);
  const loadRows = await measureLoad(cfgJson, tensors, threadList, iterations, values['no-ort'] ? null : await loadOrtLoadRunner());
  tensors.clear();

  say();
  say(`end to end: ${seconds} s of speech; dense = wav2vec2-base shape (${(models[0].params / 1e6).toFixed(1)} M params, ${(models[0].macs / 1e9).toFixed(1)} GMAC), ` +
    models.slice(1).map((m) => `${m.name} = ${(100 * m.params / models[0].params).toFixed(0)}% of its params (${(m.params / 1e6).toFixed(1)} M, ${(m.macs / 1e9).toFixed(1)} GMAC)`).join(', '));
  const width = Math.max(7, ...models.map((m) => m.name.length));
  const f = (x: number | null, d = 2, suffix = '×') => (x === null ? '-' : x.toFixed(d) + suffix);
  say(`${'model'.padEnd(width)} runtime           build      thr        ms     RTF  GFLOP/s  of peak  vs dense  vs ort-web  vs ort-node`);
  for (const r of rows) {
    say(`${r.model.padEnd(width)} ${r.runtime.padEnd(17)} ${r.build.padEnd(9)} ${String(r.threads).padStart(4)} ${r.ms.toFixed(0).padStart(9)} ${r.rtf.toFixed(3).padStart(7)} ${r.gflops.toFixed(1).padStart(8)} ` +
      `${(r.of_peak === null ? '-' : (100 * r.of_peak).toFixed(0) + '%').padStart(8)} ${f(r.vs_our_dense).padStart(9)} ${f(r.vs_ort_web).padStart(11)} ${f(r.vs_ort_node).padStart(12)}`);
  }
  say('GFLOP/s = 2 × the model\'s nominal multiply-adds / time. slimwav does fewer than nominal (Winograd conv layers, the');
  say('positional conv through the DFT: about 8% fewer on the dense shape), so its "of peak" is an effective rate.');
  if (!ort && !values['no-ort']) say('(onnxruntime-web / onnxruntime-node not installed: comparison columns are empty; npm ci in a clone installs them)');
  printQ8Rows(q8, seconds, say);

  say();
  say(`load time, dense model from its file (${(models[0].params / 1e6).toFixed(1)} M params, F32): slimwav load() of config.json + ` +
    'model.safetensors; onnxruntime: reading the exported .onnx and creating a session');
  for (const r of loadRows) say(`  ${r.runtime.padEnd(17)} ${String(r.threads).padStart(4)} thr ${r.ms.toFixed(0).padStart(7)} ms`);

  const memory: { seconds: number; frames: number; ms: number; maxRssMB: number }[] = [];
  if (values.memory) {
    const lengths = String(values.memory).split(',').map(Number);
    const cli = modelsDir('bench') + '../bin/slimwav.js'; // the package root's bin/, from src/cli or dist/src/cli
    for (const s of lengths) {
      const r = spawnSync(process.execPath, [cli, 'bench', '--memory-child', String(s), '--threads', String(threadList[threadList.length - 1])], { encoding: 'utf8' });
      if (r.status !== 0) fail('E_ARGS', `memory run for ${s} s failed: ${r.stderr.split('\n')[0]}`);
      memory.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
    }
    say();
    say(`peak memory (separate process each, ${threadList[threadList.length - 1]} threads, dense base shape)`);
    for (const m of memory) say(`  ${String(m.seconds).padStart(5)} s audio  ${String(m.frames).padStart(6)} frames  ${(m.ms / 1000).toFixed(1).padStart(7)} s  peak RSS ${m.maxRssMB.toFixed(0)} MB`);
  }
  if (svg !== undefined) {
    const sparsityOf = new Map(models.map((m) => [m.name, 1 - m.params / models[0].params]));
    await writeFileAtomic(svg, new TextEncoder().encode(benchSvg(rows, sparsityOf, seconds)));
    say(`chart: ${svg}`);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ machine, date: new Date().toISOString().slice(0, 10), seconds, peaks_gflops: peaks, gemm, rows, q8_rows: q8, load: loadRows, memory }, null, 2) + '\n');
  }
}
