// ONNX q8 export (exportOnnx dtype 'q8', export-onnx --dtype q8): the graph of onnxruntime's dynamic quantization
// built from slimwav's own int8 weights, run by onnxruntime-node.
//   - the initializers hold exactly slimwav's int8 values (MatMulInteger: transposed) and per-channel scales, zero
//     point 0; weights the binding keeps f32 stay f32 nodes
//   - every integer node, fetched from the running graph, equals the integer arithmetic on its own fetched inputs
//     (uint8 activation, zero point, scale) and slimwav's int8 weights: exact int32 sums, then one f32 rescale
//   - the whole graph against slimwav on the same weights, per hidden state (cosine, relative RMS), with bounds set
//     from the measured deviation of onnxruntime's 8-bit per-tensor activation quantization (see docs/onnx.md)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildModel, load, parseConfig, type Model } from '../../src/index.js';
import { openModelFiles } from '../../src/arch/model-files.js';
import { bindWeights, quantizable, weightsToTensors, type ModelWeights } from '../../src/arch/binding.js';
import type { Q8 } from '../../src/arch/quant.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { deviation } from '../../src/onnx/deviation.js';
import { DataType, onnxTypes } from '../../src/onnx/proto.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'slimwav.js');
const work = mkdtempSync(join(tmpdir(), 'slimwav-onnx-q8-'));

/** slimwav's q8 model of a fixture: the int8 engine, weights quantized at load. */
async function slimwavQ8(dir: string): Promise<Model> {
  return load(dir, { dtype: 'q8' });
}

interface Tensor { name: string; dims: number[]; dataType: number; rawData: Uint8Array }
interface Node { input: string[]; output: string[]; opType: string; attribute: { name: string; i?: number; f?: number; ints?: number[] }[] }
interface Graph { node: Node[]; initializer: Tensor[]; output: unknown[] }

function decode(bytes: Uint8Array): { msg: { graph: Graph }; graph: Graph } {
  const msg = onnxTypes().ModelProto.decode(bytes) as unknown as { graph: Graph };
  return { msg, graph: msg.graph };
}
const i8 = (t: Tensor) => new Int8Array(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
const f32 = (t: Tensor) => new Float32Array(Uint8Array.from(t.rawData).buffer);

/** slimwav's int8 weights by initializer prefix (the names the exporter gives them) */
interface Q8Weight { q8: Q8; rows: number; cols: number; transposed: boolean; convDims?: number[] }
function slimwavQ8Weights(w: ModelWeights): Map<string, Q8Weight> {
  const m = new Map<string, Q8Weight>();
  w.front.conv.forEach((c, i) => {
    if (c.q8) m.set(`feature_extractor.conv_layers.${i}.conv`, { q8: c.q8, rows: c.dim, cols: c.cin * c.kernel, transposed: false, convDims: [c.dim, c.cin, c.kernel] });
  });
  m.set('feature_projection.projection', { ...w.front.proj, q8: w.front.proj.q8!, transposed: true });
  for (const L of w.layers) {
    const p = `encoder.layers.${L.index}`;
    if (L.attn) {
      m.set(`l${L.index}_qkv`, { ...L.attn.qkv, q8: L.attn.qkv.q8!, transposed: true });
      m.set(`${p}.attention.out_proj`, { ...L.attn.out, q8: L.attn.out.q8!, transposed: true });
    }
    if (L.ffn) {
      m.set(`${p}.feed_forward.intermediate_dense`, { ...L.ffn.in, q8: L.ffn.in.q8!, transposed: true });
      m.set(`${p}.feed_forward.output_dense`, { ...L.ffn.out, q8: L.ffn.out.q8!, transposed: true });
    }
  }
  return m;
}

const FIXED = ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'ragged-hubert-b', 'wavlm-ragged-a'];

const s = suite('onnx q8 export');

for (const name of FIXED) {
  s(`${name}: initializers are slimwav's int8 weights and scales; f32 elsewhere`, async () => {
    const dir = join(FIXTURES, name);
    const files = await openModelFiles(dir);
    const cfg = parseConfig(files.config);
    const w = bindWeights(cfg, files.tensors as Map<string, RawTensor>, dir, { quantize: true });
    const { bytes, dtype } = exportOnnx(files.config, files.tensors, { dtype: 'q8' });
    assert.is(dtype, 'q8');
    const { graph } = decode(bytes);
    const inits = new Map(graph.initializer.map((t) => [t.name, t]));
    const expected = slimwavQ8Weights(w);
    const found = graph.initializer.filter((t) => t.name.endsWith('.weight_quantized')).map((t) => t.name.slice(0, -'.weight_quantized'.length));
    assert.equal(found.sort(), [...expected.keys()].sort(), 'one int8 initializer per int8 weight of the binding');
    for (const [p, e] of expected) {
      const t = inits.get(`${p}.weight_quantized`)!;
      assert.is(t.dataType, DataType.INT8, p);
      const q = i8(t);
      let bad = 0;
      for (let r = 0; r < e.rows; r++) for (let c = 0; c < e.cols; c++) if (q[e.transposed ? c * e.rows + r : r * e.cols + c] !== e.q8.q[r * e.cols + c]) bad++;
      assert.is(bad, 0, `${p}: int8 values`);
      assert.equal(t.dims.map(Number), e.transposed ? [e.cols, e.rows] : e.convDims, p);
      assert.equal(Array.from(f32(inits.get(`${p}.weight_scale`)!)), Array.from(e.q8.scale), `${p}: scales`);
      assert.not.ok(inits.has(`${p}.weight`), `${p}: no f32 copy`);
    }
    // every integer node: zero point 0 for the weight; no f32 initializer of a quantizable weight remains
    for (const n of graph.node.filter((n) => n.opType === 'MatMulInteger' || n.opType === 'ConvInteger')) {
      const zp = inits.get(n.input[3])!;
      assert.ok(zp.dataType === DataType.INT8 && zp.dims.length === 0 && i8(zp)[0] === 0, 'weight zero point is int8 0');
    }
    for (const t of graph.initializer) assert.not.ok(t.dataType === DataType.FLOAT && quantizable(t.name), `${t.name} should be int8`);
    // conv 0 and the positional conv stay f32 Conv nodes
    assert.is(graph.node.filter((n) => n.opType === 'Conv').length, 2);
    assert.ok(inits.has('feature_extractor.conv_layers.0.conv.weight') && inits.has('encoder.pos_conv_embed.conv.weight'));
  });
}

/** ORT DynamicQuantizeLinear: scale = (max(0, max x) − min(0, min x)) / 255, zp = round(−min/scale), q = round(x/scale) + zp */
function checkDynamicQuant(x: Float32Array, q: Uint8Array, scale: number, zp: number): string {
  let lo = 0, hi = 0;
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (Math.abs(scale - (hi - lo) / 255) > 1e-6 * scale) return `scale ${scale} vs ${(hi - lo) / 255}`;
  if (Math.abs(zp - Math.round(-lo / scale)) > 1) return `zero point ${zp}`;
  for (let i = 0; i < x.length; i++) if (Math.abs(q[i] - (x[i] / scale + zp)) > 0.5 + 1e-3) return `value ${i}: ${q[i]} for ${x[i] / scale + zp}`;
  return '';
}

for (const name of FIXED) {
  s(`${name}: every MatMulInteger / ConvInteger node and the score scale, exact on its fetched inputs`, async () => {
    const dir = join(FIXTURES, name);
    const files = await openModelFiles(dir);
    const cfg = parseConfig(files.config);
    const w = bindWeights(cfg, files.tensors as Map<string, RawTensor>, dir, { quantize: true });
    const weights = slimwavQ8Weights(w);
    const { msg, graph } = decode(exportOnnx(files.config, files.tensors, { dtype: 'q8' }).bytes);
    const producer = new Map<string, Node>(), consumers = new Map<string, Node[]>();
    for (const n of graph.node) {
      n.output.forEach((o) => producer.set(o, n));
      n.input.forEach((i) => consumers.set(i, [...(consumers.get(i) ?? []), n]));
    }
    const only = (v: string, op: string) => {
      const c = consumers.get(v) ?? [];
      assert.ok(c.length === 1 && c[0].opType === op, `${v} → ${op}`);
      return c[0];
    };
    // integer node → [DQL input x, q, scale, zp, int32 acc, rescaled output (after the bias Add when there is one)]
    const checks = graph.node.filter((n) => n.opType === 'MatMulInteger' || n.opType === 'ConvInteger').map((n) => {
      const dql = producer.get(n.input[0])!;
      assert.is(dql.opType, 'DynamicQuantizeLinear');
      const cast = only(n.output[0], 'Cast'), mul = only(cast.output[0], 'Mul');
      const next = consumers.get(mul.output[0]) ?? [];
      const biased = next.length === 1 && next[0].opType === 'Add' && graph.initializer.some((t) => t.name === next[0].input[1] && t.name.endsWith('.bias'));
      const wname = n.input[1].slice(0, -'.weight_quantized'.length);
      return { node: n, x: dql.input[0], q: dql.output[0], scale: dql.output[1], zp: dql.output[2], out: biased ? next[0].output[0] : mul.output[0], bias: biased ? next[0].input[1] : null, w: weights.get(wname)!, wname };
    });
    assert.is(checks.length, weights.size, 'one integer node per int8 weight');
    const scores = graph.node.filter((n) => n.opType === 'Gemm' && /_scores/.test(n.output[0]));
    const extra = new Set<string>(checks.flatMap((c) => [c.x, c.q, c.scale, c.zp, c.out]));
    scores.forEach((n) => { extra.add(n.input[0]); extra.add(n.input[1]); extra.add(n.output[0]); });
    const elem = (v: string) => (checks.some((c) => c.q === v || c.zp === v) ? DataType.UINT8 : DataType.FLOAT);
    for (const v of extra) msg.graph.output.push({ name: v, type: { tensorType: { elemType: elem(v) } } });
    const bytes = onnxTypes().ModelProto.encode(msg as unknown as Record<string, unknown>).finish();
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const pcm = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
    const got = await session.run({ waveform: new ort.Tensor('float32', pcm, [1, pcm.length]) });
    await session.release();
    const inits = new Map(graph.initializer.map((t) => [t.name, t]));
    for (const c of checks) {
      const x = got[c.x].data as Float32Array, q = got[c.q].data as Uint8Array;
      const xs = (got[c.scale].data as Float32Array)[0], zp = (got[c.zp].data as Uint8Array)[0];
      assert.is(checkDynamicQuant(x, q, xs, zp), '', `${c.wname}: DynamicQuantizeLinear`);
      const out = got[c.out].data as Float32Array, dims = got[c.out].dims.map(Number);
      const bias = c.bias ? f32(inits.get(c.bias)!) : null;
      const { q8, rows, cols } = c.w;
      let worst = 0, maxOut = 0;
      const expect = (acc: number, r: number, at: number) => {
        const v = Math.fround(Math.fround(acc) * Math.fround(xs * q8.scale[r])) + (bias ? bias[r] : 0);
        worst = Math.max(worst, Math.abs(v - out[at]));
        maxOut = Math.max(maxOut, Math.abs(v));
      };
      if (c.node.opType === 'MatMulInteger') {
        const T = dims[0];
        assert.equal(dims, [T, rows]);
        for (let t = 0; t < T; t++) for (let r = 0; r < rows; r++) {
          let acc = 0;
          for (let k = 0; k < cols; k++) acc += (q[t * cols + k] - zp) * q8.q[r * cols + k];
          expect(acc, r, t * rows + r);
        }
      } else {
        const K = c.node.attribute.find((a) => a.name === 'kernel_shape')!.ints![0], S = c.node.attribute.find((a) => a.name === 'strides')!.ints![0];
        const cin = cols / K, Tin = got[c.x].dims.map(Number)[2], Tout = dims[2];
        assert.is(Tout, Math.floor((Tin - K) / S) + 1);
        for (let r = 0; r < rows; r++) for (let t = 0; t < Tout; t++) {
          let acc = 0;
          for (let ci = 0; ci < cin; ci++) for (let k = 0; k < K; k++) acc += (q[ci * Tin + t * S + k] - zp) * q8.q[r * cols + ci * K + k];
          expect(acc, r, r * Tout + t);
        }
      }
      assert.ok(worst <= 1e-5 * Math.max(1, maxOut), `${c.wname}: max|ORT − integer reference| ${worst} (max ${maxOut})`);
    }
    // the attention scale (hidden/heads)^-0.5 is the score Gemm's alpha on the int8 path
    assert.ok(scores.length > 0);
    for (const n of scores) {
      const qv = got[n.input[0]].data as Float32Array, kv = got[n.input[1]].data as Float32Array, sc = got[n.output[0]].data as Float32Array;
      const [T, d] = got[n.input[0]].dims.map(Number), a = 1 / Math.sqrt(cfg.headDim);
      let worst = 0, m = 0;
      for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += qv[i * d + k] * kv[j * d + k];
        worst = Math.max(worst, Math.abs(a * dot - sc[i * T + j]));
        m = Math.max(m, Math.abs(a * dot));
      }
      assert.ok(worst <= 1e-4 * Math.max(1, m), `${n.output[0]}: ${worst}`);
    }
  });
}

// Measured (onnxruntime-node 1.30, input.speech of each fixture): the lowest per-hidden-state cosine 0.9908
// (tiny-w2v-group), relative RMS at most 0.136; the bounds below leave margin for other CPUs' rounding.
const MIN_COSINE = 0.98, MAX_RMS_REL = 0.25;
for (const name of readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'ref.safetensors'))).sort()) {
  s(`${name}: every hidden state of the q8 graph close to slimwav on the same int8 weights`, async () => {
    const dir = join(FIXTURES, name);
    const files = await openModelFiles(dir);
    const { bytes } = exportOnnx(files.config, files.tensors, { dtype: 'q8' });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const model = await slimwavQ8(dir);
    const pcm = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
    const ours = await model.extract(pcm, { layers: 'all' });
    const out = await session.run({ waveform: new ort.Tensor('float32', pcm, [1, pcm.length]) });
    model.dispose();
    await session.release();
    assert.equal(out.hidden_states.dims.map(Number), [ours.layers.length, ours.frames, ours.dim]);
    const hs = out.hidden_states.data as Float32Array, n = ours.frames * ours.dim;
    ours.layers.forEach((h, i) => {
      const d = deviation(hs.subarray(i * n, (i + 1) * n), h);
      assert.ok(d.cosine >= MIN_COSINE && d.rmsRel <= MAX_RMS_REL, `hidden ${i}: cosine ${d.cosine.toFixed(5)}, relative RMS ${d.rmsRel.toFixed(4)}`);
    });
  });
}

s('a q8 file (int8 tensors + scales) exports the same q8 graph as its f32 model, byte for byte; as f32, dequantized', async () => {
  const dir = join(FIXTURES, 'wavlm-ragged-a');
  const files = await openModelFiles(dir);
  const w = bindWeights(parseConfig(files.config), files.tensors as Map<string, RawTensor>, dir, { quantize: true });
  const q8File = weightsToTensors(w, { q8: true });
  assert.ok([...q8File.values()].some((t) => t.dtype === 'I8'));
  const fromF32 = exportOnnx(files.config, files.tensors, { dtype: 'q8' }).bytes;
  assert.ok(Buffer.from(exportOnnx(files.config, q8File, { dtype: 'q8' }).bytes).equals(Buffer.from(fromF32)));
  // dtype f32 of a q8 file: plain Gemm / Conv on q·scale, which slimwav's f32 engine on the same values matches exactly
  const { bytes } = exportOnnx(files.config, q8File, { dtype: 'f32' });
  assert.not.ok(decode(bytes).graph.node.some((n) => n.opType === 'MatMulInteger'));
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  // slimwav's f32 engine on the dequantized weights (bound with quantize, written back without q8: q·scale)
  const model = await buildModel(files.config, weightsToTensors(w), dir, []);
  const pcm = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  const ours = await model.extract(pcm, { layers: 'all' });
  const out = await session.run({ waveform: new ort.Tensor('float32', pcm, [1, pcm.length]) });
  model.dispose();
  await session.release();
  const hs = out.hidden_states.data as Float32Array, n = ours.frames * ours.dim;
  ours.layers.forEach((h, i) => assert.is(closeTo(`hidden ${i}`, hs.subarray(i * n, (i + 1) * n), h), ''));
});

s('API: an unknown dtype is refused', async () => {
  const files = await openModelFiles(join(FIXTURES, 'tiny-w2v-group'));
  try {
    exportOnnx(files.config, files.tensors, { dtype: 'f16' as 'q8' });
    assert.unreachable('should throw');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'E_ARGS');
    assert.match((e as Error).message, /ONNX dtype must be one of f32, q8, found "f16"/);
  }
});
s.run();

// ---
function slimwav(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const c = suite('cli export-onnx --dtype');

c('--dtype q8 writes the int8 graph, smaller than f32; the summary says q8', async () => {
  const model = join(FIXTURES, 'ragged-hubert-b');
  const f = join(work, 'f.onnx'), q = join(work, 'q.onnx');
  assert.is(slimwav('export-onnx', model, '--out', f).code, 0);
  const r = slimwav('export-onnx', model, '--out', q, '--dtype', 'q8');
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /wrote .*q\.onnx: ONNX opset 17, q8 \(int8 weights\), \d+ nodes/);
  const { graph } = decode(new Uint8Array((await import('node:fs')).readFileSync(q)));
  assert.ok(graph.node.some((n) => n.opType === 'MatMulInteger') && graph.node.some((n) => n.opType === 'ConvInteger'));
  const size = (p: string) => (spawnSync('stat', ['-c', '%s', p], { encoding: 'utf8' }).stdout.trim());
  assert.ok(Number(size(q)) < Number(size(f)), `${size(q)} < ${size(f)}`);
  const session = await ort.InferenceSession.create(q);
  const out = await session.run({ waveform: new ort.Tensor('float32', new Float32Array(4000).map((_, i) => Math.sin(i / 7)), [1, 4000]) });
  assert.ok((out.last_hidden_state.data as Float32Array).every(Number.isFinite));
  await session.release();
});

c('--dtype other than f32 / q8 is refused with one line, nothing written', () => {
  for (const bad of ['f16', 'int8', '']) {
    const r = slimwav('export-onnx', join(FIXTURES, 'tiny-w2v-group'), '--out', join(work, 'bad.onnx'), '--dtype', bad);
    assert.is(r.code, 2, r.err);
    assert.match(r.err.split('\n')[0], new RegExp(`^slimwav: .*--dtype must be f32 or q8, found "${bad}"`));
    assert.not.match(r.err, /\n\s+at /);
  }
  assert.not.ok(existsSync(join(work, 'bad.onnx')));
});

c.after(() => rmSync(work, { recursive: true, force: true }));
c.run();
