// The binding: (config, tensors) → typed weights and back without loss; per-head offsets; the block plan of
// post-LN and pre-LN layers with removed blocks; the WavLM relative-bias rule.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/arch/config.js';
import { bindWeights, hasRelativeBias, layerSteps, weightsToTensors, foldWeightNorm, unfoldWeightNorm } from '../../src/arch/binding.js';
import { checkTensors } from '../../src/arch/tensors.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { toFloat32 } from '../../src/format/tensor.js';
import { FIXTURES } from '../ref/fixtures.js';

const s = suite('binding');
const fixture = (name: string) => {
  const config = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, name, 'model.safetensors'))), name).tensors;
  return { cfg: parseConfig(config), tensors };
};

s('ragged layers: fused q|k|v rows and per-head offsets', () => {
  const { cfg, tensors } = fixture('ragged-w2v-a'); // heads [[2,3],[],[0,1,2]], qk [[9,12],[],[2,5,2]], v [[7,8],[],[2,4,9]]
  const w = bindWeights(cfg, tensors);
  const L0 = w.layers[0], L2 = w.layers[2];
  assert.equal([L0.qkTotal, L0.vTotal, L0.rows, L0.qOff, L0.vOff], [21, 15, 57, [0, 9], [0, 7]]);
  assert.equal([L2.qkTotal, L2.vTotal, L2.qOff, L2.vOff], [9, 15, [0, 2, 7], [0, 2, 6]]);
  assert.is(w.layers[1].attn, null);
  // k rows sit after the q rows: row qkTotal + 3 is k_proj row 3
  const k = toFloat32(tensors.get('encoder.layers.0.attention.k_proj.weight')!);
  const D = cfg.hidden;
  assert.equal(Array.from(L0.attn!.qkv.weight.subarray((21 + 3) * D, (21 + 4) * D)), Array.from(k.subarray(3 * D, 4 * D)));
});

for (const name of ['ragged-w2v-a', 'tiny-hubert-layer-preln', 'wavlm-ragged-a', 'tiny-w2v-group']) {
  s(`${name}: weightsToTensors(bindWeights(·)) gives back every used tensor, bit for bit`, () => {
    const { cfg, tensors } = fixture(name);
    const back = weightsToTensors(bindWeights(cfg, tensors));
    checkTensors(cfg, back, 'round trip');
    for (const spec of checkTensors(cfg, tensors, name)) {
      if (!spec.used || spec.shape.some((d) => d === 0)) continue;
      const a = toFloat32(tensors.get(spec.name)!), b = back.get(spec.name);
      assert.ok(b, `${spec.name} written`);
      assert.equal(Array.from(toFloat32(b!)), Array.from(a), spec.name);
    }
  });
}

s('block plan: post-LN keeps both norms when a block is removed; pre-LN ends with the encoder norm', () => {
  const post = parseConfig({ ...JSON.parse(readFileSync(join(FIXTURES, 'ragged-w2v-a', 'config.json'), 'utf8')) });
  const attn = {} as never, ffn = {} as never;
  const ops = (steps: ReturnType<typeof layerSteps>) => steps.map((st) => ('norm' in st ? `${st.op}:${st.norm}:${st.from}>${st.to}` : `${st.op}${'from' in st ? `:${st.from}` : ''}`));
  assert.equal(ops(layerSteps(post, { index: 0, attn, attnBias: null, ffn, ffnBias: null })),
    ['attention:x', 'norm:norm1:x>x', 'ffn:x', 'norm:norm2:x>x', 'emit:x']);
  assert.equal(ops(layerSteps(post, { index: 1, attn: null, attnBias: new Float32Array(1), ffn: null, ffnBias: null })),
    ['attentionBias', 'norm:norm1:x>x', 'norm:norm2:x>x', 'emit:x']);
  const pre = { ...post, preLayerNorm: true };
  assert.equal(ops(layerSteps(pre, { index: 0, attn, attnBias: null, ffn, ffnBias: null })),
    ['norm:norm1:x>y', 'attention:y', 'norm:norm2:x>y', 'ffn:y', 'emit:x']);
  assert.equal(ops(layerSteps(pre, { index: post.numLayers - 1, attn: null, attnBias: null, ffn, ffnBias: new Float32Array(1) })),
    ['norm:norm2:x>y', 'ffn:y', 'norm:encoder:x>y', 'emit:y']);
  assert.equal(bindWeights(post, fixture('ragged-w2v-a').tensors).frontSteps.filter((st) => st.op === 'norm').length, 1);
});

s('WavLM relative bias: only with a layer 0 that keeps attention', () => {
  const base = JSON.parse(readFileSync(join(FIXTURES, 'wavlm-ragged-a', 'config.json'), 'utf8'));
  assert.ok(hasRelativeBias(parseConfig(base)));
  const zero = { ...base, num_hidden_layers: 0 };
  for (const k of ['layer_heads', 'layer_head_qk_dims', 'layer_head_v_dims', 'layer_intermediate_sizes']) zero[k] = [];
  assert.not.ok(hasRelativeBias(parseConfig(zero)));
  const noHeads = { ...base, layer_heads: [[], ...base.layer_heads.slice(1)], layer_head_qk_dims: [[], ...base.layer_head_qk_dims.slice(1)], layer_head_v_dims: [[], ...base.layer_head_v_dims.slice(1)] };
  assert.not.ok(hasRelativeBias(parseConfig(noHeads)));
  assert.not.ok(hasRelativeBias(parseConfig({ ...base, model_type: 'hubert' })));
});

s('weight norm: unfold then fold gives the weight back', () => {
  const W = Float32Array.from({ length: 4 * 3 * 5 }, (_, i) => Math.sin(i * 0.7));
  const { g, v } = unfoldWeightNorm(W, 5);
  const back = foldWeightNorm(g, v, 4, 3, 5);
  back.forEach((x, i) => assert.ok(Math.abs(x - W[i]) < 1e-6, `${i}: ${x} vs ${W[i]}`));
});

s.run();
