// Load time of the wav2vec2-base shape (95 M params, 377 MB F32 safetensors), phase by phase.
//
//   npx tsx bench/load.ts [--threads N] [--runs R] [--dir DIR]
//
// The model folder (config.json + model.safetensors with the deterministic random weights of
// models/wav2vec2-base-random) is written once to DIR (default: the OS temp folder) and reused. Each run times the
// steps load() takes, in its order, in wall ms (performance.now()) and process CPU ms: file read, safetensors parse,
// name/config mapping and checks, the NaN/Inf scan, wasm compile + instantiate, thread pool start, and inside the
// Engine constructor (CPU ms only, through its LoadPhases sink) the binding (dtype conversion and copies), conv
// time-major reorder, Winograd weight transforms, the positional conv's DFT transform and the GEMM weight packing.
// Then load() itself is timed end to end. Best (least) of R runs per row; the file is in the page cache after the
// first run, so "file read" is a memory copy, as for any repeated load. On a machine other jobs load, the CPU column
// is the steadier one.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { load } from '../src/index.js';
import { parseConfig } from '../src/arch/config.js';
import { randomTensors } from '../src/arch/random-model.js';
import { checkTensors } from '../src/arch/tensors.js';
import { checkConfigAgainstTensors, checkFiniteWeights } from '../src/arch/limits.js';
import { toSlimwavModel } from '../src/arch/checkpoint.js';
import { parseSafetensors, serializeSafetensors } from '../src/format/safetensors.js';
import { readFileBytes } from '../src/format/fsutil.js';
import { Engine, type LoadPhases } from '../src/runtime/engine.js';
import { LinearMemory } from '../src/runtime/memory.js';
import { bestVariant, instantiateKernels, isSharedVariant } from '../src/runtime/wasm.js';
import { ThreadPool } from '../src/runtime/threads.js';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' }, dir: { type: 'string' } } });
const threads = Number(values.threads), runs = Number(values.runs);
const dir = values.dir ?? join(tmpdir(), 'slimwav-load-bench');
const file = join(dir, 'model.safetensors');

const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
if (!existsSync(file)) {
  mkdirSync(dir, { recursive: true });
  const t = randomTensors(parseConfig(cfgJson), cfgJson.slimwav_init_seed);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfgJson));
  writeFileSync(file, serializeSafetensors({ tensors: t, metadata: {} }));
  console.log(`wrote ${file}`);
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/**
 * One run of load()'s steps, each timed (wall ms, and process CPU ms, all threads, which a loaded machine inflates
 * less); the engine's own phases through its LoadPhases sink (wall only).
 */
async function phasesOnce(): Promise<{ ms: Map<string, number>; cpu: Map<string, number> }> {
  const ms = new Map<string, number>(), cpu = new Map<string, number>();
  let t = performance.now(), c = cpuNow();
  const lap = (name: string) => {
    const n = performance.now(), nc = cpuNow();
    ms.set(name, (ms.get(name) ?? 0) + n - t);
    cpu.set(name, (cpu.get(name) ?? 0) + nc - c);
    t = n;
    c = nc;
  };
  const bytes = await readFileBytes(file);
  lap('file read');
  const table = parseSafetensors(bytes, file);
  lap('safetensors parse');
  const m = toSlimwavModel(table.tensors, undefined, file, cfgJson, join(dir, 'config.json'));
  checkConfigAgainstTensors(m.config, m.tensors, file, file);
  const cfg = parseConfig(m.config, file);
  checkTensors(cfg, m.tensors, file);
  lap('name mapping, config and shape checks');
  checkFiniteWeights(m.tensors, file);
  lap('NaN/Inf scan');
  const variant = bestVariant(threads > 1);
  const kernels = await instantiateKernels(variant);
  lap(`wasm compile + instantiate (${variant})`);
  const pool = threads > 1 && isSharedVariant(variant) ? await ThreadPool.create(threads, kernels.module, kernels.memory, kernels.exports) : null;
  lap(`thread pool start (${threads})`);
  // the engine's phases on the process CPU clock (on a loaded machine wall time mostly measures the others)
  const phases: LoadPhases = { clock: cpuNow, ms: new Map() };
  const e0 = performance.now(), c0 = cpuNow();
  const engine = new Engine(cfg, m.tensors, kernels.exports, new LinearMemory(kernels.memory, kernels.heapBase), pool, {}, phases);
  ms.set('engine (all phases)', performance.now() - e0);
  const engineCpu = cpuNow() - c0;
  let counted = 0;
  for (const [name, v] of phases.ms) {
    cpu.set(`engine: ${name}`, v);
    counted += v;
  }
  cpu.set('engine: other', engineCpu - counted);
  ms.set('sum of phases', [...ms.values()].reduce((a, b) => a + b, 0));
  cpu.set('sum of phases', [...cpu.values()].reduce((a, b) => a + b, 0));
  void engine;
  pool?.terminate();
  return { ms, cpu };
}

const best = new Map<string, number>(), bestCpu = new Map<string, number>();
for (let r = 0; r < runs; r++) {
  const { ms, cpu } = await phasesOnce();
  for (const [k, v] of ms) best.set(k, Math.min(best.get(k) ?? Infinity, v));
  for (const [k, v] of cpu) bestCpu.set(k, Math.min(bestCpu.get(k) ?? Infinity, v));
}
let loadMs = Infinity;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const model = await load(dir, { threads });
  loadMs = Math.min(loadMs, performance.now() - t0);
  model.dispose();
}
const names = [...new Set([...best.keys(), ...bestCpu.keys()])].filter((k) => k !== 'sum of phases');
const w = Math.max(...names.map((k) => k.length), 20);
const fmt = (v: number | undefined) => (v === undefined ? '' : v.toFixed(1)).padStart(9);
console.log(`load phases, wav2vec2-base shape (${file}), ${threads} thread(s), best of ${runs}`);
console.log(`${'phase'.padEnd(w)}   wall ms    CPU ms`);
for (const k of [...names, 'sum of phases']) console.log(`${k.padEnd(w)} ${fmt(best.get(k))} ${fmt(bestCpu.get(k))}`);
console.log(`${'load() end to end'.padEnd(w)} ${fmt(loadMs)}`);
