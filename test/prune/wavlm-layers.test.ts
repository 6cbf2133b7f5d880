// Pruning a WavLM with 0 and with 1 encoder layer: the relative-bias rule (layer 0 holds the embedding, so a model
// without layers has none) is the binding's, shared by the pruner; the pruned model loads, runs, and a student of it
// computes what the engine computes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, parseConfig } from '../../src/index.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { hasRelativeBias } from '../../src/arch/binding.js';
import { serializeSafetensors } from '../../src/format/safetensors.js';
import { openModelFiles } from '../../src/arch/model-files.js';
import { prune, PRUNE_DEFAULTS } from '../../src/prune/train.js';
import { Student, gateValues, trainingRuntime } from '../../src/prune/student.js';
import { writeClips } from '../ref/clips.js';
import { closeTo } from '../ref/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'slimwav-wavlm-layers-'));
const DATA = join(work, 'data');
mkdirSync(DATA);
writeClips(DATA, { count: 6, prefix: 'w', lcg: [1103515245, 12345], seedStep: 4099, seed0: 3,
  chirp: [0.3, 180, 50, 0.3], tone: [0.2, 700, 97], noise: 0.1 });

const s = suite('WavLM with 0 and 1 layers');

function teacher(layers: number): string {
  const config = {
    model_type: 'wavlm', conv_dim: [16, 20, 24], conv_kernel: [10, 3, 3], conv_stride: [5, 2, 2], feat_extract_norm: 'group',
    hidden_size: 32, num_hidden_layers: layers, num_attention_heads: 4, intermediate_size: 48,
    num_conv_pos_embeddings: 8, num_conv_pos_embedding_groups: 4, num_buckets: 32, max_bucket_distance: 64,
  };
  const dir = join(work, `teacher-${layers}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const tensors = randomTensors(parseConfig(config), 40 + layers);
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors({ tensors, metadata: {} }));
  return dir;
}

const wave = Float32Array.from({ length: 6000 }, (_, i) => Math.sin(i / 11) * 0.5 + Math.sin(i / 3.1) * 0.2);

for (const layers of [0, 1]) {
  s(`${layers} layer(s): prune, load, run; student = engine`, async () => {
    const dir = teacher(layers);
    assert.is(hasRelativeBias(parseConfig((await openModelFiles(dir)).config)), layers > 0);
    const r = await prune({
      ...PRUNE_DEFAULTS, mode: 'full', finalSteps: 0, teacher: dir, data: DATA, out: join(work, `out-${layers}`), targetSparsity: 0.3, steps: 12,
      gateLr: 0.25, cropSeconds: 0.4, batchSeconds: 0.8, checkpointEvery: 1000, logEvery: 1000, validEvery: 1000, log: () => undefined,
    });
    assert.ok(r.params < r.teacherParams, `${r.params} < ${r.teacherParams}`);
    const m = await load(r.out, { threads: 1 });
    assert.is(m.config.numLayers, layers);
    const out = await m.extract(wave, { layers: 'all' });
    m.dispose();
    assert.is(out.layers.length, layers + 1);
    assert.ok(out.layers.every((l) => l.length > 0 && l.every(Number.isFinite)));

    const files = await openModelFiles(r.out);
    const rt = await trainingRuntime(1, 'release');
    try {
      const cfg = parseConfig(files.config);
      const st = Student.create(files.config, files.tensors, rt.exec, rt.mem);
      const f = st.forward(wave, gateValues(cfg, 1), Array.from({ length: layers + 1 }, (_, i) => i));
      out.layers.forEach((h, i) => assert.is(closeTo(`hidden ${i}`, f.hidden[i], h, 1e-5), ''));
    } finally {
      rt.dispose();
    }
  });
}

s.run();
