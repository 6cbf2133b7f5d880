// Usage errors: one line naming what is wrong and where the help is; API errors in API words.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { FIXTURES } from '../ref/fixtures.js';
import { slimwav, fails } from '../ref/cli.js';
import { load } from '../../src/model.js';
import { SlimwavError } from '../../src/errors.js';

const TINY = join(FIXTURES, 'tiny-w2v-group');
const WAV = join(FIXTURES, 'audio', 'speech16k.wav');
const s = suite('usage');

/** exit 2, exactly one line on stderr, pointing at the command's help */
function oneLine(r: ReturnType<typeof slimwav>, cmd: string, ...words: string[]): void {
  fails(r, ...words);
  assert.is(r.code, 2);
  const lines = r.err.trimEnd().split('\n');
  assert.is(lines.length, 1, `one line, got:\n${r.err}`);
  assert.ok(lines[0].endsWith(`see slimwav ${cmd} --help`), lines[0]);
}

s('unknown options and missing arguments: one line and "see slimwav <cmd> --help"', () => {
  oneLine(slimwav('features', TINY, WAV, '--out', 'x.npy', '--bogus'), 'features', '--bogus', 'unknown option');
  oneLine(slimwav('inspect', TINY, '--frob'), 'inspect', '--frob');
  oneLine(slimwav('inspect'), 'inspect', '<model>');
  oneLine(slimwav('features', TINY), 'features', '<audio>');
  oneLine(slimwav('features', TINY, WAV), 'features', '--out');
  oneLine(slimwav('features', TINY, WAV, '--out'), 'features', '--out needs a value');
  oneLine(slimwav('convert', TINY), 'convert', '--out');
  oneLine(slimwav('export-onnx', TINY, '--opset', '3', '--out', 'x.onnx'), 'export-onnx', '--opset');
  oneLine(slimwav('prune', '--teacher', TINY), 'prune', '--data');
  oneLine(slimwav('bench', '--seconds', '0'), 'bench', '--seconds');
  oneLine(slimwav('bench', '--svg', 'x.png'), 'bench', '--svg');
  oneLine(slimwav('demo', 'extra'), 'demo', 'extra');
  oneLine(slimwav('inspect', TINY, 'extra'), 'inspect', 'extra');
  const unknown = slimwav('frobnicate');
  fails(unknown, 'frobnicate', 'slimwav --help');
  assert.is(unknown.err.trimEnd().split('\n').length, 1);
});

s('--threads -1 and other negative values say what is wrong with the value', () => {
  oneLine(slimwav('features', TINY, WAV, '--out', 'x.npy', '--threads', '-1'), 'features', '--threads must be a whole number', '"-1"');
  oneLine(slimwav('prune', '--teacher', TINY, '--data', 'd', '--target-sparsity', '-0.5', '--out', 'o', '--threads', '-2'), 'prune', '--threads', '"-2"');
  const r = slimwav('features', TINY, WAV, '--out', '--threads', '1');
  oneLine(r, 'features', '--out');
});

s('each command has its own --help', () => {
  for (const [cmd, words] of [['features', ['--out-dir', '--shard', '--pool', '--layer-weights']], ['inspect', ['--svg']], ['bench', ['--sparsity', '--svg']], ['demo', ['--svg']], ['export-onnx', ['--opset']]] as const) {
    const r = slimwav(cmd, '--help');
    assert.is(r.code, 0);
    assert.ok(r.out.startsWith(`usage:\n  slimwav ${cmd}`), r.out.split('\n')[1]);
    for (const w of words) assert.ok(r.out.includes(w), `${cmd} --help mentions ${w}`);
  }
});

s('API errors use API words, the CLI its flag', async () => {
  const model = await load(TINY, { threads: 1 });
  try {
    const x = new Float32Array(16000).fill(0.01);
    for (const layers of ['bogus', '1,x', 7, [0, 9], '0,9'] as unknown[]) {
      try {
        await model.extract(x, { layers: layers as 'all' });
        assert.unreachable(`layers ${JSON.stringify(layers)} accepted`);
      } catch (err) {
        assert.instance(err, SlimwavError);
        assert.is((err as SlimwavError).code, 'E_ARGS');
        assert.match((err as Error).message, /^layers/);
        assert.not.match((err as Error).message, /--/);
      }
    }
  } finally {
    model.dispose();
  }
  fails(slimwav('features', TINY, WAV, '--out', 'x.npy', '--layers', 'bogus'), '--layers must be');
});

s.run();
