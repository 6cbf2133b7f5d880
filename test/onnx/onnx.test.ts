// ONNX export: the exported graph, run by onnxruntime-node (CPU EP), gives slimwav's own hidden states on every
// architecture variant (post-LN, pre-LN, ragged heads, WavLM), at two input lengths from one session; plus the
// export-onnx command and its errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildModel, load, parseConfig } from '../../src/index.js';
import { compact } from '../../src/prune/index.js';
import { openModelFiles } from '../../src/arch/model-files.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'slimwav.js');
const work = mkdtempSync(join(tmpdir(), 'slimwav-onnx-'));

/** a second input of another length: a chirp plus the start of the speech clip */
function otherInput(speech: Float32Array, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.3 * Math.sin(0.002 * i * i / n * 400) + 0.5 * speech[i % speech.length];
  return x;
}

async function runOnnx(session: ort.InferenceSession, pcm: Float32Array) {
  const out = await session.run({ waveform: new ort.Tensor('float32', pcm, [1, pcm.length]) });
  return { hs: out.hidden_states, last: out.last_hidden_state };
}

/** every hidden state of the ONNX graph equals slimwav's, within 1e-4·max(1, max|ours|) */
async function compare(bytes: Uint8Array, model: Awaited<ReturnType<typeof load>>, inputs: Float32Array[]): Promise<string[]> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const problems: string[] = [];
  try {
    for (const pcm of inputs) {
      const ours = await model.extract(pcm, { layers: 'all' });
      const { hs, last } = await runOnnx(session, pcm);
      const L1 = model.config.numLayers + 1;
      assert.equal(hs.dims, [L1, ours.frames, ours.dim], `hidden_states shape for ${pcm.length} samples`);
      assert.equal(last.dims, [ours.frames, ours.dim]);
      const data = hs.data as Float32Array, n = ours.frames * ours.dim;
      ours.layers.forEach((h, i) => {
        const msg = closeTo(`${pcm.length} samples, hidden ${i}`, data.subarray(i * n, (i + 1) * n), h);
        if (msg) problems.push(msg);
      });
      const msg = closeTo(`${pcm.length} samples, last_hidden_state`, last.data as Float32Array, ours.layers[L1 - 1]);
      if (msg) problems.push(msg);
    }
  } finally {
    await session.release();
  }
  return problems;
}

const s = suite('onnx export parity (onnxruntime-node CPU)');

for (const name of ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'ragged-hubert-b', 'wavlm-ragged-a']) {
  s(`${name}: every hidden state on input.speech and on a different length`, async () => {
    const dir = join(FIXTURES, name);
    const files = await openModelFiles(dir);
    const { bytes } = exportOnnx(files.config, files.tensors, { source: dir });
    const speech = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
    const model = await load(dir);
    const problems = await compare(bytes, model, [speech, otherInput(speech, Math.round(speech.length * 0.61) + 77)]);
    model.dispose();
    assert.equal(problems, []);
  });
}

// every other fixture with a reference input (dense post-LN layer-norm extractor, the other ragged and WavLM layouts)
const NAMED = new Set(['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'ragged-hubert-b', 'wavlm-ragged-a']);
for (const name of readdirSync(FIXTURES).filter((d) => !NAMED.has(d) && existsSync(join(FIXTURES, d, 'ref.safetensors'))).sort()) {
  s(`${name}: every hidden state on input.speech`, async () => {
    const dir = join(FIXTURES, name);
    const files = await openModelFiles(dir);
    const { bytes } = exportOnnx(files.config, files.tensors, { source: dir });
    const model = await load(dir);
    const problems = await compare(bytes, model, [readRefs(join(dir, 'ref.safetensors')).get('input.speech').data]);
    model.dispose();
    assert.equal(problems, []);
  });
}

s('opset 21 graph (ReduceMean axes as input) on a WavLM model whose heads have query/key width 0', async () => {
  const dir = join(FIXTURES, 'wavlm-ragged-b');
  const files = await openModelFiles(dir);
  const { bytes, opset } = exportOnnx(files.config, files.tensors, { opset: 21 });
  assert.is(opset, 21);
  const speech = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  const model = await load(dir);
  const problems = await compare(bytes, model, [speech.subarray(0, 9000)]);
  model.dispose();
  assert.equal(problems, []);
});

s('the fixtures above cover qk-width-0 heads with and without a position bias, and removed blocks', () => {
  const cfgOf = (d: string) => parseConfig(JSON.parse(readFileSync(join(FIXTURES, d, 'config.json'), 'utf8')));
  const w2v = cfgOf('ragged-w2v-b'), wavlm = cfgOf('wavlm-ragged-a');
  assert.ok(w2v.layers.some((L) => L.qkDims.includes(0)), 'ragged-w2v-b has a qk-0 head (uniform average)');
  assert.ok(wavlm.layers.some((L) => L.qkDims.includes(0)), 'wavlm-ragged-a has a qk-0 head under the bias');
  assert.ok(wavlm.layers.some((L) => L.heads.length === 0), 'wavlm-ragged-a has a layer without attention');
});

s('DPHuBERT dummy_weight and do_normalize', async () => {
  const files = await openModelFiles(join(FIXTURES, 'ckpt', 'dphubert.pth'));
  assert.ok(files.tensors.has('feature_extractor.dummy_weight'));
  const speech = readRefs(join(FIXTURES, 'tiny-w2v-group', 'ref.safetensors')).get('input.speech').data;
  for (const doNormalize of [false, true]) {
    const config = { ...files.config, do_normalize: doNormalize };
    const { bytes } = exportOnnx(config, files.tensors);
    const model = await buildModel(config, files.tensors, 'dphubert', []);
    const scaled = speech.map((v) => 3 * v + 0.1); // normalisation has something to undo
    assert.equal(await compare(bytes, model, [scaled]), [], `do_normalize ${doNormalize}`);
    model.dispose();
  }
});

s('compacted last conv layer: virtual-zero LayerNorm + pruned_channel_weight', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const files = await openModelFiles(dir);
  const cfg = parseConfig(files.config);
  const last = cfg.conv.length - 1;
  const conv = cfg.conv.map((l, i) => Array.from({ length: l.dim }, (_, c) => i !== last || c % 3 !== 1));
  const res = compact(files.config, files.tensors as Map<string, RawTensor>, { conv });
  assert.ok(res.tensors.has('feature_projection.pruned_channel_weight'));
  assert.ok((res.config.feat_proj_layer_norm_size as number) > parseConfig(res.config).conv[last].dim);
  const { bytes } = exportOnnx(res.config, res.tensors);
  const model = await buildModel(res.config, res.tensors, 'compacted', []);
  const speech = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  assert.equal(await compare(bytes, model, [speech, speech.subarray(0, 5003)]), []);
  model.dispose();
});

s('graph contract: input/output names and symbolic shapes, opset, weight norm folded', async () => {
  const files = await openModelFiles(join(FIXTURES, 'ragged-w2v-a')); // group norm, ragged
  const m = decodeModel(exportOnnx(files.config, files.tensors).bytes) as {
    irVersion: number; opsetImport: { version: number }[];
    graph: { input: { name: string }[]; output: { name: string }[]; node: { opType: string }[]; initializer: { name: string }[] };
  };
  assert.is(m.irVersion, 8);
  assert.is(m.opsetImport[0].version, 17);
  assert.equal(m.graph.input.map((i) => i.name), ['waveform']);
  assert.equal(m.graph.output.map((o) => o.name), ['hidden_states', 'last_hidden_state']);
  const ops = new Set(m.graph.node.map((n) => n.opType));
  for (const op of ['Conv', 'InstanceNormalization', 'LayerNormalization', 'Erf', 'Softmax', 'Gemm', 'MatMul']) assert.ok(ops.has(op), op);
  assert.ok(!m.graph.initializer.some((t) => /weight_[gv]$/.test(t.name)), 'weight norm is folded');
  const session = await ort.InferenceSession.create(exportOnnx(files.config, files.tensors).bytes);
  assert.equal(session.inputNames, ['waveform']);
  assert.equal(session.outputNames, ['hidden_states', 'last_hidden_state']);
  await session.release();
});

s('API errors: bad opset, inconsistent tensors', () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.throws(() => exportOnnx(config, new Map(), { opset: 16 }), /opset must be an integer from 17 to 21/);
  assert.throws(() => exportOnnx(config, new Map(), { source: 'x' }), /x: missing tensor/);
});
s.run();

// ---
function slimwav(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function fails(r: ReturnType<typeof slimwav>, code: number, ...words: string[]) {
  assert.is(r.code, code, `exit code (stderr: ${r.err})`);
  const first = r.err.split('\n')[0];
  assert.match(first, /^slimwav: /);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  for (const w of words) assert.ok(first.includes(w), `"${first}" should mention "${w}"`);
}
const leftovers = () => readdirSync(work).filter((f) => !f.endsWith('.onnx') || f.includes('.tmp'));

const c = suite('cli export-onnx');

c('writes a graph onnxruntime runs; the summary names the contract', async () => {
  const out = join(work, 'm.onnx');
  const r = slimwav('export-onnx', join(FIXTURES, 'tiny-hubert-layer-preln'), '--out', out, '--opset', '18');
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /wrote .*m\.onnx: ONNX opset 18, \d+ nodes/);
  assert.match(r.err, /hidden_states \[4, frames, 40\]/);
  const session = await ort.InferenceSession.create(out);
  const { hs } = await runOnnx(session, new Float32Array(4000).map((_, i) => Math.sin(i / 7)));
  assert.is(hs.dims[0], 4);
  await session.release();
});

c('errors: missing model, no/bad --out, missing folder, bad opset; nothing left behind', () => {
  const tiny = join(FIXTURES, 'tiny-w2v-group');
  fails(slimwav('export-onnx', join(work, 'nope'), '--out', join(work, 'a.onnx')), 1, 'nope', 'no such model');
  fails(slimwav('export-onnx', tiny), 2, '--out');
  fails(slimwav('export-onnx', tiny, '--out', join(work, 'a.txt')), 2, '.onnx', 'a.txt');
  fails(slimwav('export-onnx', tiny, '--out', join(work, 'missing', 'a.onnx')), 1, 'missing', 'does not exist');
  fails(slimwav('export-onnx', tiny, '--out', join(work, 'a.onnx'), '--opset', '12'), 2, '--opset', '12');
  fails(slimwav('export-onnx', tiny, '--out', join(work, 'a.onnx'), '--bogus'), 2, 'bogus');
  fails(slimwav('export-onnx', '--out', join(work, 'a.onnx')), 2, '<model>');
  assert.not.ok(existsSync(join(work, 'a.onnx')));
  assert.equal(leftovers(), []);
});

c.after(() => rmSync(work, { recursive: true, force: true }));
c.run();
