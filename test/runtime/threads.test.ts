// Worker threads over a shared memory: the same results as one thread (within 1e-6), on every layout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, buildModel, parseConfig, SlimwavError } from '../../src/index.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { ThreadPool } from '../../src/runtime/threads.js';
import { LinearMemory } from '../../src/runtime/memory.js';

const s = suite('threads');
const DIRS = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'ref.safetensors'))).sort();

for (const d of DIRS) {
  s(`${d}: 1 thread vs 3 threads`, async () => {
    const input = readRefs(join(FIXTURES, d, 'ref.safetensors')).get('input.speech').data;
    const one = await load(join(FIXTURES, d), { threads: 1 });
    const three = await load(join(FIXTURES, d), { threads: 3 });
    assert.is(one.threads, 1);
    assert.is(three.threads, 3);
    const a = await one.extract(input, { layers: 'all' });
    const b = await three.extract(input, { layers: 'all' });
    one.dispose();
    three.dispose();
    a.layers.forEach((x, i) => assert.is(closeTo(`hidden ${i}`, b.layers[i], x, 1e-6), ''));
  });
}

s('base shape, 2 s of audio: every GEMM, attention and pos-conv split across 2 threads', async () => {
  const cfgJson = JSON.parse(readFileSync(join(FIXTURES, 'base-w2v', 'config.json'), 'utf8'));
  const cfg = parseConfig(cfgJson);
  // a shallower copy keeps the test quick; the splitting logic is the same per layer
  const small = { ...cfgJson, num_hidden_layers: 3 };
  const tensors = randomTensors(parseConfig(small), cfgJson.slimwav_init_seed);
  void cfg;
  const input = new Float32Array(32000);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.05) * 0.5 + Math.sin(i * 0.31) * 0.2;
  const one = await buildModel(small, tensors, 'base', [], { threads: 1 });
  const two = await buildModel(small, tensors, 'base', [], { threads: 2 });
  const a = await one.extract(input, { layers: 'all' });
  const b = await two.extract(input, { layers: 'all' });
  // a second call reuses the planned arena and the same workers
  const c = await two.extract(input.subarray(0, 20000), { layers: 'last' });
  one.dispose();
  two.dispose();
  a.layers.forEach((x, i) => assert.is(closeTo(`hidden ${i}`, b.layers[i], x, 1e-6), ''));
  assert.is(c.frames, 62);
});

s('mem_prefault on a worker (load, engine.ts) leaves what this thread writes into the same pages meanwhile', async () => {
  const kk = await instantiateKernels('release-shared');
  const pool = await ThreadPool.create(2, kk.module, kk.memory, kk.exports);
  try {
    const mem = new LinearMemory(kk.memory, kk.heapBase);
    const bytes = 48 << 20;
    const start = mem.allocWeights(bytes / 4);
    // the worker faults the pages in from the far end while this thread writes forward from the near end
    const started = pool.start([[], [['mem_prefault', start, bytes]]]);
    const v = new Int32Array(kk.memory.buffer, start, bytes / 4);
    for (let i = 0; i < v.length; i++) v[i] = i ^ 0x5a5a5a5a;
    pool.finish(started);
    let bad = -1;
    for (let i = 0; i < v.length && bad < 0; i++) if (v[i] !== (i ^ 0x5a5a5a5a)) bad = i;
    assert.is(bad, -1, `word ${bad} changed`);
    // the caller's list must stay empty: start() does not run kernels on this thread
    assert.throws(() => pool.start([[['mem_prefault', start, 4096]]]), /list 0/);
  } finally {
    pool.terminate();
  }
});

s('bad thread counts are refused', async () => {
  for (const t of [0, -1, 1.5, 1000]) {
    try {
      await load(join(FIXTURES, 'tiny-w2v-group'), { threads: t });
      assert.unreachable(`threads ${t} accepted`);
    } catch (err) {
      assert.instance(err, SlimwavError);
      assert.is((err as SlimwavError).code, 'E_ARGS');
    }
  }
});
s.run();
