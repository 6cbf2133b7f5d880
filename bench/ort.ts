// ONNX Runtime on slimwav's exported graph: onnxruntime-web (WebAssembly SIMD backend, run from node_modules) and
// onnxruntime-node (native CPU EP), on the wav2vec2-base shape (random weights) and on the ~28%-params pruned
// layout of it that the other benches use.
//
//   npx tsx bench/ort.ts [--seconds 10] [--threads 1,2] [--runs 3] [--dtype f32,q8] [--json]
//
// --dtype q8 times the int8 graph of the same weights (export-onnx --dtype q8: DynamicQuantizeLinear +
// MatMulInteger / ConvInteger, what transformers.js's q8 models run); the default is f32 alone.
//
// Each figure is the wall time of the best of 3 runs after one warm-up; "cpu" is the least process CPU time of a run
// (all threads), which for one thread stays near the wall time only on an otherwise idle machine. The measuring
// code lives in src/cli/ort-bench.ts (also used by `slimwav bench`); runOrtBench is re-exported here.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { countParams, parseConfig, readAudioFile } from '../src/index.js';
import { compact } from '../src/prune/index.js';
import { randomTensors } from '../src/arch/random-model.js';
import { benchMasks } from '../src/cli/bench.js';
import { runOrtBench } from '../src/cli/ort-bench.js';

export { runOrtBench, type OrtBenchResult } from '../src/cli/ort-bench.js';

async function main(): Promise<void> {
  const arg = (name: string, def: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const seconds = Number(arg('seconds', '10'));
  const runs = Number(arg('runs', '3'));
  const threadList = arg('threads', '1,2').split(',').map(Number);
  const dtypes = arg('dtype', 'f32').split(',');
  if (dtypes.some((d) => d !== 'f32' && d !== 'q8')) throw new Error(`--dtype must list f32 and/or q8, found "${arg('dtype', '')}"`);
  const jsonOut = process.argv.includes('--json');
  const log = (s = '') => { if (!jsonOut) console.log(s); };

  const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
  const cfg = parseConfig(cfgJson);
  const speech = await readAudioFile(fileURLToPath(new URL('../models/speech.wav', import.meta.url)));
  const pcm = new Float32Array(seconds * 16000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = speech[i % speech.length];
  const dense = randomTensors(cfg, cfgJson.slimwav_init_seed);
  const pruned = compact(cfgJson, dense, benchMasks(cfg));
  const models = [
    { name: 'dense wav2vec2-base', config: cfgJson as Record<string, unknown>, tensors: dense },
    { name: 'pruned layout', config: pruned.config, tensors: pruned.tensors },
  ];
  log(`ONNX Runtime on slimwav's exported graph, ${seconds} s of audio (${pcm.length} samples), best of ${runs} after 1 warm-up`);
  log(`wall ms (cpu = least process CPU ms of a run, all threads); load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);
  const rows: Record<string, unknown>[] = [];
  const fmt = (ms: number | null, cpu: number | undefined) =>
    ms === null ? 'not installed'.padStart(20) : `${ms.toFixed(0).padStart(6)} ms (cpu ${(cpu ?? 0).toFixed(0)})`.padEnd(20) + ` RTF ${(ms / 1000 / seconds).toFixed(3)}`;
  for (const m of models) {
    const params = countParams(parseConfig(m.config), m.tensors);
    log(`\n${m.name}: ${(params / 1e6).toFixed(2)} M params`);
    for (const dtype of dtypes as ('f32' | 'q8')[]) for (const threads of threadList) {
      const r = await runOrtBench(m.config, m.tensors, pcm, threads, runs, dtype);
      log(`  ${dtype} ${threads} thread(s)  onnxruntime-web (wasm SIMD) ${fmt(r.ortWebMs, r.detail.web?.cpuMs)}   ` +
        `onnxruntime-node (CPU EP) ${fmt(r.ortNodeMs, r.detail.node?.cpuMs)}   ` +
        `(ONNX ${(r.detail.onnxBytes / 1e6).toFixed(0)} MB, web vs node ${r.detail.webVsNode?.toExponential(1) ?? '-'})`);
      rows.push({ model: m.name, params, threads, dtype, ...r });
    }
  }
  log(`\nload average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (jsonOut) process.stdout.write(JSON.stringify({ seconds, runs, warmup: 1, results: rows }) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
