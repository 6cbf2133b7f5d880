// load(): every way a model folder can be wrong is refused with one SlimwavError naming the tensor or field.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, SlimwavError } from '../../src/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import type { TensorTable } from '../../src/format/tensor.js';
import { fromFloat32, toFloat32 } from '../../src/format/tensor.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

const SRC = join(FIXTURES, 'tiny-w2v-group');
const work = mkdtempSync(join(tmpdir(), 'slimwav-load-'));
let n = 0;

function variant(edit: (t: TensorTable, cfg: Record<string, unknown>) => void): string {
  const dir = join(work, `m${n++}`);
  const table = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'model.safetensors');
  const copy: TensorTable = { tensors: new Map(table.tensors), metadata: { ...table.metadata } };
  const cfg = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8'));
  edit(copy, cfg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(copy));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}


async function refused(path: string, code: string, ...words: string[]) {
  try {
    await load(path);
  } catch (err) {
    assert.instance(err, SlimwavError);
    const e = err as SlimwavError;
    assert.is(e.code, code, e.message);
    assert.not.match(e.message, /\n/);
    for (const w of words) assert.ok(e.message.includes(w), `"${e.message}" should mention "${w}"`);
    return;
  }
  assert.unreachable(`${path} loaded but should have been refused`);
}

const s = suite('load');

s('a clean folder loads and reports params counted from the tensors', async () => {
  const m = await load(SRC);
  const table = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'x');
  let count = 0;
  for (const t of table.tensors.values()) count += t.shape.reduce((a, b) => a * b, 1);
  assert.is(m.info.params, count);
  assert.is(m.config.numLayers, 2);
  m.dispose();
});

s('missing tensor', () => refused(variant((t) => t.tensors.delete('encoder.layers.1.attention.k_proj.weight')), 'E_SHAPE', 'encoder.layers.1.attention.k_proj.weight', 'missing', '[48, 48]'));
s('extra tensor', () => refused(variant((t) => t.tensors.set('encoder.layers.7.foo', fromFloat32(new Float32Array(3), [3]))), 'E_SHAPE', 'encoder.layers.7.foo', 'unexpected'));
s('shape disagrees with the config', () => refused(variant((_, c) => { c.intermediate_size = 81; }), 'E_SHAPE', 'intermediate_dense', '[80]', '[81]'));
s('config field impossible', () => refused(variant((_, c) => { c.num_attention_heads = 5; }), 'E_CONFIG', 'num_attention_heads'));
s('config missing field', () => refused(variant((_, c) => { delete c.hidden_size; }), 'E_CONFIG', 'hidden_size'));
s('unknown model_type', () => refused(variant((_, c) => { c.model_type = 'whisper'; }), 'E_CONFIG', 'whisper'));
s('integer dtype', () => refused(variant((t) => {
  const w = t.tensors.get('encoder.layer_norm.bias')!;
  t.tensors.set('encoder.layer_norm.bias', { dtype: 'I32', shape: w.shape, data: new Uint8Array(w.data.length) });
}), 'E_SHAPE', 'encoder.layer_norm.bias', 'I32'));
s('truncated file', async () => {
  const dir = variant(() => undefined);
  const f = join(dir, 'model.safetensors');
  const b = readFileSync(f);
  writeFileSync(f, b.subarray(0, b.length - 100));
  await refused(dir, 'E_FORMAT', 'model.safetensors');
});
s('header lies about offsets', async () => {
  const dir = variant(() => undefined);
  const f = join(dir, 'model.safetensors');
  const b = Buffer.from(readFileSync(f));
  const hlen = Number(b.readBigUInt64LE(0));
  const header = b.subarray(8, 8 + hlen).toString('utf8');
  const lied = header.replace(/"data_offsets":\[(\d+),(\d+)\]/, (_, a, e) => `"data_offsets":[${a},${Number(e) + 4000000}]`);
  assert.is.not(lied, header);
  const nb = Buffer.concat([b.subarray(0, 8), Buffer.from(lied.padEnd(hlen, ' ')), b.subarray(8 + hlen)]);
  nb.writeBigUInt64LE(BigInt(Math.max(hlen, lied.length)), 0);
  writeFileSync(f, lied.length <= hlen ? nb : Buffer.concat([nb.subarray(0, 8), Buffer.from(lied), b.subarray(8 + hlen)]));
  await refused(dir, 'E_FORMAT', 'model.safetensors');
});
s('folder without config.json / without weights / missing path', async () => {
  const dir = join(work, 'empty');
  mkdirSync(dir, { recursive: true });
  await refused(dir, 'E_IO', 'config.json');
  copyFileSync(join(SRC, 'config.json'), join(dir, 'config.json'));
  await refused(dir, 'E_IO', 'model.safetensors');
  await refused(join(work, 'nope'), 'E_IO', 'nope');
});

s('F16 and BF16 weights load and compute in f32 (close to the F32 model)', async () => {
  const refs = readRefs(join(SRC, 'ref.safetensors'));
  const input = refs.get('input.speech').data;
  for (const dtype of ['F16', 'BF16'] as const) {
    const dir = variant((t) => {
      for (const [k, v] of t.tensors) {
        const f = toFloat32(v);
        if (dtype === 'F16') t.tensors.set(k, fromFloat32(f, v.shape, 'F16'));
        else {
          const u = new Uint32Array(f.buffer);
          const h = new Uint16Array(f.length);
          for (let i = 0; i < f.length; i++) h[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
          t.tensors.set(k, { dtype: 'BF16', shape: v.shape, data: new Uint8Array(h.buffer) });
        }
      }
    });
    const m = await load(dir);
    const out = await m.extract(input, { layers: 'last' });
    m.dispose();
    const ref = refs.get('hidden.speech.2').data;
    // rounding the weights perturbs the output a little, but nowhere near a wrong result
    assert.is(closeTo(dtype, out.layers[0], ref, dtype === 'F16' ? 1e-2 : 1e-1), '');
    assert.ok(closeTo(dtype, out.layers[0], ref, 1e-7) !== '', 'weights were really rounded');
  }
});

s('extract() refuses bad input', async () => {
  const m = await load(SRC);
  const bad = async (x: unknown, code: string, word: string) => {
    try {
      await m.extract(x as Float32Array);
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, SlimwavError);
      assert.is((err as SlimwavError).code, code);
      assert.ok((err as Error).message.includes(word), (err as Error).message);
    }
  };
  await bad(new Float32Array(0), 'E_AUDIO', 'empty');
  await bad(new Float32Array(100), 'E_AUDIO', 'at least');
  const nan = new Float32Array(4000); nan[123] = NaN;
  await bad(nan, 'E_AUDIO', '123');
  const inf = new Float32Array(4000); inf[7] = -Infinity;
  await bad(inf, 'E_AUDIO', '7');
  await bad([1, 2, 3], 'E_ARGS', 'Float32Array');
  try { await m.extract(new Float32Array(4000), { layers: [3] }); assert.unreachable(); } catch (err) { assert.is((err as SlimwavError).code, 'E_ARGS'); }
  m.dispose();
  await bad(new Float32Array(4000), 'E_ARGS', 'disposed');
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
