// One arena layout for the engine and the memory estimate: a run grows the WebAssembly memory to exactly the page
// after the weights plus the layout's buffers, across shapes, lengths, threads, conv chunking and algorithm choices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { load } from '../../src/index.js';
import { modelBudgets, estimateArenaBytes } from '../../src/runtime/budget.js';
import { arenaLayout, arenaLayoutBytes, convChunkRanges } from '../../src/runtime/arena-layout.js';
import { parseConfig } from '../../src/arch/config.js';
import { FIXTURES } from '../ref/fixtures.js';
import { readFileSync } from 'node:fs';

const PAGE = 65536;
const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin(i * 0.013) + 0.2 * Math.sin(i * 0.31));

test('a run grows memory to exactly the weights + the shared layout (the estimate is the engine\'s own plan)', async () => {
  const cases: [string, Record<string, unknown>][] = [
    ['tiny-w2v-group', { threads: 1 }], ['tiny-w2v-group', { threads: 2, convMemoryBudget: 4096 }],
    ['tiny-hubert-layer-preln', { threads: 1, posConv: 'direct' }], ['wavlm-ragged-a', { threads: 2, posConv: 'dft' }],
    ['ragged-w2v-b', { threads: 1, winograd: false }],
  ];
  for (const [name, opts] of cases) {
    const m = await load(join(FIXTURES, name), opts);
    const mb = modelBudgets.get(m)!;
    // increasing lengths: each run re-plans for the longer input
    for (const n of [3000, 24000, 96000]) {
      const before = mb.memory.buffer.byteLength;
      await m.extract(wave(n), { layers: 'all' });
      const arena = estimateArenaBytes(mb.cfg, n, mb.opts, mb.scratch);
      const expected = Math.max(before, Math.ceil((mb.top + arena) / PAGE) * PAGE);
      assert.is(mb.memory.buffer.byteLength, expected, `${name} ${JSON.stringify(opts)} ${n} samples`);
    }
    m.dispose();
  }
});

test('the layout: conv chunking when a conv buffer passes the budget, per-thread scratch, WavLM buffers', () => {
  const cfg = parseConfig(JSON.parse(readFileSync(join(FIXTURES, 'wavlm-ragged-a', 'config.json'), 'utf8')), 'cfg');
  const k = { f32_attention_scratch_floats: (T: number) => 3 * T, f32_conv_k3s2_scratch_floats: () => 100, f32_posconv_dft_scratch_floats: () => 50 };
  const whole = arenaLayout(cfg, 32000, { threads: 2 }, k);
  const names = whole.buffers.map(([n]) => n);
  assert.is(whole.convChunk, 0);
  assert.not.ok(names.includes('convOut'));
  for (const n of ['wave', 'convA', 'convB', 'x', 'y', 'qkv', 'o', 'h', 's.0', 's.1', 'kt.1', 'pos.1', 'gru', 'relb', 'gates']) {
    assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
  }
  assert.is(whole.buffers.find(([n]) => n === 'wave')![1], 32000);
  const one = arenaLayout(cfg, 32000, { threads: 1 }, k);
  assert.not.ok(one.buffers.some(([n]) => n.endsWith('.1')));
  assert.ok(arenaLayoutBytes(one) < arenaLayoutBytes(whole));
  // a small budget: the conv stack runs in chunks, each layer's window of a chunk within the budget
  const budget = 20000;
  const chunked = arenaLayout(cfg, 32000, { threads: 1, convBudgetFloats: budget }, k);
  assert.ok(chunked.convChunk >= 1);
  const ranges = convChunkRanges(cfg.conv, 0, chunked.convChunk);
  const need = Math.max(...ranges.map((r, i) => (r[1] - r[0]) * cfg.conv[i].dim));
  assert.ok(need <= budget || chunked.convChunk === 1, `chunk ${chunked.convChunk} needs ${need}`);
  assert.is(chunked.buffers.find(([n]) => n === 'convA')![1], need);
  assert.ok(chunked.buffers.some(([n]) => n === 'convOut') && chunked.buffers.some(([n]) => n === 'projIn'));
});

test.run();
