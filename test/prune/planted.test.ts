// A teacher with planted redundancy: the pruner must remove exactly the redundant structures and keep the function.
//   layer 0, heads 1 and 3: zero value projections and out_proj columns (their output is exactly zero)
//   layer 0, FFN units 40..79 and layer 1, FFN units 0..19: dead (GELU of −30 is 0)
//   conv layer 2, channels 30..39: exact duplicates of channels 20..29 (the next layer reads each pair through one)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from '../../src/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { fromFloat32, toFloat32, type RawTensor } from '../../src/format/tensor.js';
import { countParams } from '../../src/arch/tensors.js';
import { parseConfig } from '../../src/arch/config.js';
import { prune, PRUNE_DEFAULTS } from '../../src/prune/train.js';
import { writeClips } from '../ref/clips.js';
import { FIXTURES, closeTo } from '../ref/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'slimwav-planted-'));
const SRC = join(FIXTURES, 'tiny-w2v-group');
const teacherDir = join(work, 'teacher');
mkdirSync(teacherDir);
const cfgJson = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8'));
const tensors = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'teacher').tensors;
const W = new Map<string, Float32Array>([...tensors].map(([k, t]) => [k, toFloat32(t, k)]));
const D = 48, hd = 12;
// dead heads 1 and 3 of layer 0
// (value rows and the matching out_proj columns: a dead head is then a fixed point of training, not revivable)
for (const h of [1, 3]) {
  W.get('encoder.layers.0.attention.v_proj.weight')!.fill(0, h * hd * D, (h + 1) * hd * D);
  W.get('encoder.layers.0.attention.v_proj.bias')!.fill(0, h * hd, (h + 1) * hd);
  const out = W.get('encoder.layers.0.attention.out_proj.weight')!;
  for (let r = 0; r < D; r++) out.fill(0, r * 4 * hd + h * hd, r * 4 * hd + (h + 1) * hd);
}
// dead FFN units
const dead = (l: number, a: number, b: number) => {
  W.get(`encoder.layers.${l}.feed_forward.intermediate_dense.weight`)!.fill(0, a * D, b * D);
  W.get(`encoder.layers.${l}.feed_forward.intermediate_dense.bias`)!.fill(-30, a, b);
};
dead(0, 40, 80);
dead(1, 0, 20);
// duplicated conv channels: conv 2 is [40][24][3]; conv 3 reads it as [20][40][2]
const c2 = W.get('feature_extractor.conv_layers.2.conv.weight')!, c3 = W.get('feature_extractor.conv_layers.3.conv.weight')!;
for (let j = 30; j < 40; j++) {
  const i = j - 10;
  c2.copyWithin(j * 24 * 3, i * 24 * 3, (i + 1) * 24 * 3);
  // the next layer reads each pair through the original channel only (the twin's weights folded into it), so a
  // duplicate carries nothing its original does not: removing it is free
  for (let o = 0; o < 20; o++) for (let k = 0; k < 2; k++) {
    c3[(o * 40 + i) * 2 + k] += c3[(o * 40 + j) * 2 + k];
    c3[(o * 40 + j) * 2 + k] = 0;
  }
}
const planted = new Map<string, RawTensor>([...tensors].map(([k, t]) => [k, fromFloat32(W.get(k)!, t.shape)]));
writeFileSync(join(teacherDir, 'model.safetensors'), serializeSafetensors({ tensors: planted, metadata: {} }));
writeFileSync(join(teacherDir, 'config.json'), JSON.stringify(cfgJson));
const N0 = countParams(parseConfig(cfgJson), planted);
// removable parameters: two heads (q, k, v rows with biases, out_proj columns), 60 FFN units, 10 conv channels
const headParams = 2 * hd * (D + 1) + hd * (D + 1) + D * hd;
const redundant = 2 * headParams + 60 * (2 * D + 1) + 10 * (24 * 3 + 20 * 2);

const DATA = join(work, 'data');
mkdirSync(DATA);
writeClips(DATA, { count: 10, prefix: 'c', lcg: [1664525, 1013904223], seedStep: 104729, seed0: 3,
  chirp: [0.35, 180, 55, 0.5], tone: [0.15, 1200, 90], noise: 0.08 });

const s = suite('planted redundancy');
s('exactly the planted structures go, and the student still matches the teacher', async () => {
  const r = await prune({
    ...PRUNE_DEFAULTS, mode: 'full', threads: 1, teacher: teacherDir, data: DATA, out: join(work, 'out'), targetSparsity: redundant / N0, units: ['conv', 'head', 'ffn'],
    steps: 500, finalSteps: 150, lr: 1e-4, gateLr: 0.05, cropSeconds: 0.75, batchSeconds: 1.5, checkpointEvery: 1000,
    logEvery: 1000, validEvery: 1000, log: () => undefined,
  });
  const cfg = JSON.parse(readFileSync(join(r.out, 'config.json'), 'utf8'));
  assert.equal(cfg.layer_heads[0], [0, 2], 'layer 0 keeps heads 0 and 2');
  assert.equal(cfg.layer_heads[1], [0, 1, 2, 3]);
  assert.equal(cfg.layer_intermediate_sizes, [40, 60]);
  assert.equal(cfg.layer_head_qk_dims, [[12, 12], [12, 12, 12, 12]]);
  assert.equal(cfg.layer_head_v_dims, [[12, 12], [12, 12, 12, 12]]);
  assert.equal(cfg.conv_dim, [18, 24, 30, 20, 30]);
  assert.ok(Math.abs(r.params - (N0 - redundant)) <= 0.01 * N0);
  // function kept: hidden states close to the teacher's on held-out audio
  const teacher = await load(teacherDir, { threads: 1 }), student = await load(r.out, { threads: 1 });
  const x = new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i / 7) + 0.2 * Math.sin(i / 2.3));
  const a = await teacher.extract(x, { layers: 'all' }), b = await student.extract(x, { layers: 'all' });
  teacher.dispose();
  student.dispose();
  a.layers.forEach((t, i) => assert.is(closeTo(`hidden ${i}`, b.layers[i], t, 0.05), ''));
});
s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
