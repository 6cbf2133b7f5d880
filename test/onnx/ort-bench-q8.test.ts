// The q8 rows of `slimwav bench` on a fixture-sized model (no timing is asserted, only that every runtime runs the
// q8 graph and the ratios are the ones the table prints): onnxruntime-web runs DynamicQuantizeLinear /
// MatMulInteger / ConvInteger on wasm and agrees with onnxruntime-node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { openModelFiles } from '../../src/arch/model-files.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { q8Rows } from '../../src/cli/bench.js';
import { runOrtBench } from '../../src/cli/ort-bench.js';
import { FIXTURES, readRefs } from '../ref/fixtures.js';

test('runOrtBench q8: onnxruntime-web (wasm) and onnxruntime-node run the int8 graph and agree', async () => {
  const dir = join(FIXTURES, 'wavlm-ragged-a');
  const f = await openModelFiles(dir);
  const pcm = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  const r = await runOrtBench(f.config, f.tensors as Map<string, RawTensor>, pcm, 2, 1, 'q8');
  assert.is(r.detail.dtype, 'q8');
  assert.ok(r.ortWebMs! > 0 && r.ortNodeMs! > 0);
  assert.ok(r.detail.webVsNode! <= 1e-5, `web vs node ${r.detail.webVsNode}`);
});

test('q8Rows: slimwav q8, onnxruntime-web q8 and onnxruntime-node q8 rows with their ratios', async () => {
  const dir = join(FIXTURES, 'ragged-w2v-a');
  const f = await openModelFiles(dir);
  const pcm = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  const m = { name: 'm', config: f.config, tensors: f.tensors as Map<string, RawTensor> };
  const rows = await q8Rows([m], [{ name: 'simd128', simd: 'plain' }], [1], pcm, 1, new Map([['m/simd128/1', 5]]),
    new Map([['m/1', { web: null, node: 7 }]]), runOrtBench);
  assert.equal(rows.map((r) => r.runtime), ['slimwav q8', 'onnxruntime-web q8', 'onnxruntime-node q8']);
  const [ours, web, node] = rows;
  for (const r of rows) assert.ok(r.ms > 0 && r.threads === 1 && r.rtf === r.ms / 1000 / (pcm.length / 16000));
  assert.is(ours.vs_our_f32, 5 / ours.ms);
  assert.is(ours.vs_ort_web_q8, web.ms / ours.ms);
  assert.is(ours.vs_ort_node_q8, node.ms / ours.ms);
  assert.is(ours.vs_ort_node_f32, 7 / ours.ms);
  assert.is(web.vs_ort_web_q8, null);
  assert.is(web.vs_our_f32, null);
  assert.is(node.vs_ort_node_q8, null);
  assert.is(node.vs_ort_web_q8, web.ms / node.ms);
  // without onnxruntime (--no-ort) only our rows
  const mine = await q8Rows([m], [{ name: 'simd128', simd: 'plain' }], [1], pcm, 1, new Map(), new Map(), null);
  assert.equal(mine.map((r) => r.runtime), ['slimwav q8']);
  assert.is(mine[0].vs_our_f32, null);
});

test.run();
