// Seconds per pruning step on the wav2vec2-base shape, both modes, and the projected hours of a run.
//   npx tsx bench/prune.ts [--threads 2] [--steps 4] [--run-steps 3000]
// A step = one gate sample, a batch of crops (default 2 × 2 s), teacher forward, student forward + backward, size
// terms and the optimiser updates. The teacher is the base shape with deterministic random weights.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, readAudioFile } from '../src/index.js';
import { randomTensors } from '../src/arch/random-model.js';
import { serializeSafetensors } from '../src/format/safetensors.js';
import { encodeWav } from '../src/format/wav.js';
import { prune, PRUNE_DEFAULTS } from '../src/prune/train.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const threads = arg('threads', 2), steps = arg('steps', 4), runSteps = arg('run-steps', 3000);
const work = mkdtempSync(join(tmpdir(), 'slimwav-bench-prune-'));
try {
  const cfgJson = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8'));
  const tensors = randomTensors(parseConfig(cfgJson), cfgJson.slimwav_init_seed);
  const teacher = join(work, 'teacher');
  mkdirSync(teacher);
  writeFileSync(join(teacher, 'model.safetensors'), serializeSafetensors({ tensors, metadata: {} }));
  writeFileSync(join(teacher, 'config.json'), JSON.stringify(cfgJson));
  tensors.clear();
  const speech = await readAudioFile(new URL('../models/speech.wav', import.meta.url).pathname);
  const data = join(work, 'data');
  mkdirSync(data);
  for (let i = 0; i < 5; i++) writeFileSync(join(data, `s${i}.wav`), encodeWav(speech.subarray(i * 32000, i * 32000 + 48000), 16000, { bitDepth: 16 }));
  console.log(`pruning step on the wav2vec2-base shape, ${threads} thread(s), batch ${PRUNE_DEFAULTS.batchSeconds} s of ${PRUNE_DEFAULTS.cropSeconds} s crops`);
  for (const mode of ['layerwise', 'full'] as const) {
    const lines: string[] = [];
    const t0 = performance.now();
    await prune({ ...PRUNE_DEFAULTS, teacher, data, out: join(work, mode), targetSparsity: 0.72, steps: runSteps, mode, threads,
      stopAfter: steps, logEvery: 1, validEvery: 0, checkpointEvery: 1e9, log: (l) => lines.push(l) });
    const total = (performance.now() - t0) / 1000;
    const per = lines.filter((l) => l.startsWith('step ')).map((l) => Number(/([\d.]+) s\/step/.exec(l)![1]));
    const sps = per[per.length - 1];
    console.log(`  ${mode.padEnd(9)} ${sps.toFixed(2)} s/step (mean over ${steps} steps; ${total.toFixed(0)} s including setup) → ${runSteps} steps ≈ ${(sps * runSteps / 3600).toFixed(1)} h`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
