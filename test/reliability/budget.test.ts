// Memory limits as errors up front: the estimate is an upper bound of what a run really grows the WebAssembly memory
// to, an input just inside a maxMemory cap runs and one just over it is one E_MEMORY line, as is a model too big to load.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { load } from '../../src/index.js';
import type { ErrorCode } from '../../src/errors.js';
import { rejectsCode } from '../ref/assert.js';
import { estimateRunBytes, modelBudgets } from '../../src/runtime/budget.js';
import { buildModel } from '../../src/model-core.js';
import { parseConfig } from '../../src/arch/config.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { FIXTURES } from '../ref/fixtures.js';

const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin(i * 0.013) + 0.2 * Math.sin(i * 0.31));

/** rejected with `code`, one line naming every word; the message */
const refused = async (p: Promise<unknown>, code: ErrorCode, ...words: string[]) => (await rejectsCode(p, code, ...words)).message;

test('the estimate bounds the memory a run grows to (shapes × lengths × threads × conv chunking)', async () => {
  const rows: string[] = [];
  const cases: [string, Record<string, unknown>][] = [
    ['tiny-w2v-group', { threads: 1 }], ['tiny-w2v-group', { threads: 2 }], ['tiny-w2v-group', { threads: 1, convMemoryBudget: 4096 }],
    ['tiny-hubert-layer-preln', { threads: 1, posConv: 'direct' }], ['wavlm-ragged-a', { threads: 2 }], ['ragged-w2v-b', { threads: 1, winograd: false }],
  ];
  for (const [name, opts] of cases) {
    for (const n of [3000, 24000, 96000]) {
      const m = await load(join(FIXTURES, name), opts);
      const mb = modelBudgets.get(m)!;
      const est = estimateRunBytes(mb, n);
      const before = mb.memory.buffer.byteLength;
      await m.extract(wave(n), { layers: 'all' });
      const after = mb.memory.buffer.byteLength;
      m.dispose();
      assert.ok(after <= est, `${name} ${JSON.stringify(opts)} ${n} samples: grew to ${after} > estimate ${est}`);
      // and it is a useful bound: the arena estimate is within 2× (+ a page per thread) of the real growth
      const grown = after - mb.top, estArena = est - mb.top;
      assert.ok(estArena <= 2 * grown + (mb.opts.threads + 1) * 65536, `${name} ${n}: estimate ${estArena} vs grown ${grown}`);
      rows.push(`${name} ${n}: ${after} ≤ ${est} (from ${before})`);
    }
  }
});

test('maxMemory: an input just inside the cap runs, just over it is E_MEMORY with what to change', async () => {
  const path = join(FIXTURES, 'tiny-w2v-group');
  const probe = await load(path, { threads: 1 });
  const n = 64000;
  const need = estimateRunBytes(modelBudgets.get(probe)!, n);
  probe.dispose();
  const inside = await load(path, { threads: 1, maxMemory: need });
  const f = await inside.extract(wave(n));
  assert.ok(f.frames > 0);
  assert.ok(modelBudgets.get(inside)!.memory.buffer.byteLength <= need, 'the run stayed inside the cap');
  inside.dispose();
  const over = await load(path, { threads: 1, maxMemory: need - 1 });
  const msg = await refused(over.extract(wave(n)), 'E_MEMORY', '4.0 s of audio needs', 'maxMemory', 'fit', 'convMemoryBudget', 'shorter input');
  assert.not.ok(msg.includes('fewer threads'), 'one thread already');
  // the hinted length does fit
  const fits = Number(/inputs up to ([\d.]+) s fit/.exec(msg)?.[1]);
  assert.ok(fits > 0 && fits < 4, msg);
  await over.extract(wave(Math.floor(fits * 16000)));
  over.dispose();
  // threaded (shared-memory build): its per-thread scratch counts, and the hint says so
  const probe2 = await load(path, { threads: 2 });
  const need2 = estimateRunBytes(modelBudgets.get(probe2)!, n);
  probe2.dispose();
  const over2 = await load(path, { threads: 2, maxMemory: need2 - 1 });
  await refused(over2.extract(wave(n)), 'E_MEMORY', 'fewer threads');
  over2.dispose();
});

test('a model that cannot fit is refused at load (E_MEMORY naming the file); bad maxMemory is E_ARGS', async () => {
  const path = join(FIXTURES, 'wavlm-ragged-a');
  await refused(load(path, { maxMemory: 65536 }), 'E_MEMORY', path, 'packed weights need', 'maxMemory');
  await refused(load(path, { maxMemory: -1 }), 'E_ARGS', 'maxMemory');
  await refused(load(path, { maxMemory: Number.NaN }), 'E_ARGS', 'maxMemory');
});

test('an input beyond the wasm32 limit is E_MEMORY up front, not a failure inside memory.grow', async () => {
  // one layer with a 65536-wide FFN: its [frames × 65536] activation passes 4 GiB at 10 minutes of audio
  const cfg = { ...JSON.parse(readFileSync(join(FIXTURES, 'tiny-w2v-group', 'config.json'), 'utf8')), num_hidden_layers: 1, intermediate_size: 65536 };
  const m = await buildModel(cfg, randomTensors(parseConfig(cfg), 3), 'wide-ffn', [], { threads: 1 });
  // in one pass (the default runs 600 s in 23 s windows, which fit: test/runtime/chunked.test.ts)
  await refused(m.extract(wave(16000 * 600), { chunk: 'off' }), 'E_MEMORY', '600.0 s of audio needs', 'wasm32', 'inputs up to');
  m.dispose();
});

test.run();
