// Hostile configs (a few bytes asking for a billion layers or heads) are refused before any plan is built: one
// E_CONFIG line naming config.json, in milliseconds instead of gigabytes and a native abort.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, SlimwavError } from '../../src/index.js';
import type { ErrorCode } from '../../src/errors.js';
import { rejectsCode } from '../ref/assert.js';
import { buildModel } from '../../src/model-core.js';
import { parseConfig } from '../../src/arch/config.js';
import { LIMITS, checkConfigAgainstTensors, firstNonFinite } from '../../src/arch/limits.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { fromFloat32, toFloat32, type DType, type RawTensor } from '../../src/format/tensor.js';
import { toSlimwavModel } from '../../src/arch/checkpoint.js';
import { FIXTURES } from '../ref/fixtures.js';

const SRC = join(FIXTURES, 'tiny-w2v-group');
const baseCfg = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8'));
const tensors = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'model.safetensors').tensors;
const work = mkdtempSync(join(tmpdir(), 'slimwav-limits-'));
let n = 0;

/** a model folder: the tiny fixture's tensors next to an edited config.json */
function folder(edit: Record<string, unknown>): string {
  const dir = join(work, `m${n++}`);
  mkdirSync(dir);
  copyFileSync(join(SRC, 'model.safetensors'), join(dir, 'model.safetensors'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...baseCfg, ...edit }));
  return dir;
}

/**
 * Must be refused with `code`, one line mentioning every word, well inside `ms` of this process's CPU time (not wall
 * time: on a loaded machine the wall clock says how long the test waited for a core, not how much work the refusal
 * did; an unbounded allocation or a loop over 1e9 layers would still take far more CPU than this).
 */
async function refusedFast(fn: () => unknown, code: ErrorCode, words: string[], ms = 2000): Promise<void> {
  const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
  const t0 = cpu();
  await rejectsCode((async () => fn())(), code, ...words);
  const took = cpu() - t0;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms of CPU`);
}

test('issue case: num_hidden_layers 1e9 beside a tiny model → E_CONFIG naming config.json, in ms', async () => {
  const dir = folder({ num_hidden_layers: 1_000_000_000 });
  await refusedFast(() => load(dir), 'E_CONFIG', [join(dir, 'config.json'), '"num_hidden_layers" is 1000000000', 'holds 2 encoder layers']);
  // without tensors at hand (parseConfig alone, as inspect/prune/export use it) the fixed cap refuses it
  await refusedFast(() => parseConfig({ ...baseCfg, num_hidden_layers: 1e9 }), 'E_CONFIG',
    ['config.json', '"num_hidden_layers" is 1000000000', `limit of ${LIMITS.layers}`], 200);
});

test('issue case: hidden_size = num_attention_heads = 1e8 → E_CONFIG naming config.json, in ms', async () => {
  const dir = folder({ hidden_size: 1e8, num_attention_heads: 1e8 });
  await refusedFast(() => load(dir), 'E_CONFIG', [join(dir, 'config.json'), '"hidden_size" is 100000000', 'width 48']);
  await refusedFast(() => parseConfig({ ...baseCfg, hidden_size: 1e8, num_attention_heads: 1e8 }, 'c.json'), 'E_CONFIG',
    ['c.json', '"num_attention_heads" is 100000000'], 200);
  // the same config handed to buildModel directly (the browser path) is refused as early
  await refusedFast(() => buildModel({ ...baseCfg, hidden_size: 1e8, num_attention_heads: 1e8 }, tensors, 'tiny', []), 'E_CONFIG', ['tiny:']);
});

test('layers × heads capped: 1024 layers of 1024 heads would be a million-entry plan', async () => {
  await refusedFast(() => parseConfig({ ...baseCfg, num_hidden_layers: 1024, num_attention_heads: 1024, hidden_size: 1024 }), 'E_CONFIG',
    ['config.json', '"num_hidden_layers" × "num_attention_heads" is 1048576', `limit of ${LIMITS.layerHeads}`], 200);
});

test('every capped field, and the pruned per-layer lists', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ intermediate_size: 2 ** 30 }, '"intermediate_size"'],
    [{ conv_dim: [1e9, 24, 40, 20, 30] }, 'an entry of "conv_dim"'],
    [{ conv_kernel: [1e9, 3, 3, 2, 2] }, 'an entry of "conv_kernel"'],
    [{ conv_dim: new Array(100).fill(8), conv_kernel: new Array(100).fill(2), conv_stride: new Array(100).fill(1) }, 'the length of "conv_dim"'],
    [{ num_conv_pos_embeddings: 1e7 }, '"num_conv_pos_embeddings"'],
    [{ model_type: 'wavlm', num_buckets: 1e9 }, '"num_buckets"'],
    [{ layer_heads: new Array(5000).fill([]) }, 'the length of "layer_heads"'],
    [{ layer_heads: [new Array(70000).fill(0), []] }, 'the number of entries of "layer_heads"'],
    [{ layer_intermediate_sizes: [1e12, 0] }, 'an entry of "layer_intermediate_sizes"'],
  ];
  for (const [edit, word] of cases) await refusedFast(() => parseConfig({ ...baseCfg, ...edit }), 'E_CONFIG', ['config.json', word], 500);
});

test('sizes under the caps but above the tensors present → E_CONFIG naming both files', async () => {
  const dir = folder({ num_hidden_layers: 900 });
  await refusedFast(() => load(dir), 'E_CONFIG', [join(dir, 'config.json'), '"num_hidden_layers" is 900', 'holds 2 encoder layers']);
  const wide = folder({ hidden_size: 4096, num_attention_heads: 4, num_conv_pos_embedding_groups: 4 });
  await refusedFast(() => load(wide), 'E_CONFIG', [join(wide, 'config.json'), '"hidden_size" is 4096', 'width 48']);
  const convs = folder({ conv_dim: [18, 24, 40, 20, 30, 30], conv_kernel: [10, 3, 3, 2, 2, 2], conv_stride: [5, 3, 2, 2, 2, 2] });
  await refusedFast(() => load(convs), 'E_CONFIG', ['lists 6 conv layers', 'holds 5']);
  // fewer layers than stored stays checkTensors' E_SHAPE naming the first unexpected tensor
  await refusedFast(() => load(folder({ num_hidden_layers: 1 })), 'E_SHAPE', ['unexpected tensor encoder.layers.1.']);
  assert.not.throws(() => checkConfigAgainstTensors(baseCfg, tensors, 'config.json', 'model.safetensors'));
});

test('config errors name config.json, not model.safetensors (folder with safetensors or pytorch_model.bin)', async () => {
  const dir = folder({ hidden_size: 'wide' });
  await refusedFast(() => load(dir), 'E_CONFIG', [join(dir, 'config.json'), '"hidden_size"']);
  const binDir = join(work, 'bin');
  mkdirSync(binDir);
  copyFileSync(join(FIXTURES, 'ckpt', 'hf', 'pytorch_model.bin'), join(binDir, 'pytorch_model.bin'));
  const hfCfg = JSON.parse(readFileSync(join(FIXTURES, 'ckpt', 'hf', 'config.json'), 'utf8'));
  writeFileSync(join(binDir, 'config.json'), JSON.stringify({ ...hfCfg, layer_norm_eps: -1 }));
  await refusedFast(() => load(binDir), 'E_CONFIG', [join(binDir, 'config.json'), '"layer_norm_eps"']);
  // a checkpoint that carries its own config keeps naming the checkpoint
  assert.throws(() => toSlimwavModel(tensors, undefined, 'w.pth', { ...baseCfg, hidden_size: 0 }), (e: SlimwavError) => e.message.startsWith('w.pth:'));
});

test('published shapes stay well inside the caps (XLS-R 2B)', () => {
  const xls2b = { ...baseCfg, hidden_size: 1920, num_hidden_layers: 48, num_attention_heads: 16, intermediate_size: 7680, num_conv_pos_embedding_groups: 16 };
  const c = parseConfig(xls2b);
  assert.is(c.layers.length, 48);
  assert.is(c.layers[47].heads.length, 16);
});


test('firstNonFinite agrees with Number.isFinite on every F16 pattern and random F32/F64/BF16 bit patterns', () => {
  const check = (dtype: DType, bytes: Uint8Array) => {
    const t: RawTensor = { dtype, shape: [bytes.length / { F32: 4, F64: 8, F16: 2, BF16: 2 }[dtype as 'F32']!], data: bytes };
    const ref = dtype === 'F64' ? new Float64Array(bytes.slice().buffer) : toFloat32(t, 'x');
    const want = ref.findIndex((v) => !Number.isFinite(v));
    assert.is(firstNonFinite(t), want, dtype);
  };
  // all 65536 half and bfloat patterns, one at a time in a finite array
  for (const dtype of ['F16', 'BF16'] as const) {
    for (let h = 0; h < 65536; h += 1) {
      const b = new Uint8Array(6); // [1.0, h, 1.0]
      const one = dtype === 'F16' ? 0x3c00 : 0x3f80;
      b[0] = one & 0xff; b[1] = one >> 8; b[2] = h & 0xff; b[3] = h >> 8; b[4] = one & 0xff; b[5] = one >> 8;
      const t: RawTensor = { dtype, shape: [3], data: b };
      const v = toFloat32(t, 'x')[1];
      assert.is(firstNonFinite(t), Number.isFinite(v) ? -1 : 1, `${dtype} 0x${h.toString(16)}`);
    }
  }
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
  for (let r = 0; r < 300; r++) {
    for (const dtype of ['F32', 'F64'] as const) {
      const b = Uint8Array.from({ length: dtype === 'F32' ? 64 : 128 }, rnd);
      check(dtype, b);
    }
  }
  assert.is(firstNonFinite({ dtype: 'I64', shape: [1], data: new Uint8Array(8).fill(0xff) }), -1, 'integers are never NaN');
});

test('NaN / Inf weights: refused at load with the tensor name, or loaded with one warning when allowed', async () => {
  const table = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'model.safetensors');
  const poisoned = (name: string, value: number, dtype: 'F32' | 'F16' = 'F32') => {
    const dir = join(work, `nan${n++}`);
    mkdirSync(dir);
    const t = new Map(table.tensors);
    const w = toFloat32(t.get(name)!, name).slice();
    w[w.length - 1] = value;
    t.set(name, fromFloat32(w, t.get(name)!.shape, dtype));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors({ tensors: t, metadata: {} }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(baseCfg));
    return dir;
  };
  const q = 'encoder.layers.1.attention.q_proj.weight';
  const last = toFloat32(table.tensors.get(q)!, q).length - 1;
  const dir = poisoned(q, NaN);
  await refusedFast(() => load(dir), 'E_SHAPE', [join(dir, 'model.safetensors'), `tensor ${q}`, `element ${last}`, 'allowNonFinite']);
  await refusedFast(() => load(poisoned('encoder.layer_norm.bias', -Infinity, 'F16')), 'E_SHAPE', ['tensor encoder.layer_norm.bias']);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (s: string) => warnings.push(s);
  try {
    const m = await load(dir, { allowNonFinite: true, threads: 1 });
    const f = await m.extract(new Float32Array(4000).map((_, i) => Math.sin(i / 7)), { layers: [0, 2] });
    m.dispose();
    assert.ok(f.layers[0].every(Number.isFinite), 'hidden state 0 does not see layer 1');
    assert.ok(f.layers[1].some(Number.isNaN), 'the NaN reaches the output it feeds');
  } finally {
    console.warn = warn;
  }
  assert.is(warnings.length, 1);
  assert.ok(warnings[0].includes(q) && warnings[0].includes('NaN'), warnings[0]);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
