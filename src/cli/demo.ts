/**
 * `slimwav demo`: what slimwav is for, in one command: the dense wav2vec2-base shape and a pruned layout of it with
 * 28% of its parameters (the bench's layout: `benchMasks` + `compact`) run on the bundled clip, side by side, with
 * parameters, MACs, time, real-time factor and the measured speedup. No pretrained weights can be downloaded, so the
 * dense model has deterministic random weights (the same ones the parity tests check against torchaudio).
 */
import { readFileSync } from 'node:fs';
import { modelsDir } from './bundled.js';
import { buildModel, type Model } from '../model.js';
import { parseConfig } from '../arch/config.js';
import { randomTensors } from '../arch/random-model.js';
import { countMacs, countParams } from '../arch/tensors.js';
import { storableInt8 } from '../arch/binding.js';
import { numel, type RawTensor } from '../format/tensor.js';
import { compact } from '../prune/compact.js';
import { readAudioFile } from '../format/audio.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { barChart } from '../viz/svg.js';
import { benchMasks } from './bench.js';
import { parseCommand, usageError } from './args.js';

export interface DemoRow { name: string; params: number; bytes: number; macs: number; ms: number; rtf: number }

/** Bytes of the model's weights as a file stores them: f32, or (q8) int8 plus one f32 scale per row where storable. */
function storedBytes(tensors: Map<string, RawTensor>, q8: boolean): number {
  let n = 0;
  for (const [name, t] of tensors) {
    const count = numel(t.shape);
    n += q8 && storableInt8(name) ? count + 4 * t.shape[0] : 4 * count;
  }
  return n;
}

/** Time one extract of every hidden state after a warm-up (the first call plans memory); the best of `runs`. */
async function timeModel(model: Model, pcm: Float32Array, runs: number): Promise<{ ms: number; frames: number; layers: number; dim: number }> {
  await model.extract(pcm.subarray(0, 16000), { layers: 'last' });
  let best = Infinity, shape = { frames: 0, layers: 0, dim: 0 };
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const res = await model.extract(pcm, { layers: 'all' });
    best = Math.min(best, performance.now() - t0);
    shape = { frames: res.frames, layers: res.layers.length, dim: res.dim };
  }
  return { ms: best, ...shape };
}

/** The demo's chart: time and params, dense against pruned. */
export function demoSvg(rows: DemoRow[], seconds: number): string {
  return barChart(`slimwav demo: ${seconds.toFixed(1)} s of speech, dense vs pruned, f32 vs int8`, [
    { label: 'time (ms, lower is faster)', bars: rows.map((r) => ({ label: r.name, value: r.ms })) },
    { label: 'weights (MB)', bars: rows.map((r) => ({ label: r.name, value: r.bytes / 1e6 })) },
    { label: 'multiply-adds per second of audio (G)', bars: rows.map((r) => ({ label: r.name, value: r.macs / 1e9 })) },
  ]);
}

export async function demo(argv: string[]): Promise<void> {
  const { values } = parseCommand('demo', argv, { svg: { type: 'string' }, runs: { type: 'string' } }, []);
  const svg = values.svg as string | undefined;
  if (svg !== undefined && !svg.endsWith('.svg')) usageError('demo', `--svg must name a .svg file, found "${svg}"`);
  const runs = values.runs === undefined ? 2 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) usageError('demo', `--runs must be a whole number from 1 to 20, found "${values.runs}"`);
  const dir = modelsDir('demo');
  const say = (s = '') => process.stdout.write(s + '\n');
  const pcm = await readAudioFile(dir + 'speech.wav');
  const seconds = pcm.length / 16000;
  say('slimwav demo: speech features on the CPU with WebAssembly SIMD, dense and pruned');
  say();
  say(`audio   models/speech.wav: ${seconds.toFixed(2)} s of espeak-ng speech, 16 kHz mono`);

  const cfgPath = dir + 'wav2vec2-base-random/config.json';
  const cfgJson = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  const cfg = parseConfig(cfgJson, cfgPath);
  const tensors = randomTensors(cfg, cfgJson.slimwav_init_seed as number);
  const pruned = compact(cfgJson, tensors, benchMasks(cfg));
  const pcfg = parseConfig(pruned.config, 'pruned layout');
  const variants = [
    { name: 'dense', config: cfgJson, cfg, tensors, dtype: 'f32' as const },
    { name: 'pruned', config: pruned.config, cfg: pcfg, tensors: pruned.tensors, dtype: 'f32' as const },
    { name: 'dense q8', config: cfgJson, cfg, tensors, dtype: 'q8' as const },
    { name: 'pruned q8', config: pruned.config, cfg: pcfg, tensors: pruned.tensors, dtype: 'q8' as const },
  ];
  say(`models  dense: the wav2vec2-base shape, ${cfg.numLayers} layers × ${cfg.hidden} wide, random weights (npm test proves these`);
  say('        kernels match torchaudio within 1e-4 on this exact shape); pruned: the same model cut to a ragged layout');
  say('        (heads, q/k and v widths, FFN widths and conv channels removed per layer) by slimwav\'s compaction;');
  say('        q8: the same models with int8 weights and kernels (load(…, { dtype: \'q8\' }), about 1% from f32)');
  const rows: DemoRow[] = [];
  let threads = 1, build = '', shape = { frames: 0, layers: 0, dim: 0 };
  for (const v of variants) {
    // threads: every core; SIMD: the best this engine has
    const model = await buildModel(v.config, v.tensors, v.name, [], { dtype: v.dtype });
    try {
      const t = await timeModel(model, pcm, runs);
      threads = model.threads;
      build = model.info.kernels.startsWith('relaxed') ? 'relaxed SIMD' : 'SIMD128';
      shape = t;
      rows.push({ name: v.name, params: countParams(v.cfg, v.tensors), bytes: storedBytes(v.tensors, v.dtype === 'q8'), macs: countMacs(v.cfg, 16000).total, ms: t.ms, rtf: t.ms / 1000 / seconds });
    } finally {
      model.dispose();
    }
  }
  tensors.clear();
  const [d, p, , pq] = rows;
  say();
  say(`result  ${shape.layers} hidden states (encoder input + ${cfg.numLayers} layers) × ${shape.frames} frames (one per 20 ms) × ${shape.dim}, from each model`);
  say(`speed   ${threads} thread${threads > 1 ? 's' : ''}, ${build}, best of ${runs} run${runs > 1 ? 's' : ''}`);
  say();
  say('model          params    weights   GMAC/s audio        ms      RTF   × real time');
  for (const r of rows) {
    say(`${r.name.padEnd(10)} ${(r.params / 1e6).toFixed(1).padStart(8)} M ${(r.bytes / 1e6).toFixed(0).padStart(7)} MB ${(r.macs / 1e9).toFixed(2).padStart(12)} ${r.ms.toFixed(0).padStart(9)} ${r.rtf.toFixed(3).padStart(8)} ${(1 / r.rtf).toFixed(1).padStart(11)}×`);
  }
  say();
  say(`pruned: ${(100 * p.params / d.params).toFixed(0)}% of the parameters, ${(100 * p.macs / d.macs).toFixed(0)}% of the MACs, measured speedup ${(d.ms / p.ms).toFixed(2)}× over dense`);
  say(`pruned q8: ${(100 * pq.bytes / d.bytes).toFixed(0)}% of the dense weights' bytes, measured speedup ${(d.ms / pq.ms).toFixed(2)}× over dense`);
  if (svg !== undefined) {
    await writeFileAtomic(svg, new TextEncoder().encode(demoSvg(rows, seconds)));
    say(`chart   ${svg}`);
  }
  say();
  say('next: your own model and audio:  npx slimwav features <model-folder> <audio.wav> --out features.npy');
  say('      a whole folder:            npx slimwav features <model-folder> <folder> --out-dir features/');
  say('      prune your own model:      npx slimwav prune --teacher <model-folder> --data <folder> --target-sparsity 0.7 --out small/');
}
