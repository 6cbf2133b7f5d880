// ONNX Runtime on slimwav's exported graph: onnxruntime-web (WebAssembly SIMD backend, run from node_modules) and
// onnxruntime-node (native CPU EP), on the wav2vec2-base shape (random weights) and on a pruned layout of it.
//
//   npx tsx bench/ort.ts [--seconds 10] [--threads 1,2] [--json]
//
// Each figure is the best of 3 runs after one warm-up run. onnxruntime-web fixes its thread count when its wasm
// module starts (once per process), so every onnxruntime-web measurement runs in a child process of this script;
// onnxruntime-node takes intraOpNumThreads per session and runs in this process. Before timing, the web output is
// checked against the node output on the same input.
//
// runOrtBench(modelConfig, tensors, pcm, threads) is exported for other bench scripts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as OrtNode from 'onnxruntime-node';
import type { ModelConfig } from '../src/arch/config.js';
import type { RawTensor } from '../src/format/tensor.js';
import { exportOnnx } from '../src/onnx/export.js';

const SELF = fileURLToPath(import.meta.url);
const WARMUP = 1;
const RUNS = 3;

/** The folder holding onnxruntime-web's .mjs/.wasm runtime files, as a file: URL prefix for env.wasm.wasmPaths. */
export function ortWebWasmPaths(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-web'); // …/onnxruntime-web/dist/ort.node.min.js
  return pathToFileURL(dirname(main)).href + '/';
}

interface Timing { ms: number; all: number[]; sessionMs: number; out: Float32Array }

async function timeRuns(run: () => Promise<Float32Array>): Promise<{ ms: number; all: number[]; out: Float32Array }> {
  let out: Float32Array = new Float32Array(0);
  for (let i = 0; i < WARMUP; i++) out = await run();
  const all: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    out = await run();
    all.push(performance.now() - t0);
  }
  return { ms: Math.min(...all), all, out };
}

async function ortNode(onnx: Uint8Array, pcm: Float32Array, threads: number): Promise<Timing> {
  const ort: typeof OrtNode = await import('onnxruntime-node');
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const sessionMs = performance.now() - t0;
  try {
    const input = new ort.Tensor('float32', pcm, [1, pcm.length]);
    const r = await timeRuns(async () => (await session.run({ waveform: input }, ['last_hidden_state'])).last_hidden_state.data as Float32Array);
    return { ...r, sessionMs };
  } finally {
    await session.release();
  }
}

/** onnxruntime-web in this process (only ever called in a child: the wasm module keeps its first thread count). */
async function ortWebHere(onnx: Uint8Array, pcm: Float32Array, threads: number): Promise<Timing> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = ortWebWasmPaths();
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], executionMode: 'sequential' });
  const sessionMs = performance.now() - t0;
  try {
    const input = new ort.Tensor('float32', pcm, [1, pcm.length]);
    const r = await timeRuns(async () => (await session.run({ waveform: input }, ['last_hidden_state'])).last_hidden_state.data as Float32Array);
    return { ...r, sessionMs };
  } finally {
    await session.release();
  }
}

/** onnxruntime-web in a fresh child process (same node flags, so tsx keeps working). */
async function ortWeb(onnxPath: string, pcmPath: string, threads: number, outPath: string): Promise<Timing> {
  const child = spawn(process.execPath, [...process.execArgv, SELF, '--ort-web-child', onnxPath, pcmPath, String(threads), outPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code: number | null = await new Promise((res, rej) => child.on('error', rej).on('close', res));
  const last = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`onnxruntime-web child (${threads} thread(s)) failed with exit ${code}: ${stdout.slice(-500)}`);
  const r = JSON.parse(last) as { ms: number; all: number[]; sessionMs: number };
  const b = readFileSync(outPath);
  return { ...r, out: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(1, s);
}

export interface OrtBenchResult {
  ortWebMs: number;
  ortNodeMs: number;
  /** details: every timed run, session creation, graph size, web-vs-node agreement */
  detail: { threads: number; web: { all: number[]; sessionMs: number }; node: { all: number[]; sessionMs: number }; onnxBytes: number; exportMs: number; webVsNode: number };
}

/**
 * Export `tensors` under `modelConfig` (config JSON, or a parsed ModelConfig) to ONNX and time one forward pass of
 * `pcm` (16 kHz) with onnxruntime-web (wasm SIMD, `threads` threads) and onnxruntime-node (CPU EP, `threads`
 * intra-op threads): best of 3 after a warm-up, in ms.
 */
export async function runOrtBench(
  modelConfig: ModelConfig | Record<string, unknown>, tensors: Map<string, RawTensor>, pcm: Float32Array, threads: number,
): Promise<OrtBenchResult> {
  const json = isParsed(modelConfig) ? modelConfig.raw : modelConfig;
  const t0 = performance.now();
  const { bytes } = exportOnnx(json, tensors, { source: 'bench' });
  const exportMs = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-ort-bench-'));
  try {
    const onnxPath = join(dir, 'model.onnx'), pcmPath = join(dir, 'pcm.f32'), outPath = join(dir, 'web-out.f32');
    writeFileSync(onnxPath, bytes);
    writeFileSync(pcmPath, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    const node = await ortNode(bytes, pcm, threads);
    const web = await ortWeb(onnxPath, pcmPath, threads, outPath);
    const webVsNode = maxRelDiff(web.out, node.out);
    if (!(webVsNode <= 1e-3)) throw new Error(`onnxruntime-web and onnxruntime-node disagree: max|Δ| = ${webVsNode} of max(1, |out|)`);
    return {
      ortWebMs: web.ms,
      ortNodeMs: node.ms,
      detail: {
        threads,
        web: { all: web.all, sessionMs: web.sessionMs },
        node: { all: node.all, sessionMs: node.sessionMs },
        onnxBytes: bytes.length,
        exportMs,
        webVsNode,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isParsed(c: ModelConfig | Record<string, unknown>): c is ModelConfig {
  return typeof (c as ModelConfig).raw === 'object' && Array.isArray((c as ModelConfig).layers) && typeof (c as ModelConfig).hidden === 'number';
}

// ---- child mode: one onnxruntime-web measurement, JSON on the last stdout line
async function child(argv: string[]): Promise<void> {
  const [onnxPath, pcmPath, threads, outPath] = argv;
  const b = readFileSync(pcmPath);
  const pcm = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const r = await ortWebHere(new Uint8Array(readFileSync(onnxPath)), pcm, Number(threads));
  writeFileSync(outPath, new Uint8Array(r.out.buffer, r.out.byteOffset, r.out.byteLength));
  process.stdout.write(JSON.stringify({ ms: r.ms, all: r.all, sessionMs: r.sessionMs }) + '\n');
}

// ---- command line
async function main(): Promise<void> {
  const { compact, parseConfig, readAudioFile, countParams } = await import('../src/index.js');
  const { randomTensors } = await import('../src/arch/random-model.js');
  const { prunedMasks } = await import('./layouts.js');
  const arg = (name: string, def: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const seconds = Number(arg('seconds', '10'));
  const threadList = arg('threads', '1,2').split(',').map(Number);
  const jsonOut = process.argv.includes('--json');
  const log = (s = '') => { if (!jsonOut) console.log(s); };

  const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
  const cfg = parseConfig(cfgJson);
  const speech = await readAudioFile(fileURLToPath(new URL('../models/speech.wav', import.meta.url)));
  const pcm = new Float32Array(seconds * 16000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length];
  const dense = randomTensors(cfg, cfgJson.slimwav_init_seed);
  const pruned = compact(cfgJson, dense, prunedMasks(cfg, 0.335, 0.52));
  const models = [
    { name: 'dense wav2vec2-base', config: cfgJson as Record<string, unknown>, tensors: dense },
    { name: 'pruned layout', config: pruned.config, tensors: pruned.tensors },
  ];
  log(`ONNX Runtime on slimwav's exported graph, ${seconds} s of audio (${pcm.length} samples), best of ${RUNS} after ${WARMUP} warm-up`);
  const rows: Record<string, unknown>[] = [];
  for (const m of models) {
    const params = countParams(parseConfig(m.config), m.tensors);
    log(`\n${m.name}: ${(params / 1e6).toFixed(2)} M params`);
    for (const threads of threadList) {
      const r = await runOrtBench(m.config, m.tensors, pcm, threads);
      const rtf = (ms: number) => (ms / 1000 / seconds).toFixed(3);
      log(`  ${threads} thread(s)  onnxruntime-web (wasm SIMD) ${r.ortWebMs.toFixed(0).padStart(6)} ms  RTF ${rtf(r.ortWebMs)}   ` +
        `onnxruntime-node (CPU EP) ${r.ortNodeMs.toFixed(0).padStart(6)} ms  RTF ${rtf(r.ortNodeMs)}   ` +
        `(ONNX ${(r.detail.onnxBytes / 1e6).toFixed(0)} MB, web vs node ${r.detail.webVsNode.toExponential(1)})`);
      rows.push({ model: m.name, params, threads, ...r });
    }
  }
  if (jsonOut) process.stdout.write(JSON.stringify({ seconds, runs: RUNS, warmup: WARMUP, results: rows }) + '\n');
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === SELF) {
  const i = process.argv.indexOf('--ort-web-child');
  await (i > 0 ? child(process.argv.slice(i + 1)) : main());
}
