// Load time of the wav2vec2-base shape (95 M params), phase by phase, from an F32 safetensors file (377 MB) and from
// the q8 file `slimwav convert --dtype q8` makes of it (~109 MB), against the machine's page-fault floor.
//
//   npx tsx bench/load.ts [--threads N] [--runs R] [--dir DIR] [--dtype f32|q8|both]
//
// The model folders (config.json + model.safetensors with the deterministic random weights of
// models/wav2vec2-base-random, and its q8 conversion) are written once under DIR (default: the OS temp folder) and
// reused. Each run times the steps load() takes, in its order, in wall ms (performance.now()) and process CPU ms:
// opening the file (its header only), name/config mapping and checks, the NaN/Inf scan of the tensors already in
// memory, wasm compile + instantiate, thread pool start, and inside the Engine constructor (CPU ms, through its
// LoadPhases sink) the binding, conv time-major reorder, Winograd weight transforms, the positional conv's DFT
// transform and the weight packing. The packing rows include reading the tensors from the file chunk by chunk
// (and their NaN/Inf scan); "of which file reads" says how much of that was the reads themselves.
// "floor" is the time to first-touch as many fresh bytes as the packed weights occupy (a wasm memory grown by that much
// and filled): what any load that writes the packed weights pays on this machine at least. Then load() itself is
// timed end to end, and its peak RSS measured in a child process (one load, nothing else). Best (least) of R runs
// per row; the file is in the page cache after the first run. On a machine other jobs load, the CPU column is the
// steadier one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadPhases } from '../src/runtime/engine.js';
import { load } from '../src/index.js';
import { peakRssMB } from '../src/util/peak-rss.js';
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' }, dir: { type: 'string' },
    dtype: { type: 'string', default: 'both' }, 'rss-child': { type: 'string' },
  },
});
const threads = Number(values.threads), runs = Number(values.runs);

const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

if (values['rss-child']) {
  // one load() in a fresh process: its peak RSS (the parent reads the line)
  const t0 = performance.now(), c0 = cpuNow();
  const m = await load(values['rss-child'], { threads });
  console.log(JSON.stringify({ maxRssMB: peakRssMB(), ms: performance.now() - t0, cpu: cpuNow() - c0 }));
  m.dispose();
  process.exit(0);
}

// the rest only in the parent (the child's peak RSS is one load() with nothing else imported)
const { parseConfig } = await import('../src/arch/config.js');
const { randomTensors } = await import('../src/arch/random-model.js');
const { checkTensors } = await import('../src/arch/tensors.js');
const { checkConfigAgainstTensors } = await import('../src/arch/limits.js');
const { openModelFiles } = await import('../src/arch/model-files.js');
const { convertModel } = await import('../src/cli/convert.js');
const { serializeSafetensors } = await import('../src/format/safetensors.js');
const { Engine } = await import('../src/runtime/engine.js');
const { LinearMemory } = await import('../src/runtime/memory.js');
const { bestVariant, instantiateKernels, isSharedVariant } = await import('../src/runtime/wasm.js');
const { ThreadPool } = await import('../src/runtime/threads.js');
const { WeightScan } = await import('../src/model-core.js');

const root = values.dir ?? join(tmpdir(), 'slimwav-load-bench');
const f32Dir = root, q8Dir = join(root, 'q8');
const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
if (!existsSync(join(f32Dir, 'model.safetensors'))) {
  mkdirSync(f32Dir, { recursive: true });
  const t = randomTensors(parseConfig(cfgJson), cfgJson.slimwav_init_seed);
  writeFileSync(join(f32Dir, 'config.json'), JSON.stringify(cfgJson));
  writeFileSync(join(f32Dir, 'model.safetensors'), serializeSafetensors({ tensors: t, metadata: {} }));
  console.log(`wrote ${f32Dir}`);
}
if (values.dtype !== 'f32' && !existsSync(join(q8Dir, 'model.safetensors'))) {
  await convertModel(f32Dir, q8Dir, { dtype: 'q8' });
  console.log(`wrote ${q8Dir}`);
}

/** Wall and CPU ms to first-touch `bytes` of fresh memory: a wasm memory grown by that much, then filled. */
function floor(bytes: number): { ms: number; cpu: number } {
  const t0 = performance.now(), c0 = cpuNow();
  const mem = new WebAssembly.Memory({ initial: 1 });
  mem.grow(Math.ceil(bytes / 65536));
  new Uint8Array(mem.buffer).fill(1);
  return { ms: performance.now() - t0, cpu: cpuNow() - c0 };
}

/**
 * One run of load()'s steps, each timed (wall ms, and process CPU ms, all threads); the engine's own phases through
 * its LoadPhases sink (CPU ms).
 */
async function phasesOnce(dir: string): Promise<{ ms: Map<string, number>; cpu: Map<string, number>; weightBytes: number }> {
  const ms = new Map<string, number>(), cpu = new Map<string, number>();
  let t = performance.now(), c = cpuNow();
  const lap = (name: string) => {
    const n = performance.now(), nc = cpuNow();
    ms.set(name, (ms.get(name) ?? 0) + n - t);
    cpu.set(name, (cpu.get(name) ?? 0) + nc - c);
    t = n;
    c = nc;
  };
  const files = await openModelFiles(dir, { lazy: true });
  lap('open: header read, name mapping, shape checks');
  checkConfigAgainstTensors(files.config, files.tensors, files.source, files.source);
  const cfg = parseConfig(files.config, files.source);
  checkTensors(cfg, files.tensors, files.source);
  lap('config and shape checks');
  // time the file reads the engine's reader makes (wrapped sources; CPU ms of this thread's process)
  let readMs = 0, readCpu = 0;
  for (const tensor of files.tensors.values()) {
    const src = tensor.source;
    if (!src) continue;
    tensor.source = {
      get loaded() { return src.loaded; },
      read(offset, dst) {
        const r0 = performance.now(), rc = cpuNow();
        src.read(offset, dst);
        readMs += performance.now() - r0;
        readCpu += cpuNow() - rc;
      },
    };
  }
  const scan = new WeightScan(files.tensors, files.source, false);
  scan.inMemory();
  lap('NaN/Inf scan of tensors in memory');
  const variant = bestVariant(threads > 1);
  const kernels = await instantiateKernels(variant);
  lap(`wasm compile + instantiate (${variant})`);
  const pool = threads > 1 && isSharedVariant(variant) ? await ThreadPool.create(threads, kernels.module, kernels.memory, kernels.exports) : null;
  lap(`thread pool start (${threads})`);
  const phases: LoadPhases = { clock: cpuNow, ms: new Map() };
  const e0 = performance.now(), c0 = cpuNow();
  const engine = new Engine(cfg, files.tensors, kernels.exports, new LinearMemory(kernels.memory, kernels.heapBase), pool, {}, phases, scan.reader);
  ms.set('engine (all phases)', performance.now() - e0);
  const engineCpu = cpuNow() - c0;
  let counted = 0;
  for (const [name, v] of phases.ms) {
    cpu.set(`engine: ${name}`, v);
    counted += v;
  }
  cpu.set('engine: other', engineCpu - counted);
  t = performance.now();
  c = cpuNow();
  scan.rest();
  lap('NaN/Inf scan of tensors the engine did not read');
  ms.set('sum of phases', [...ms.values()].reduce((a, b) => a + b, 0));
  cpu.set('sum of phases', [...cpu.values()].reduce((a, b) => a + b, 0));
  ms.set('  of which file reads (in the engine rows)', readMs);
  cpu.set('  of which file reads (in the engine rows)', readCpu);
  const weightBytes = engine.weightBytes;
  pool?.terminate();
  return { ms, cpu, weightBytes };
}

const self = fileURLToPath(import.meta.url);
for (const [label, dir] of [['f32', f32Dir], ['q8', q8Dir]] as const) {
  if (values.dtype !== 'both' && values.dtype !== label) continue;
  const best = new Map<string, number>(), bestCpu = new Map<string, number>();
  let weightBytes = 0;
  for (let r = 0; r < runs; r++) {
    const { ms, cpu, weightBytes: wb } = await phasesOnce(dir);
    weightBytes = wb;
    for (const [k, v] of ms) best.set(k, Math.min(best.get(k) ?? Infinity, v));
    for (const [k, v] of cpu) bestCpu.set(k, Math.min(bestCpu.get(k) ?? Infinity, v));
  }
  let fl = { ms: Infinity, cpu: Infinity };
  for (let r = 0; r < runs; r++) {
    const f = floor(weightBytes);
    fl = { ms: Math.min(fl.ms, f.ms), cpu: Math.min(fl.cpu, f.cpu) };
  }
  let loadMs = Infinity, loadCpu = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now(), c0 = cpuNow();
    const model = await load(dir, { threads });
    loadMs = Math.min(loadMs, performance.now() - t0);
    loadCpu = Math.min(loadCpu, cpuNow() - c0);
    model.dispose();
  }
  const rss: number[] = [];
  for (let r = 0; r < runs; r++) {
    const out = spawnSync(process.execPath, [...process.execArgv, self, '--rss-child', dir, '--threads', String(threads)], { encoding: 'utf8' });
    const line = out.stdout.trim().split('\n').pop() ?? '';
    if (out.status === 0 && line.startsWith('{')) rss.push(JSON.parse(line).maxRssMB);
    else console.error(`rss child failed: ${out.stderr.split('\n')[0]}`);
  }
  const names = [...new Set([...best.keys(), ...bestCpu.keys()])].filter((k) => k !== 'sum of phases' && !k.startsWith('  of which'));
  const w = Math.max(...names.map((k) => k.length), 44);
  const fmt = (v: number | undefined) => (v === undefined ? '' : v.toFixed(1)).padStart(9);
  console.log(`\nload phases, wav2vec2-base shape, ${label} file (${join(dir, 'model.safetensors')}), ${threads} thread(s), best of ${runs}`);
  console.log(`${'phase'.padEnd(w)}   wall ms    CPU ms`);
  for (const k of [...names, 'sum of phases', '  of which file reads (in the engine rows)']) console.log(`${k.padEnd(w)} ${fmt(best.get(k))} ${fmt(bestCpu.get(k))}`);
  console.log(`${`floor: first touch of ${(weightBytes / 1e6).toFixed(0)} MB (the packed weights)`.padEnd(w)} ${fmt(fl.ms)} ${fmt(fl.cpu)}`);
  console.log(`${'load() end to end'.padEnd(w)} ${fmt(loadMs)} ${fmt(loadCpu)}`);
  console.log(`${'peak RSS of one load() in a fresh process, MB'.padEnd(w)} ${fmt(rss.length ? Math.min(...rss) : undefined)}`);
}
