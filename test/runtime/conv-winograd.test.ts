// Kernel-3 stride-2 conv layers through Winograd F(2,2) (assembly/conv.ts) compute what the plain GEMM form
// computes: every conv stage, odd and even frame counts, odd channel counts, conv bias, layer-norm and group-norm
// extractors, two threads, and the chunked conv stack of long inputs. Parity with torchaudio (where these layers
// take the Winograd form by default) is in parity.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModel, parseConfig, type LoadOptions } from '../../src/index.js';
import { randomTensors } from '../../src/arch/random-model.js';
import * as ref from '../ref/kernels.js';
import { rejectsCode } from '../ref/assert.js';

function config(norm: 'group' | 'layer', convBias: boolean, dims: number[]): Record<string, unknown> {
  return {
    model_type: 'wav2vec2', hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    conv_dim: dims, conv_kernel: [10, 3, 3, 3, 2], conv_stride: [5, 2, 2, 2, 2], conv_bias: convBias,
    feat_extract_norm: norm, num_conv_pos_embeddings: 8, num_conv_pos_embedding_groups: 2, do_stable_layer_norm: norm === 'layer',
  };
}

async function stages(cfg: Record<string, unknown>, wave: Float32Array, opts: LoadOptions): Promise<Map<string, Float32Array>> {
  const model = await buildModel(cfg, randomTensors(parseConfig(cfg), 4), 'wino-test', [], { simd: 'plain', ...opts });
  const out = new Map<string, Float32Array>();
  await model.extract(wave, { layers: 'last', capture: (stage, data) => out.set(stage, data) });
  model.dispose();
  return out;
}

const same = suite('conv k3 s2: Winograd == GEMM');
const CASES: ['group' | 'layer', boolean, number[], number][] = [
  ['group', false, [16, 24, 20, 12, 16], 16000], // even/odd frame counts across the layers
  ['layer', true, [13, 17, 9, 21, 11], 12345], // odd channels, conv bias, layer norm (no fused GELU)
  ['group', true, [8, 8, 8, 8, 8], 4000 + 37],
];
for (const [norm, bias, dims, samples] of CASES) {
  for (const threads of [1, 2]) {
    same(`${norm} norm, bias ${bias}, channels ${dims.join('/')}, ${samples} samples, ${threads} thread(s)`, async () => {
      const wave = ref.randomArray(samples, ref.rng(samples + threads));
      const cfg = config(norm, bias, dims);
      const a = await stages(cfg, wave, { winograd: false, threads }), b = await stages(cfg, wave, { winograd: true, threads });
      let compared = 0;
      for (const [name, want] of a) {
        if (!name.startsWith('conv.') && name !== 'proj') continue;
        ref.assertClose(b.get(name)!, want, 2e-6, name);
        compared++;
      }
      assert.ok(compared >= 6, `compared ${compared} stages`);
      // the two forms really ran: a kernel-3 stride-2 layer's outputs differ in their last bits somewhere
      const g1 = a.get('conv.1')!, w1 = b.get('conv.1')!;
      assert.ok(g1.some((v, i) => v !== w1[i]), 'conv.1 is bit-identical: the Winograd form did not run');
    });
  }
}
same('the chunked conv stack of long inputs (small conv budget) gives the whole-input result', async () => {
  const wave = ref.randomArray(48000, ref.rng(77));
  const cfg = config('group', false, [16, 24, 20, 12, 16]);
  const whole = await stages(cfg, wave, { winograd: false });
  const chunked = await stages(cfg, wave, { winograd: true, convMemoryBudget: 16 * 1024 });
  ref.assertClose(chunked.get('proj')!, whole.get('proj')!, 2e-6, 'proj');
});
same('winograd must be a boolean: one clear error', async () => {
  const cfg = config('group', false, [8, 8, 8, 8, 8]);
  await rejectsCode(buildModel(cfg, randomTensors(parseConfig(cfg), 1), 'x', [], { winograd: 'yes' as unknown as boolean }),
    'E_ARGS', 'winograd must be true or false');
});
same.run();
