// E_TRAP names the block-plan step and layer the engine was running when a kernel trapped (a kernel made to fail).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/arch/config.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { Engine } from '../../src/runtime/engine.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { instantiateKernels, type KernelExports } from '../../src/runtime/wasm.js';
import { throwsCode } from '../ref/assert.js';

const s = suite('E_TRAP');

const cfg = parseConfig({
  model_type: 'wav2vec2', conv_dim: [16, 16], conv_kernel: [10, 3], conv_stride: [5, 2], feat_extract_norm: 'group',
  hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 24,
  num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
});
const wave = Float32Array.from({ length: 800 }, (_, i) => Math.sin(i * 0.07));

/** An engine whose kernel `name` throws like a wasm trap on call number `at` (0-based) of one forward pass. */
async function engineFailing(name: keyof KernelExports, at: number, error: () => Error): Promise<Engine> {
  const kk = await instantiateKernels('release');
  let calls = 0, armed = false;
  const k = new Proxy({ ...kk.exports } as KernelExports, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (prop !== name || typeof v !== 'function') return v;
      return (...args: number[]) => {
        if (armed && calls++ === at) throw error();
        return (v as (...a: number[]) => unknown)(...args);
      };
    },
  });
  const e = new Engine(cfg, randomTensors(cfg, 7), k, new LinearMemory(kk.memory, kk.heapBase), null, { posConv: 'direct' });
  e.forward(wave, { layers: [3] }); // plan the arena; the fault is armed from the next pass on
  armed = true;
  return e;
}

s('a trap in the second layer\'s attention names layer 1 attention', async () => {
  const e = await engineFailing('f32_attention', 2, () => new WebAssembly.RuntimeError('unreachable')); // 2 heads per layer
  const err = throwsCode(() => e.forward(wave, { layers: [3] }), 'E_TRAP', 'layer 1 attention', 'unreachable');
  assert.not.ok(err.message.includes('layer 0'), err.message);
});

s('a debug-build assert in the last layer\'s layer norm names layer 2 and the norm', async () => {
  // calls: the projection's LayerNorm, the encoder norm (post-LN), then layer_norm and final_layer_norm per layer
  const e = await engineFailing('f32_layernorm', 2 + 2 * 2 + 1, () => new Error('slimwav kernel: assertion failed at norm.ts:1:1'));
  throwsCode(() => e.forward(wave, { layers: [3] }), 'E_TRAP', 'layer 2 final_layer_norm', 'assertion failed');
});

s('a trap in the conv stack names the conv layer', async () => {
  // call 0: conv layer 0 (its GroupNorm folded into one GEMM); conv layer 1 runs as Winograd pairs, call 1 is the projection
  const e = await engineFailing('f32_gemm_packed', 0, () => new WebAssembly.RuntimeError('memory access out of bounds'));
  throwsCode(() => e.forward(wave, { layers: [3] }), 'E_TRAP', 'conv layer 0');
  const p = await engineFailing('f32_gemm_packed', 1, () => new WebAssembly.RuntimeError('memory access out of bounds'));
  throwsCode(() => p.forward(wave, { layers: [3] }), 'E_TRAP', 'feature projection');
});

s('errors that are not traps pass through unchanged', async () => {
  const e = await engineFailing('f32_attention', 0, () => new TypeError('not a trap'));
  assert.throws(() => e.forward(wave, { layers: [3] }), (err: Error) => err instanceof TypeError && err.message === 'not a trap');
});

s.run();
