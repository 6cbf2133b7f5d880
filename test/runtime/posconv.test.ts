// The positional conv through the DFT (assembly/posconv.ts, src/runtime/engine.ts) computes the same function as
// the direct grouped conv: odd and even kernels, one block, many blocks (beyond one chunk of 8), lengths that end
// on and off a block boundary, threads. Parity with torchaudio for the DFT form is in parity.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModel, parseConfig, SlimwavError } from '../../src/index.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { dftSize } from '../../src/runtime/arena-layout.js';
import * as ref from '../ref/kernels.js';

/** a small wav2vec2 with the given positional conv; two layers are enough (the conv sits before them) */
function config(kernel: number, groups: number, hidden: number): Record<string, unknown> {
  return {
    model_type: 'wav2vec2', hidden_size: hidden, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    conv_dim: [16, 16], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false, feat_extract_norm: 'group',
    num_conv_pos_embeddings: kernel, num_conv_pos_embedding_groups: groups, do_stable_layer_norm: false,
  };
}

async function posconv(cfgJson: Record<string, unknown>, wave: Float32Array, posConv: 'direct' | 'dft', threads = 1) {
  const tensors = randomTensors(parseConfig(cfgJson), 3);
  const model = await buildModel(cfgJson, tensors, 'posconv-test', [], { threads, simd: 'plain', posConv });
  let out: Float32Array | null = null;
  const r = await model.extract(wave, { layers: [0], capture: (stage, data) => { if (stage === 'posconv') out = data; } });
  model.dispose();
  return { posconv: out! as Float32Array, frames: r.frames };
}

const same = suite('posconv: DFT form == direct form');
const CASES: [number, number, number, number][] = [
  // kernel, groups, hidden, audio samples
  [16, 4, 32, 1600], // one short block
  [7, 2, 16, 16000], // odd kernel, many blocks
  [128, 4, 32, 64000], // the wav2vec2 kernel, 199 frames
  [12, 3, 24, 48000 + 10 * 40], // beyond one chunk of 8 blocks
];
for (const [kernel, groups, hidden, samples] of CASES) {
  same(`kernel ${kernel}, ${groups} groups of ${hidden / groups}, ${samples} samples`, async () => {
    const r = ref.rng(kernel * 31 + samples);
    const wave = ref.randomArray(samples, r);
    const cfg = config(kernel, groups, hidden);
    const a = await posconv(cfg, wave, 'direct'), b = await posconv(cfg, wave, 'dft');
    assert.is(a.frames, b.frames);
    assert.is(a.posconv.length, a.frames * hidden);
    ref.assertClose(b.posconv, a.posconv, 2e-6, 'dft vs direct');
    // the two forms really ran: their roundings differ somewhere
    assert.ok(b.posconv.some((v, i) => v !== a.posconv[i]), 'bit-identical: the DFT form did not run');
  });
}
same('two threads give the single-threaded result to 1e-6', async () => {
  const wave = ref.randomArray(32000, ref.rng(9));
  const cfg = config(128, 4, 32);
  const one = await posconv(cfg, wave, 'dft', 1), two = await posconv(cfg, wave, 'dft', 2);
  ref.assertClose(two.posconv, one.posconv, 1e-6, '2 threads');
});
same.run();

const choice = suite('posconv: which form auto picks');
choice('wav2vec2-base (128 taps, 48 channels per group) goes through the DFT at under a fifth of the work; tiny kernels stay direct', () => {
  const base = dftSize(128, 48, false);
  assert.ok(base, 'base shape uses the DFT');
  assert.is(base!.N, 256);
  assert.is(base!.L, 129);
  assert.is(dftSize(16, 12, false), null);
  assert.ok(dftSize(16, 12, true), 'forced');
});
choice('a bad posConv option is one clear error', async () => {
  const cfg = config(16, 4, 32);
  const tensors = randomTensors(parseConfig(cfg), 1);
  try {
    await buildModel(cfg, tensors, 'x', [], { posConv: 'fft' as 'dft' });
    assert.unreachable('accepted');
  } catch (e) {
    assert.instance(e, SlimwavError);
    assert.match((e as Error).message, /posConv must be "auto", "direct" or "dft"/);
  }
});
choice.run();
