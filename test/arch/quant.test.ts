// The q8 definition (arch/quant.ts) and its binding: per-row symmetric int8, round trip through the tensor table
// (I8 + `_scale`), fused q|k|v rows, which weights are quantizable, and I8 where f32 is required refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/arch/config.js';
import { bindWeights, foldWeightNorm, quantizable, storableInt8, weightsToTensors } from '../../src/arch/binding.js';
import { dequantizeRows, quantizeRows, scaleName } from '../../src/arch/quant.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { toFloat32 } from '../../src/format/tensor.js';
import { throwsCode } from '../ref/assert.js';
import { FIXTURES } from '../ref/fixtures.js';

const s = suite('q8 weights');
const fixture = (name: string) => {
  const config = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, name, 'model.safetensors'))), name).tensors;
  return { cfg: parseConfig(config), tensors };
};

s('quantizeRows: range, error ≤ half a step, exact extremes, zero rows, negation symmetry', () => {
  const rows = 5, cols = 37;
  const w = new Float32Array(rows * cols);
  let x = 12345;
  for (let i = 0; i < w.length; i++) { x = (x * 1103515245 + 12345) >>> 0; w[i] = (x / 2 ** 32 - 0.5) * (1 + (i % 7)); }
  w.fill(0, 2 * cols, 3 * cols); // row 2: all zero
  const q = quantizeRows(w, rows, cols), back = dequantizeRows(q, rows, cols);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    const m = Math.max(...Array.from(row, Math.abs));
    assert.ok(q.scale[r] > 0, 'scale positive');
    if (m === 0) { assert.is(q.scale[r], 1); continue; }
    assert.ok(Math.abs(q.scale[r] - m / 127) <= 1e-7 * m, 'scale = max/127');
    const qi = Array.from(q.q.subarray(r * cols, (r + 1) * cols));
    assert.ok(qi.every((v) => v >= -127 && v <= 127));
    assert.is(Math.max(...qi.map(Math.abs)), 127, 'the largest weight maps to ±127');
    for (let c = 0; c < cols; c++) assert.ok(Math.abs(back[r * cols + c] - row[c]) <= q.scale[r] / 2 * (1 + 1e-6));
  }
  const neg = quantizeRows(w.map((v) => -v), rows, cols);
  assert.equal(Array.from(neg.q), Array.from(q.q, (v) => (v === 0 ? 0 : -v)));
  assert.equal(Array.from(neg.scale), Array.from(q.scale));
});

s('quantizeRows / dequantizeRows into a given buffer: the same values as fresh arrays; a buffer too small is refused', () => {
  const rows = 5, cols = 7;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.3) * (1 + (i % 4)));
  const fresh = quantizeRows(w, rows, cols);
  const room = { q: new Int8Array(64).fill(9), scale: new Float32Array(8).fill(9) };
  const into = quantizeRows(w, rows, cols, room);
  assert.equal(Array.from(into.q), Array.from(fresh.q));
  assert.equal(Array.from(into.scale), Array.from(fresh.scale));
  assert.is(into.q.buffer, room.q.buffer, 'written into the given buffer');
  const out = new Float32Array(40).fill(9);
  assert.equal(Array.from(dequantizeRows(fresh, rows, cols, out)), Array.from(dequantizeRows(fresh, rows, cols)));
  assert.is(out[rows * cols], 9, 'nothing written past rows·cols');
  assert.throws(() => quantizeRows(w, rows, cols, { q: new Int8Array(rows * cols - 1), scale: new Float32Array(rows) }), /smaller/);
  assert.throws(() => dequantizeRows(fresh, rows, cols, new Float32Array(rows * cols - 1)), /smaller/);
});

s('quantizable: linear layers and conv layers ≥ 1 only', () => {
  for (const n of ['feature_projection.projection.weight', 'encoder.layers.3.attention.q_proj.weight', 'encoder.layers.0.attention.out_proj.weight',
    'encoder.layers.11.feed_forward.intermediate_dense.weight', 'encoder.layers.1.feed_forward.output_dense.weight',
    'feature_extractor.conv_layers.1.conv.weight', 'feature_extractor.conv_layers.6.conv.weight']) assert.ok(quantizable(n), n);
  for (const n of ['feature_extractor.conv_layers.0.conv.weight', 'encoder.pos_conv_embed.conv.weight', 'encoder.layers.0.attention.q_proj.bias',
    'encoder.layers.0.attention.gru_rel_pos_linear.weight', 'encoder.layers.0.layer_norm.weight', 'feature_projection.layer_norm.weight']) assert.not.ok(quantizable(n), n);
  // the positional conv is int8 in a file only (storage), its weight-norm gain never
  for (const n of ['encoder.pos_conv_embed.conv.weight', 'encoder.pos_conv_embed.conv.weight_v', 'feature_projection.projection.weight']) assert.ok(storableInt8(n), n);
  for (const n of ['encoder.pos_conv_embed.conv.weight_g', 'encoder.pos_conv_embed.conv.bias', 'feature_extractor.conv_layers.0.conv.weight']) assert.not.ok(storableInt8(n), n);
});

for (const name of ['ragged-w2v-a', 'wavlm-ragged-a', 'tiny-w2v-group']) {
  s(`${name}: bind with quantize → I8 tensors → bind again gives the same int8 weights`, () => {
    const { cfg, tensors } = fixture(name);
    const w = bindWeights(cfg, tensors, name, { quantize: true });
    const t = weightsToTensors(w, { q8: true });
    let i8 = 0;
    for (const [n, r] of t) {
      if (r.dtype !== 'I8') continue;
      i8++;
      assert.ok(storableInt8(n), `${n} written as I8`);
      const sc = t.get(scaleName(n));
      assert.ok(sc && sc.dtype === 'F32' && sc.shape.length === 1 && sc.shape[0] === r.shape[0], `${n}: scale tensor [rows]`);
      // the per-tensor int8 values are the quantization of the original tensor on its own rows
      const rows = r.shape[0], cols = r.data.length / rows;
      const ref = quantizeRows(toFloat32(tensors.get(n)!), rows, cols);
      assert.equal(Array.from(new Int8Array(r.data.buffer, r.data.byteOffset, r.data.length)), Array.from(ref.q), n);
    }
    assert.ok(i8 > 0);
    // quantized at bind time, .weight is the dequantization too (the f32 original is not kept)
    const pj = w.front.proj;
    assert.equal(Array.from(pj.weight), Array.from(dequantizeRows(pj.q8!, pj.rows, pj.cols)));
    if (w.layers[0].ffn) {
      const f = w.layers[0].ffn.out;
      assert.equal(Array.from(f.weight), Array.from(dequantizeRows(f.q8!, f.rows, f.cols)));
    }
    const again = bindWeights(cfg, t, 'q8 table');
    w.layers.forEach((L, l) => {
      const A = L.attn?.qkv, B = again.layers[l].attn?.qkv;
      assert.is(!!A, !!B);
      if (A && B) {
        assert.equal(Array.from(B.q8!.q), Array.from(A.q8!.q));
        assert.equal(Array.from(B.q8!.scale), Array.from(A.q8!.scale));
        assert.equal(Array.from(B.weight), Array.from(dequantizeRows(A.q8!, A.rows, A.cols)), 'weight = q·scale');
      }
      if (L.ffn) assert.equal(Array.from(again.layers[l].ffn!.in.q8!.q), Array.from(L.ffn.in.q8!.q));
    });
    assert.is(again.front.conv[0].q8, null);
    // the positional conv: weight_v in int8 (weight_g F32), and the f32 weight it runs on is the fold of q·scale
    assert.is(t.get('encoder.pos_conv_embed.conv.weight_v')!.dtype, 'I8');
    assert.is(t.get('encoder.pos_conv_embed.conv.weight_g')!.dtype, 'F32');
    const P = again.pos, vq = dequantizeRows(P.q8!, cfg.hidden, P.cg * P.kernel);
    assert.equal(Array.from(P.q8!.q), Array.from(w.pos.q8!.q));
    assert.equal(Array.from(P.weightNorm!.v), Array.from(vq));
    assert.equal(Array.from(P.weight), Array.from(foldWeightNorm(P.weightNorm!.g, vq, cfg.hidden, P.cg, P.kernel)));
    assert.equal(Array.from(w.pos.weight), Array.from(P.weight), 'quantized at bind = read from int8');
    if (cfg.conv.length > 1) assert.equal(Array.from(again.front.conv[1].q8!.q), Array.from(w.front.conv[1].q8!.q));
    // written back without q8: the f32 dequantization, bit for bit
    const f32 = weightsToTensors(again);
    const p = 'feature_projection.projection.weight';
    assert.is(f32.get(p)!.dtype, 'F32');
    assert.equal(Array.from(toFloat32(f32.get(p)!)), Array.from(dequantizeRows(w.front.proj.q8!, w.front.proj.rows, w.front.proj.cols)));
  });
}

s('I8 where a float tensor is required, or without its scale, is refused naming the tensor', () => {
  const { cfg, tensors } = fixture('ragged-w2v-a');
  const t = weightsToTensors(bindWeights(cfg, tensors, 'x', { quantize: true }), { q8: true });
  const noScale = new Map(t);
  noScale.delete(scaleName('feature_projection.projection.weight'));
  throwsCode(() => bindWeights(cfg, noScale, 'm.safetensors'), 'E_SHAPE', 'feature_projection.projection.weight has no', 'weight_scale');
  const badScale = new Map(t);
  badScale.set(scaleName('feature_projection.projection.weight'), { dtype: 'F32', shape: [3], data: new Uint8Array(12) });
  throwsCode(() => bindWeights(cfg, badScale, 'm.safetensors'), 'E_SHAPE', 'weight_scale has 3 values, expected');
  const i8Norm = new Map(t);
  const n = 'encoder.layer_norm.weight', f = t.get(n)!;
  i8Norm.set(n, { dtype: 'I8', shape: f.shape, data: new Uint8Array(f.shape[0]) });
  throwsCode(() => bindWeights(cfg, i8Norm, 'm.safetensors'), 'E_SHAPE', 'encoder.layer_norm.weight is int8');
});

s.run();
