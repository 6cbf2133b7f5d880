// Long inputs: the conv stack in chunks (bounded memory) computes what the one-piece conv stack computes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { load } from '../../src/index.js';
import { FIXTURES, closeTo } from '../ref/fixtures.js';

const s = suite('chunked conv stack');
// group-norm extractors need the two-pass statistics; layer-norm ones chunk directly; pre-LN and ragged too
for (const d of ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'wavlm-ragged-a']) {
  for (const budget of [4096, 20000]) {
    s(`${d}, budget ${budget} B: chunked == one piece (1e-5)`, async () => {
      const input = new Float32Array(48000);
      for (let i = 0; i < input.length; i++) input[i] = 0.4 * Math.sin(i * 0.013) + 0.3 * Math.sin(i * 0.21 + 1) + 0.05 * Math.sin(i * 1.7);
      const whole = await load(join(FIXTURES, d), { threads: 1 });
      const chunked = await load(join(FIXTURES, d), { threads: 2, convMemoryBudget: budget });
      const a = await whole.extract(input, { layers: 'all' });
      const b = await chunked.extract(input, { layers: 'all' });
      // a shorter second call reuses the plan
      const c = await chunked.extract(input.subarray(0, 30000), { layers: 'last' });
      const c1 = await whole.extract(input.subarray(0, 30000), { layers: 'last' });
      whole.dispose();
      chunked.dispose();
      assert.is(a.frames, b.frames);
      a.layers.forEach((x, i) => assert.is(closeTo(`hidden ${i}`, b.layers[i], x, 1e-5), ''));
      assert.is(closeTo('second call', c.layers[0], c1.layers[0], 1e-5), '');
    });
  }
}
s.run();
