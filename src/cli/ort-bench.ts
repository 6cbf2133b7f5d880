/**
 * Timing ONNX Runtime on slimwav's exported graph: onnxruntime-web (WebAssembly SIMD backend, loaded from its
 * node_modules files) and onnxruntime-node (native CPU execution provider). Both are optional (devDependencies of a
 * clone): a runtime that is not installed gives null.
 *
 * onnxruntime-web fixes its thread count when its wasm module starts, once per process, so each onnxruntime-web
 * measurement runs in a child process (this same file in child mode, with the parent's node flags so that tsx keeps
 * working); onnxruntime-node takes intraOpNumThreads per session and runs in-process. The web output is checked
 * against the node output before a figure is returned.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as OrtNode from 'onnxruntime-node';
import type * as OrtWeb from 'onnxruntime-web';
import type { ModelConfig } from '../arch/config.js';
import type { RawTensor } from '../format/tensor.js';
import { exportOnnx, type OnnxDtype } from '../onnx/export.js';

const SELF = fileURLToPath(import.meta.url);
const WARMUP = 1;

/** The folder of onnxruntime-web's .mjs/.wasm runtime files as a file: URL prefix (env.wasm.wasmPaths), or null. */
export function ortWebWasmPaths(): string | null {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-web'); // …/onnxruntime-web/dist/ort.node.min.js
    return pathToFileURL(dirname(main)).href + '/';
  } catch {
    return null;
  }
}

/** wall ms of the best run, every run's wall ms, the least process CPU ms (all threads) of one run */
export interface RuntimeTiming { ms: number; all: number[]; cpuMs: number; sessionMs: number }

async function timeRuns(run: () => Promise<Float32Array>, runs: number): Promise<RuntimeTiming & { out: Float32Array }> {
  let out: Float32Array = new Float32Array(0);
  for (let i = 0; i < WARMUP; i++) out = await run();
  const all: number[] = [], cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    out = await run();
    all.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms: Math.min(...all), all, cpuMs: Math.min(...cpu), sessionMs: 0, out };
}

async function ortNode(onnx: Uint8Array, pcm: Float32Array, threads: number, runs: number): Promise<(RuntimeTiming & { out: Float32Array }) | null> {
  let ort: typeof OrtNode;
  try {
    ort = await import('onnxruntime-node');
  } catch {
    return null;
  }
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const sessionMs = performance.now() - t0;
  try {
    const input = new ort.Tensor('float32', pcm, [1, pcm.length]);
    const r = await timeRuns(async () => (await session.run({ waveform: input }, ['last_hidden_state'])).last_hidden_state.data as Float32Array, runs);
    return { ...r, sessionMs };
  } finally {
    await session.release();
  }
}

/** onnxruntime-web in this process: only ever called in a child (its wasm module keeps its first thread count). */
async function ortWebHere(onnx: Uint8Array, pcm: Float32Array, threads: number, runs: number): Promise<RuntimeTiming & { out: Float32Array }> {
  const ort: typeof OrtWeb = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = ortWebWasmPaths()!;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'], executionMode: 'sequential' });
  const sessionMs = performance.now() - t0;
  try {
    const input = new ort.Tensor('float32', pcm, [1, pcm.length]);
    const r = await timeRuns(async () => (await session.run({ waveform: input }, ['last_hidden_state'])).last_hidden_state.data as Float32Array, runs);
    return { ...r, sessionMs };
  } finally {
    await session.release();
  }
}

/** onnxruntime-web in a fresh child process. */
async function ortWeb(onnxPath: string, pcmPath: string, threads: number, runs: number, outPath: string): Promise<RuntimeTiming & { out: Float32Array }> {
  // from the sources, the child needs tsx: inherited from the node flags (npx tsx) or added (a test runner that
  // registered it in-process)
  const loader = SELF.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, ...process.execArgv, SELF, '--ort-web-child', onnxPath, pcmPath, String(threads), String(runs), outPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code: number | null = await new Promise((res, rej) => child.on('error', rej).on('close', res));
  const last = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`onnxruntime-web child (${threads} thread(s)) failed with exit ${code}: ${stdout.slice(-500)}`);
  const r = JSON.parse(last) as RuntimeTiming;
  const b = readFileSync(outPath);
  return { ...r, out: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) };
}

function rmsRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(s, 1e-30));
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
  /** best wall ms of one forward pass, null when that runtime is not installed */
  ortWebMs: number | null;
  ortNodeMs: number | null;
  detail: {
    threads: number;
    web: RuntimeTiming | null;
    node: RuntimeTiming | null;
    onnxBytes: number;
    exportMs: number;
    /** max|web − node| / max(1, max|node|) on last_hidden_state */
    webVsNode: number | null;
    dtype: OnnxDtype;
  };
}

function isParsed(c: ModelConfig | Record<string, unknown>): c is ModelConfig {
  const m = c as ModelConfig;
  return typeof m.raw === 'object' && m.raw !== null && Array.isArray(m.layers) && typeof m.hidden === 'number';
}

/**
 * onnxruntime-web and onnxruntime-node must agree on the graph. f32: max|web − node| / max(1, max|node|) at most
 * 1e-3. q8: both quantize activations per tensor, but native CPU kernels may take other integer paths (x86 u8·s8
 * pair sums that saturate at 16 bits without VNNI), and an activation that lands one quantization level apart moves
 * later layers: on the base shape's 12 layers single values differed by 8% of the largest (2026-12-04), so q8 is
 * held to the relative RMS difference √mean(web − node)² / √mean node² instead; a broken graph is far beyond it.
 */
const WEB_VS_NODE: Record<OnnxDtype, number> = { f32: 1e-3, q8: 5e-2 };

/**
 * Export `tensors` under `modelConfig` (config JSON, or a parsed ModelConfig) to ONNX (`dtype` f32, or q8: the int8
 * graph of export-onnx --dtype q8) and time one forward pass of `pcm` (16 kHz) with onnxruntime-web (wasm SIMD,
 * `threads` threads) and onnxruntime-node (CPU EP, `threads` intra-op threads): the best of `runs` timed runs after
 * one warm-up, in ms.
 */
export async function runOrtBench(
  modelConfig: ModelConfig | Record<string, unknown>, tensors: Map<string, RawTensor>, pcm: Float32Array, threads: number, runs = 3,
  dtype: OnnxDtype = 'f32',
): Promise<OrtBenchResult> {
  const json = isParsed(modelConfig) ? modelConfig.raw : modelConfig;
  const t0 = performance.now();
  const { bytes } = exportOnnx(json, tensors, { source: 'bench', dtype });
  const exportMs = performance.now() - t0;
  const node = await ortNode(bytes, pcm, threads, runs);
  let web: (RuntimeTiming & { out: Float32Array }) | null = null;
  if (ortWebWasmPaths()) {
    const dir = mkdtempSync(join(tmpdir(), 'slimwav-ort-bench-'));
    try {
      const onnxPath = join(dir, 'model.onnx'), pcmPath = join(dir, 'pcm.f32'), outPath = join(dir, 'web-out.f32');
      writeFileSync(onnxPath, bytes);
      writeFileSync(pcmPath, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      web = await ortWeb(onnxPath, pcmPath, threads, runs, outPath);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const webVsNode = web && node ? (dtype === 'q8' ? rmsRelDiff : maxRelDiff)(web.out, node.out) : null;
  if (webVsNode !== null && !(webVsNode <= WEB_VS_NODE[dtype])) {
    const what = dtype === 'q8' ? 'relative RMS difference' : 'max|Δ| of max(1, |out|)';
    throw new Error(`onnxruntime-web and onnxruntime-node disagree on the exported ${dtype} graph: ${what} = ${webVsNode}`);
  }
  const strip = (t: (RuntimeTiming & { out: Float32Array }) | null): RuntimeTiming | null =>
    t && { ms: t.ms, all: t.all, cpuMs: t.cpuMs, sessionMs: t.sessionMs };
  return {
    ortWebMs: web?.ms ?? null,
    ortNodeMs: node?.ms ?? null,
    detail: { threads, web: strip(web), node: strip(node), onnxBytes: bytes.length, exportMs, webVsNode, dtype },
  };
}

/** Best wall ms of `runs` session creations from `onnxPath` (file read included, as slimwav's load reads its file). */
async function bestCreate(create: () => Promise<{ release(): Promise<void> }>, runs: number): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const session = await create();
    best = Math.min(best, performance.now() - t0);
    await session.release();
  }
  return best;
}

/** onnxruntime-web session creation in this process (a child: its wasm module keeps its first thread count). */
async function ortWebLoadHere(onnxPath: string, threads: number, runs: number): Promise<number> {
  const ort: typeof OrtWeb = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = ortWebWasmPaths()!;
  await (await ort.InferenceSession.create(new Uint8Array(readFileSync(onnxPath)), { executionProviders: ['wasm'] })).release(); // runtime start-up, once
  return bestCreate(() => ort.InferenceSession.create(new Uint8Array(readFileSync(onnxPath)), { executionProviders: ['wasm'], executionMode: 'sequential' }), runs);
}

export interface OrtLoadResult {
  /** best wall ms of reading the .onnx file and creating a session; null when that runtime is not installed */
  nodeMs: number | null;
  webMs: number | null;
  onnxBytes: number;
}

/**
 * Session creation time of onnxruntime-node and onnxruntime-web for `tensors` exported to ONNX and written to a file:
 * read + InferenceSession.create, best of `runs` (the counterpart of slimwav's load() from safetensors). onnxruntime-web
 * runs in a child process (after one untimed creation that starts its wasm runtime).
 */
export async function runOrtLoadBench(
  modelConfig: ModelConfig | Record<string, unknown>, tensors: Map<string, RawTensor>, threads: number, runs = 3,
): Promise<OrtLoadResult> {
  const json = isParsed(modelConfig) ? modelConfig.raw : modelConfig;
  const { bytes } = exportOnnx(json, tensors, { source: 'bench' });
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-ort-load-'));
  try {
    const onnxPath = join(dir, 'model.onnx');
    writeFileSync(onnxPath, bytes);
    let ort: typeof OrtNode | null = null;
    try {
      ort = await import('onnxruntime-node');
    } catch {
      ort = null; // not installed
    }
    const nodeMs = ort && await bestCreate(() => ort.InferenceSession.create(new Uint8Array(readFileSync(onnxPath)), {
      executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    }), runs);
    let webMs: number | null = null;
    if (ortWebWasmPaths()) {
      const child = spawn(process.execPath, [...process.execArgv, SELF, '--ort-web-load-child', onnxPath, String(threads), String(runs)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const code: number | null = await new Promise((res, rej) => child.on('error', rej).on('close', res));
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) throw new Error(`onnxruntime-web load child failed with exit ${code}: ${stdout.slice(-500)}`);
      webMs = (JSON.parse(last) as { ms: number }).ms;
    }
    return { nodeMs, webMs, onnxBytes: bytes.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- child modes: one onnxruntime-web measurement (a run, or session creation), JSON on the last stdout line
// (no top-level await: the tests load this module through a CommonJS transform)
async function loadChild(): Promise<void> {
  const [onnxPath, threads, runs] = process.argv.slice(3);
  process.stdout.write(JSON.stringify({ ms: await ortWebLoadHere(onnxPath, Number(threads), Number(runs)) }) + '\n');
}

async function child(): Promise<void> {
  const [onnxPath, pcmPath, threads, runs, outPath] = process.argv.slice(3);
  const b = readFileSync(pcmPath);
  const pcm = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const r = await ortWebHere(new Uint8Array(readFileSync(onnxPath)), pcm, Number(threads), Number(runs));
  writeFileSync(outPath, new Uint8Array(r.out.buffer, r.out.byteOffset, r.out.byteLength));
  process.stdout.write(JSON.stringify({ ms: r.ms, all: r.all, cpuMs: r.cpuMs, sessionMs: r.sessionMs }) + '\n');
}
const childMode = process.argv[1] && process.argv[1] === SELF
  ? { '--ort-web-child': child, '--ort-web-load-child': loadChild }[process.argv[2]] : undefined;
if (childMode) {
  childMode().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
