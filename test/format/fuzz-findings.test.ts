// Findings of the long fuzz runs (`npm run fuzz -- --minutes 10`, docs/reliability.md), each kept as a regression
// case once fixed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLine, SlimwavError } from '../../src/errors.js';
import { parseConfig } from '../../src/arch/config.js';
import { checkTensors } from '../../src/arch/tensors.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { throwsCode } from '../ref/assert.js';
import { FIXTURES } from '../ref/fixtures.js';

// 2026-12-04, target q8-safetensors, seed 20261206: a mutation turned the "e" of "encoder.layers.0…" into a line
// feed; the message naming that tensor ("unexpected tensor \ncoder.layers.0.attention.out_proj.weight_scale …")
// then ran over two lines. A file's names are outside text: every message is now one line, whatever it quotes.
test('a tensor name holding a line break is named on one line (escaped)', () => {
  const dir = join(FIXTURES, 'ragged-w2v-a');
  const cfg = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const { tensors } = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'm.safetensors');
  for (const [bad, shown] of [['\ncoder.x', '\\ncoder.x'], ['a\r\u2028b', 'a\\r\\u2028b'], ['c\u0000d', 'c\\u0000d']]) {
    const t = new Map(tensors);
    t.set(bad, t.get('encoder.layer_norm.bias')!);
    throwsCode(() => checkTensors(cfg, t, 'm.safetensors'), 'E_SHAPE', `unexpected tensor ${shown}`);
  }
});

test('oneLine: control characters and line separators become escapes; other text is unchanged', () => {
  assert.is(oneLine('a\nb\tc\u007f\u0085\u2029 é ✓'), 'a\\nb\\tc\\u007f\\u0085\\u2029 é ✓');
  assert.is(new SlimwavError('E_FORMAT', 'x\ny').message, 'x\\ny');
});

test.run();
