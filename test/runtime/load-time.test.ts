// `slimwav bench`'s load rows: slimwav's load() of the model written as a folder, one row per thread count, and the
// onnxruntime rows a runner returns for the same weights (a stand-in runner here; the real one needs onnxruntime).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measureLoad } from '../../src/cli/bench.js';
import { parseConfig } from '../../src/arch/config.js';
import { randomTensors } from '../../src/arch/random-model.js';

const cfgJson = {
  model_type: 'wav2vec2', conv_dim: [16, 16], conv_kernel: [10, 3], conv_stride: [5, 2], feat_extract_norm: 'group',
  hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24,
  num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
};

test('measureLoad: a slimwav row per thread count, then the runner\'s rows for the same weights', async () => {
  const tensors = randomTensors(parseConfig(cfgJson), 3);
  const seen: [number, number, number][] = [];
  const rows = await measureLoad(cfgJson, tensors, [1, 2], 2, async (cfg, t, threads, runs) => {
    assert.equal(cfg, cfgJson);
    seen.push([t.size, threads, runs]);
    return { nodeMs: 12.5, webMs: threads === 1 ? null : 30 };
  });
  assert.equal(rows.map((r) => `${r.runtime}/${r.threads}`), ['slimwav/1', 'onnxruntime-node/1', 'slimwav/2', 'onnxruntime-node/2', 'onnxruntime-web/2']);
  assert.equal(seen, [[tensors.size, 1, 2], [tensors.size, 2, 2]]);
  for (const r of rows.filter((x) => x.runtime === 'slimwav')) assert.ok(r.ms > 0 && Number.isFinite(r.ms), `${r.ms}`);
  assert.is(rows[1].ms, 12.5);
  assert.equal(await measureLoad(cfgJson, tensors, [1], 1, null).then((r) => r.map((x) => x.runtime)), ['slimwav']);
});

test.run();
