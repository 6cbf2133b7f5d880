// How far q8 (int8 weights, per output channel) moves every hidden state from f32, as a markdown table for
// BENCHMARKS.md: slimwav at dtype q8 against slimwav f32, and onnxruntime-node running the q8 ONNX graph of the same
// weights (export-onnx --dtype q8) against slimwav f32. A third column, "int8 weights alone", is slimwav's f32
// engine on the dequantized int8 weights: the share of the deviation that the weights cause, before any activation
// is quantized.
//
//   npx tsx bench/q8-accuracy.ts [<model>…] [--seconds S] [--threads N] [--no-ort] [--json]
//
// No <model>: the wav2vec2-base shape with its deterministic random weights (models/wav2vec2-base-random). A <model>
// is any form load() accepts (e.g. eval/work/teacher). Input: the bundled clip models/speech.wav (all of it, or its
// first S seconds). Per hidden state 0..L (HF numbering): cosine similarity, max|q8 − f32| / max|f32|, and
// RMS(q8 − f32) / RMS(f32) (src/onnx/deviation.ts). Accuracy, not speed: it can run on a busy machine.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildModel, load, parseConfig, readAudioFile, type Model } from '../src/index.js';
import { openModelFiles } from '../src/arch/model-files.js';
import { bindWeights, weightsToTensors } from '../src/arch/binding.js';
import { randomTensors } from '../src/arch/random-model.js';
import type { RawTensor } from '../src/format/tensor.js';
import { exportOnnx } from '../src/onnx/export.js';
import { deviation, type Deviation } from '../src/onnx/deviation.js';

interface Subject { name: string; config: Record<string, unknown>; tensors: Map<string, RawTensor>; open(dtype: 'f32' | 'q8'): Promise<Model> }

/** The q8 model, refusing one that silently runs f32 (an engine without the int8 path ignores the option). */
async function openQ8(open: () => Promise<Model>): Promise<Model> {
  const m = await open();
  const dtype = (m.info as { dtype?: string }).dtype;
  if (dtype !== undefined && dtype !== 'q8') throw new Error(`asked for dtype q8, the model runs ${dtype}`);
  return m;
}

async function subjects(paths: string[], threads: number): Promise<Subject[]> {
  if (paths.length === 0) {
    const config = JSON.parse(readFileSync(new URL('../models/wav2vec2-base-random/config.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const tensors = randomTensors(parseConfig(config), config.slimwav_init_seed as number);
    return [{
      name: 'wav2vec2-base shape (random init)', config, tensors,
      open: (dtype) => (dtype === 'q8' ? openQ8(() => buildModel(config, tensors, 'base', [], { threads, dtype: 'q8' })) : buildModel(config, tensors, 'base', [], { threads })),
    }];
  }
  const out: Subject[] = [];
  for (const p of paths) {
    const files = await openModelFiles(p);
    out.push({
      name: p, config: files.config, tensors: files.tensors as Map<string, RawTensor>,
      open: (dtype) => (dtype === 'q8' ? openQ8(() => load(p, { threads, dtype: 'q8' })) : load(p, { threads })),
    });
  }
  return out;
}

async function ortQ8(s: Subject, pcm: Float32Array, threads: number): Promise<Float32Array | null> {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch {
    return null;
  }
  const session = await ort.InferenceSession.create(exportOnnx(s.config, s.tensors, { dtype: 'q8', source: s.name }).bytes, { intraOpNumThreads: threads });
  try {
    return (await session.run({ waveform: new ort.Tensor('float32', pcm, [1, pcm.length]) })).hidden_states.data as Float32Array;
  } finally {
    await session.release();
  }
}

const fmt = (d: Deviation | undefined) => (d ? `${d.cosine.toFixed(5)} | ${d.maxRel.toExponential(2)} | ${d.rmsRel.toExponential(2)}` : '- | - | -');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const seconds = opt('seconds'), threads = Number(opt('threads') ?? '2');
  const flag = (name: string) => { const i = argv.indexOf(`--${name}`); if (i >= 0) argv.splice(i, 1); return i >= 0; };
  const noOrt = flag('no-ort'), json = flag('json');
  const speech = await readAudioFile(fileURLToPath(new URL('../models/speech.wav', import.meta.url)));
  const pcm = seconds ? speech.subarray(0, Math.round(Number(seconds) * 16000)) : speech;
  const report: Record<string, unknown>[] = [];
  for (const s of await subjects(argv, threads)) {
    const f32 = await s.open('f32');
    const ref = await f32.extract(pcm, { layers: 'all' });
    f32.dispose();
    const q8 = await s.open('q8');
    const ours = await q8.extract(pcm, { layers: 'all' });
    q8.dispose();
    const deqModel = await buildModel(s.config, weightsToTensors(bindWeights(parseConfig(s.config), s.tensors, s.name, { quantize: true })), s.name, [], { threads });
    const deq = await deqModel.extract(pcm, { layers: 'all' });
    deqModel.dispose();
    const weightsOnly = ref.layers.map((h, i) => deviation(deq.layers[i], h));
    const n = ref.frames * ref.dim;
    let slim: Deviation[] | null = ref.layers.map((h, i) => deviation(ours.layers[i], h));
    if (slim.every((d) => d.maxRel === 0)) {
      // bit for bit the f32 output: this engine ignored dtype q8 (no int8 path); say so instead of reporting zeros
      process.stderr.write(`warning: ${s.name}: dtype q8 gave the f32 hidden states bit for bit, so this slimwav has no int8 engine; slimwav columns left empty\n`);
      slim = null;
    }
    const graph = noOrt ? null : await ortQ8(s, pcm, threads);
    const onnx = graph ? ref.layers.map((h, i) => deviation(graph.subarray(i * n, (i + 1) * n), h)) : null;
    report.push({ model: s.name, seconds: pcm.length / 16000, frames: ref.frames, slimwav_q8: slim, onnxruntime_q8: onnx, int8_weights_alone: weightsOnly });
    if (json) continue;
    console.log(`\nq8 vs f32, ${s.name}, ${(pcm.length / 16000).toFixed(1)} s of models/speech.wav (${ref.frames} frames × ${ref.dim})\n`);
    console.log('| hidden state | slimwav q8: cosine | max rel. | RMS rel. | onnxruntime q8 graph: cosine | max rel. | RMS rel. | int8 weights alone: cosine | max rel. | RMS rel. |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    ref.layers.forEach((_, i) => console.log(`| ${i} | ${fmt(slim?.[i])} | ${fmt(onnx?.[i])} | ${fmt(weightsOnly[i])} |`));
    const worst = (ds: Deviation[]) => `min cosine ${Math.min(...ds.map((d) => d.cosine)).toFixed(5)}, max RMS rel. ${Math.max(...ds.map((d) => d.rmsRel)).toExponential(2)}`;
    console.log(`\nslimwav q8: ${slim ? worst(slim) : '-'}` + (onnx ? `; onnxruntime q8 graph: ${worst(onnx)}` : '') + `; int8 weights alone: ${worst(weightsOnly)}`);
  }
  if (json) process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
