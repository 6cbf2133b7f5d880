// The front end's block plan (arch/binding.ts frontSteps): its steps for each extractor kind and LayerNorm order,
// with and without dummy_weight and virtual zero channels; and every interpreter (engine, student, ONNX export)
// refuses a step it does not know instead of skipping it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type ModelConfig } from '../../src/arch/config.js';
import { bindWeights, frontSteps, frontStepName, type FrontStep } from '../../src/arch/binding.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { Engine } from '../../src/runtime/engine.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { buildOnnx } from '../../src/onnx/export.js';
import { Student, gateValues, trainingRuntime } from '../../src/prune/student.js';
import { FIXTURES } from '../ref/fixtures.js';
import { throwsCode } from '../ref/assert.js';

const s = suite('front plan');

const fixture = (name: string) => {
  const config = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, name, 'model.safetensors'))), name).tensors;
  return { config, cfg: parseConfig(config), tensors };
};
const show = (steps: FrontStep[]) => steps.map((st) => {
  switch (st.op) {
    case 'conv': return `conv${st.layer}:${st.norm ?? '-'}:${st.act}`;
    case 'projNorm': return st.virtualZeros ? 'projNorm:virtual' : 'projNorm';
    case 'proj': return st.prunedChannels ? 'proj:pruned' : 'proj';
    case 'norm': return `norm:${st.norm}:${st.from}>${st.to}`;
    default: return st.op;
  }
});
const bound = (name: string) => { const f = fixture(name); return show(bindWeights(f.cfg, f.tensors).frontSteps); };

s('group-norm extractor, post-LN: GroupNorm on conv layer 0 only, the encoder norm before hidden state 0', () => {
  assert.equal(bound('tiny-w2v-group'), [
    'conv0:group:gelu', 'conv1:-:gelu', 'conv2:-:gelu', 'conv3:-:gelu', 'conv4:-:gelu',
    'projNorm', 'proj', 'posConv', 'norm:encoder:x>x', 'emit',
  ]);
});

s('layer-norm extractor, post-LN: a LayerNorm on every conv layer', () => {
  assert.equal(bound('tiny-w2v-layer-postln'), [
    'conv0:layer:gelu', 'conv1:layer:gelu', 'conv2:layer:gelu', 'projNorm', 'proj', 'posConv', 'norm:encoder:x>x', 'emit',
  ]);
});

s('layer-norm extractor, pre-LN: no encoder norm in the front (the last layer applies it)', () => {
  assert.equal(bound('tiny-hubert-layer-preln'), [
    'conv0:layer:gelu', 'conv1:layer:gelu', 'conv2:layer:gelu', 'conv3:layer:gelu', 'projNorm', 'proj', 'posConv', 'emit',
  ]);
});

s('waveform normalisation, dummy_weight, no projection norm, virtual zero channels', () => {
  const { config } = fixture('tiny-w2v-group');
  const cfg = (extra: Record<string, unknown>): ModelConfig => parseConfig({ ...config, ...extra });
  const none = { dummy: null, projNorm: null, virtualZeros: false, prunedChannelWeight: null };
  const n = { weight: new Float32Array(1), bias: new Float32Array(1) }, v = new Float32Array(1);
  const tail = (steps: FrontStep[]) => show(steps).filter((x) => !x.startsWith('conv'));
  assert.equal(show(frontSteps(cfg({ do_normalize: true }), none)).slice(0, 2), ['normalize', 'conv0:group:gelu']);
  assert.equal(tail(frontSteps(cfg({}), none)), ['proj', 'posConv', 'norm:encoder:x>x', 'emit']);
  assert.equal(tail(frontSteps(cfg({}), { ...none, dummy: v, projNorm: n })), ['scale', 'projNorm', 'proj', 'posConv', 'norm:encoder:x>x', 'emit']);
  assert.equal(tail(frontSteps(cfg({}), { dummy: v, projNorm: n, virtualZeros: true, prunedChannelWeight: v })),
    ['scale', 'projNorm:virtual', 'proj:pruned', 'posConv', 'norm:encoder:x>x', 'emit']);
  // virtual zeros without a stored pruned_channel_weight: the LayerNorm still counts them, nothing is added after
  assert.equal(tail(frontSteps(cfg({}), { dummy: null, projNorm: n, virtualZeros: true, prunedChannelWeight: null })).slice(0, 2),
    ['projNorm:virtual', 'proj']);
  assert.is(frontStepName({ op: 'conv', layer: 3, norm: null, act: 'gelu' }), 'conv layer 3');
});

// ---- an unknown step is refused by every interpreter

const cfg = parseConfig({
  model_type: 'wav2vec2', conv_dim: [8, 8], conv_kernel: [10, 3], conv_stride: [5, 2], feat_extract_norm: 'group',
  hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 12,
  num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
});
const wave = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i * 0.07));
const bogus = { op: 'reverb' } as unknown as FrontStep;
/** the plan with the unknown step at `at` (before the first step of that kind) */
const withBogus = (steps: FrontStep[], before: FrontStep['op']) => {
  const i = steps.findIndex((st) => st.op === before);
  return [...steps.slice(0, i), bogus, ...steps.slice(i)];
};

s('engine: refuses an unknown front step (E_CONFIG), and an unknown layer step', async () => {
  const kk = await instantiateKernels('release');
  const e = new Engine(cfg, randomTensors(cfg, 3), kk.exports, new LinearMemory(kk.memory, kk.heapBase));
  const inner = e as unknown as { frontSteps: FrontStep[]; layers: { steps: unknown[] }[] };
  const plan = inner.frontSteps;
  e.forward(wave, { layers: [1] });
  inner.frontSteps = withBogus(plan, 'proj');
  throwsCode(() => e.forward(wave, { layers: [1] }), 'E_CONFIG', 'engine', '"reverb"');
  inner.frontSteps = plan;
  inner.layers[0].steps = [bogus, ...inner.layers[0].steps];
  throwsCode(() => e.forward(wave, { layers: [1] }), 'E_CONFIG', 'engine', '"reverb"');
});

s('ONNX export: refuses an unknown front step', () => {
  const w = bindWeights(cfg, randomTensors(cfg, 3));
  buildOnnx(w, cfg.raw as Record<string, unknown>, 17, 'f32', 'test');
  throwsCode(() => buildOnnx({ ...w, frontSteps: withBogus(w.frontSteps, 'posConv') }, cfg.raw as Record<string, unknown>, 17, 'f32', 'test'),
    'E_CONFIG', 'ONNX export', '"reverb"');
});

s('student: the front and positional rooms refuse an unknown step, forwards and backwards', async () => {
  const rt = await trainingRuntime(1);
  try {
    const st = Student.create(cfg.raw as Record<string, unknown>, randomTensors(cfg, 3), rt.exec, rt.mem);
    const g = gateValues(cfg);
    const rooms = st as unknown as { frontRoom: { w: { steps: FrontStep[] } }; posRoom: { steps: FrontStep[] } };
    const front = rooms.frontRoom.w.steps, pos = rooms.posRoom.steps;
    st.forward(wave, g, [1]);
    rooms.frontRoom.w.steps = withBogus(front, 'proj');
    throwsCode(() => st.forward(wave, g, [1]), 'E_CONFIG', 'student front', '"reverb"');
    rooms.frontRoom.w.steps = front;
    rooms.posRoom.steps = withBogus(pos, 'emit');
    throwsCode(() => st.forward(wave, g, [1]), 'E_CONFIG', 'student positional conv', '"reverb"');
    // backward walks the plan too: a forward with the known plan, then the unknown step for the backward
    rooms.posRoom.steps = pos;
    st.forward(wave, g, [1]);
    rooms.posRoom.steps = withBogus(pos, 'emit');
    const TD = st.frames(wave.length) * cfg.hidden;
    throwsCode(() => st.backward([new Float32Array(TD)], gateValues(cfg, 0)), 'E_CONFIG', 'student positional conv', '"reverb"');
    // a step of the other room is refused too (each room walks only its part of the plan)
    rooms.posRoom.steps = [{ op: 'proj', prunedChannels: false }, ...pos];
    throwsCode(() => st.forward(wave, g, [1]), 'E_CONFIG', 'student positional conv', 'proj');
  } finally {
    rt.dispose();
  }
});

s.run();
