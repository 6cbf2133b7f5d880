/**
 * `slimwav demo`: the main job end to end on bundled inputs, so a newcomer sees what slimwav does in one command.
 * No pretrained weights can be downloaded, so the model is the wav2vec2-base shape with deterministic random weights
 * (the same ones the parity tests check against torchaudio).
 */
import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import { modelsDir } from './bundled.js';
import { buildModel } from '../model.js';
import { parseConfig } from '../arch/config.js';
import { randomTensors } from '../arch/random-model.js';
import { countMacs } from '../arch/tensors.js';
import { readAudioFile } from '../format/audio.js';

export async function demo(argv: string[]): Promise<void> {
  if (argv.some((a) => a !== '--debug')) fail('E_ARGS', `demo takes no arguments, found "${argv.join(' ')}"`);
  const dir = modelsDir('demo');
  const say = (s = '') => process.stdout.write(s + '\n');
  const audioPath = dir + 'speech.wav';
  const pcm = await readAudioFile(audioPath);
  const seconds = pcm.length / 16000;
  say(`slimwav demo: speech features on the CPU with WebAssembly SIMD`);
  say();
  say(`audio   models/speech.wav: ${seconds.toFixed(2)} s of espeak-ng speech, 16 kHz mono`);

  const cfgPath = dir + 'wav2vec2-base-random/config.json';
  const cfgJson = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  const cfg = parseConfig(cfgJson, cfgPath);
  let t0 = performance.now();
  const tensors = randomTensors(cfg, cfgJson.slimwav_init_seed as number);
  const model = await buildModel(cfgJson, tensors, cfgPath, []); // threads: every core; SIMD: the best this engine has
  tensors.clear();
  const loadMs = performance.now() - t0;
  const macs = countMacs(cfg, pcm.length);
  say(`model   wav2vec2-base shape: ${cfg.numLayers} layers × ${cfg.hidden} wide, ${(model.info.params / 1e6).toFixed(1)} M parameters,`);
  say(`        ${(model.info.macsPerSecond / 1e9).toFixed(2)} G multiply-accumulates per second of audio`);
  say(`        (random weights: no pretrained model can be downloaded here; npm test proves these kernels`);
  say(`         match torchaudio within 1e-4 on this exact shape; built in ${loadMs.toFixed(0)} ms)`);

  await model.extract(pcm.subarray(0, 16000), { layers: 'last' }); // warm-up: plans memory once
  t0 = performance.now();
  const { layers, frames, dim } = await model.extract(pcm, { layers: 'all' });
  const ms = performance.now() - t0;
  const threads = model.threads, build = model.info.kernels.startsWith('relaxed') ? 'relaxed SIMD' : 'SIMD128';
  model.dispose();
  say();
  say(`result  ${layers.length} hidden states (encoder input + ${cfg.numLayers} layers) × ${frames} frames (one per 20 ms) × ${dim}`);
  say(`speed   ${ms.toFixed(0)} ms on ${threads} thread${threads > 1 ? 's' : ''} (${build}): real-time factor ${(ms / 1000 / seconds).toFixed(3)} ` +
    `(${(seconds / (ms / 1000)).toFixed(1)}× faster than real time), ${(2 * macs.total / (ms / 1000) / 1e9).toFixed(1)} GFLOP/s`);
  say();
  say('per-layer summary (mean and standard deviation over frames and channels):');
  layers.forEach((l, i) => {
    let s = 0, s2 = 0;
    for (const v of l) { s += v; s2 += v * v; }
    const mean = s / l.length, sd = Math.sqrt(Math.max(0, s2 / l.length - mean * mean));
    say(`  hidden ${String(i).padStart(2)}  mean ${mean.toFixed(4).padStart(8)}  sd ${sd.toFixed(4)}`);
  });
  say();
  say('your own model and audio:  npx slimwav features <model-folder> <audio.wav> --out features.npy');
}
