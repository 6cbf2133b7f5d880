/**
 * src/arch/checkpoint.ts: every spelling of the tiny model maps to the same Hugging Face tensors; DPHuBERT configs
 * convert to exact config.json objects (pruning keys included); config/tensor mismatches are E_SHAPE naming the tensor.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { readTorchStateDict } from '../../src/format/pytorch.js';
import { toSlimwavModel } from '../../src/arch/checkpoint.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { CKPT, assertSameTensors, fixture, throwsCode, twin } from '../fixtures/ckpt/helpers.js';

const hfConfig = JSON.parse(readFileSync(CKPT + 'hf/config.json', 'utf8')) as Record<string, unknown>;
const load = (name: string, hf?: Record<string, unknown>) => {
  const sd = readTorchStateDict(fixture(name), name);
  return toSlimwavModel(sd.tensors, sd.config, name, hf);
};
const has = (notes: string[], s: string) => assert.ok(notes.some((n) => n.includes(s)), `notes should mention ${s}: ${JSON.stringify(notes)}`);

test('HF folder (pytorch_model.bin + config.json): config passed through, masked_spec_embed dropped', () => {
  const m = load('hf/pytorch_model.bin', hfConfig);
  assert.equal(m.config, hfConfig);
  assertSameTensors(m.tensors, twin('tiny.hf.safetensors'), 'hf');
  has(m.notes, 'masked_spec_embed');
});

test('Wav2Vec2ForCTC: wav2vec2. prefix removed, lm_head dropped with a note', () => {
  const m = load('hf-ctc.bin', hfConfig);
  assertSameTensors(m.tensors, twin('tiny.hf.safetensors'), 'ctc');
  has(m.notes, 'lm_head.weight, lm_head.bias');
  has(m.notes, 'wav2vec2.masked_spec_embed');
  has(m.notes, 'prefix "wav2vec2."');
});

test('torchaudio names and parametrizations.weight.original0/1 map to HF names', () => {
  assertSameTensors(load('torchaudio.pt', hfConfig).tensors, twin('tiny.hf.safetensors'), 'torchaudio');
  assertSameTensors(load('parametrizations.bin', hfConfig).tensors, twin('tiny.hf.safetensors'), 'parametrizations');
  assertSameTensors(load('proto4.pt', hfConfig).tensors, twin('tiny.hf.safetensors'), 'proto4');
});

test('no config anywhere: E_CONFIG asking for config.json', () => {
  throwsCode(() => load('torchaudio.pt'), 'E_CONFIG', 'torchaudio.pt: no config found; put config.json next to it');
});

test('dense torchaudio kwargs → config.json (no pruning keys; model_type assumed, said so)', () => {
  const m = load('torchaudio-config.pt');
  assert.equal(m.config, {
    model_type: 'hubert', conv_dim: [8, 8], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false,
    feat_extract_norm: 'group', hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
    hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
    do_stable_layer_norm: false, do_normalize: false,
  });
  assertSameTensors(m.tensors, twin('tiny.hf.safetensors'), 'torchaudio-config');
  has(m.notes, 'model_type "hubert" assumed');
});

const DPH_CONFIG = {
  model_type: 'hubert', conv_dim: [6, 5], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false,
  feat_extract_norm: 'group', hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 64,
  hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
  do_stable_layer_norm: false, do_normalize: false,
  layer_heads: [[0], [], [0, 1]],
  layer_head_qk_dims: [[8], [], [8, 8]],
  layer_head_v_dims: [[8], [], [8, 8]],
  layer_intermediate_sizes: [20, 12, 0],
};

test('DPHuBERT pruned checkpoint → exact config.json with the pruning keys; dummy_weight kept', () => {
  const m = load('dphubert.pth');
  assert.equal(m.config, DPH_CONFIG);
  assertSameTensors(m.tensors, twin('dphubert.hf.safetensors'), 'dphubert');
  has(m.notes, 'kept feature_extractor.dummy_weight');
  has(m.notes, 'intermediate_size 64');
});

test('Lightning checkpoint of the same student + its config gives the same model', () => {
  const sd = readTorchStateDict(fixture('lightning.ckpt'), 'lightning.ckpt');
  const cfg = readTorchStateDict(fixture('dphubert.pth'), 'dphubert.pth').config;
  const m = toSlimwavModel(sd.tensors, cfg, 'lightning.ckpt');
  assert.equal(m.config, DPH_CONFIG);
  assertSameTensors(m.tensors, twin('dphubert.hf.safetensors'), 'lightning');
});

const WAVLM_CONFIG = {
  model_type: 'wavlm', conv_dim: [8, 8], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false,
  feat_extract_norm: 'group', hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24,
  hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
  do_stable_layer_norm: false, do_normalize: false, num_buckets: 8, max_bucket_distance: 16,
  layer_heads: [[1], [0, 1]],
  layer_head_qk_dims: [[8], [8, 8]],
  layer_head_v_dims: [[8], [8, 8]],
  layer_intermediate_sizes: [24, 24],
};

test('DPHuBERT WavLM: remaining heads kept by original index; rel_attn_embed/gru in HF spelling; all-ones dummy_weight dropped', () => {
  const m = load('dphubert-wavlm.pth');
  assert.equal(m.config, WAVLM_CONFIG);
  assertSameTensors(m.tensors, twin('dphubert-wavlm.hf.safetensors'), 'wavlm');
  has(m.notes, 'dropped feature_extractor.dummy_weight (all ones');
});

test('torchaudio-native WavLM: packed in_proj split into q/k/v, attention.attention.out_proj renamed', () => {
  const want = twin('dphubert-wavlm.hf.safetensors');
  const packed = new Map<string, RawTensor>();
  const cat = (ts: RawTensor[]): RawTensor => {
    const data = new Uint8Array(ts.reduce((n, t) => n + t.data.length, 0));
    let o = 0;
    for (const t of ts) { data.set(t.data, o); o += t.data.length; }
    return { dtype: ts[0].dtype, shape: [ts.reduce((n, t) => n + t.shape[0], 0), ...ts[0].shape.slice(1)], data };
  };
  for (const [k, t] of want) {
    const m = /^encoder\.layers\.(\d+)\.attention\.(q|k|v)_proj\.(weight|bias)$/.exec(k);
    if (m) {
      if (m[2] !== 'q') continue;
      const p = `encoder.layers.${m[1]}.attention`;
      packed.set(`encoder.transformer.layers.${m[1]}.attention.attention.in_proj_${m[3]}`,
        cat(['q', 'k', 'v'].map((x) => want.get(`${p}.${x}_proj.${m[3]}`)!)));
      continue;
    }
    const o = k.replace(/^encoder\.layers\.(\d+)\.attention\.out_proj/, 'encoder.layers.$1.attention.attention.out_proj');
    packed.set(o.startsWith('feature_projection.') ? `encoder.${o}` : o.replace(/^encoder\./, 'encoder.transformer.'), t);
  }
  const cfg = readTorchStateDict(fixture('dphubert-wavlm.pth'), 'x').config;
  const m = toSlimwavModel(packed, cfg, 'ta-wavlm.pt');
  assertSameTensors(m.tensors, want, 'packed');
});

test('config/tensor mismatches: E_SHAPE naming the layer and tensor; contradictory model types: E_CONFIG', () => {
  const sd = readTorchStateDict(fixture('dphubert.pth'), 'dphubert.pth');
  const cfg = { ...sd.config!, encoder_num_heads: [2, 0, 2] };
  throwsCode(() => toSlimwavModel(sd.tensors, cfg, 'dphubert.pth'), 'E_SHAPE', 'dphubert.pth', 'encoder.layers.0.attention.', 'shape [8, 16], expected [16, 16]');
  const cfg2 = { ...sd.config!, encoder_use_attention: [true, true, true], encoder_num_heads: [1, 1, 2] };
  throwsCode(() => toSlimwavModel(sd.tensors, cfg2, 'dphubert.pth'), 'E_SHAPE', 'missing tensor encoder.layers.1.attention.');
  const cfg3 = { ...sd.config!, extractor_conv_layer_config: [[6, 10, 5], [6, 3, 2]] };
  throwsCode(() => toSlimwavModel(sd.tensors, cfg3, 'dphubert.pth'), 'E_SHAPE', 'feature_extractor.conv_layers.1.conv.weight');
  const extra = new Map(sd.tensors);
  extra.set('encoder.transformer.layers.7.attention.q_proj.weight', sd.tensors.get('encoder.transformer.layers.0.attention.q_proj.weight')!);
  throwsCode(() => toSlimwavModel(extra, sd.config, 'dphubert.pth'), 'E_SHAPE', 'unexpected tensor encoder.layers.7.attention.q_proj.weight');

  const w = readTorchStateDict(fixture('dphubert-wavlm.pth'), 'w');
  throwsCode(() => toSlimwavModel(w.tensors, undefined, 'w.pth', { ...hfConfig, num_hidden_layers: 2 }), 'E_CONFIG', 'w.pth', 'model_type "wav2vec2"', 'WavLM');
  throwsCode(() => toSlimwavModel(sd.tensors, { foo: 1 }, 'odd.pth'), 'E_CONFIG', 'odd.pth', 'neither torchaudio/DPHuBERT kwargs');
  throwsCode(() => toSlimwavModel(sd.tensors, { ...sd.config!, encoder_num_heads: [1, 0] }, 'dphubert.pth'), 'E_CONFIG', '"encoder_num_heads" has 2 entries');
  throwsCode(() => toSlimwavModel(new Map([['x.weight', sd.tensors.get('feature_extractor.dummy_weight')!]]), undefined, 'n.pth'),
    'E_SHAPE', 'n.pth', 'no wav2vec2/HuBERT/WavLM feature extractor');
});

test('no config: shapes of a released architecture are enough (HuBERT-large layout), anything else is E_CONFIG', () => {
  // shapes only: inference and the shape check never read tensor bytes
  const t = new Map<string, RawTensor>();
  const put = (n: string, shape: number[]) => t.set(`hubert.${n}`, { dtype: 'F32', shape, data: new Uint8Array(0) });
  const kernels = [10, 3, 3, 3, 3, 2, 2];
  kernels.forEach((k, i) => {
    put(`feature_extractor.conv_layers.${i}.conv.weight`, [512, i ? 512 : 1, k]);
    put(`feature_extractor.conv_layers.${i}.conv.bias`, [512]);
    put(`feature_extractor.conv_layers.${i}.layer_norm.weight`, [512]);
    put(`feature_extractor.conv_layers.${i}.layer_norm.bias`, [512]);
  });
  const D = 1024, F = 4096;
  put('feature_projection.layer_norm.weight', [512]);
  put('feature_projection.layer_norm.bias', [512]);
  put('feature_projection.projection.weight', [D, 512]);
  put('feature_projection.projection.bias', [D]);
  put('encoder.pos_conv_embed.conv.weight_g', [1, 1, 128]);
  put('encoder.pos_conv_embed.conv.weight_v', [D, D / 16, 128]);
  put('encoder.pos_conv_embed.conv.bias', [D]);
  put('encoder.layer_norm.weight', [D]);
  put('encoder.layer_norm.bias', [D]);
  for (let l = 0; l < 24; l++) {
    const p = `encoder.layers.${l}`;
    for (const x of ['q', 'k', 'v', 'out']) { put(`${p}.attention.${x}_proj.weight`, [D, D]); put(`${p}.attention.${x}_proj.bias`, [D]); }
    for (const x of ['layer_norm', 'final_layer_norm']) { put(`${p}.${x}.weight`, [D]); put(`${p}.${x}.bias`, [D]); }
    put(`${p}.feed_forward.intermediate_dense.weight`, [F, D]);
    put(`${p}.feed_forward.intermediate_dense.bias`, [F]);
    put(`${p}.feed_forward.output_dense.weight`, [D, F]);
    put(`${p}.feed_forward.output_dense.bias`, [D]);
  }
  const m = toSlimwavModel(t, undefined, 'large.bin');
  assert.equal(m.config, {
    model_type: 'hubert', conv_dim: new Array(7).fill(512), conv_kernel: kernels, conv_stride: [5, 2, 2, 2, 2, 2, 2],
    conv_bias: true, feat_extract_norm: 'layer', hidden_size: D, num_hidden_layers: 24, num_attention_heads: 16,
    intermediate_size: F, hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 128,
    num_conv_pos_embedding_groups: 16, do_stable_layer_norm: true, do_normalize: true,
  });
  has(m.notes, 'no config found: inferred');
  // one layer fewer: no released model looks like that
  for (const k of [...t.keys()]) if (k.startsWith('hubert.encoder.layers.23.')) t.delete(k);
  throwsCode(() => toSlimwavModel(t, undefined, 'odd.bin'), 'E_CONFIG', 'odd.bin: no config found; put config.json next to it', 'match no released model');
});

test.run();
