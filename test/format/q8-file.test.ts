// q8 model files (docs/format.md "int8 weights"): convert --dtype q8 writes exactly arch/quant.ts's int8 values and
// scales, a q8 file loads and runs, its size is what the format says, q8 ⇄ f32 conversions are exact, and every
// malformed q8 table is refused with a code and one line naming the tensor.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from '../../src/index.js';
import { convertModel } from '../../src/cli/convert.js';
import { parseConfig, type ModelConfig } from '../../src/arch/config.js';
import { bindWeights, storableInt8, tensorSpecs, weightsToTensors } from '../../src/arch/binding.js';
import { checkTensors, countParams, storageDType } from '../../src/arch/tensors.js';
import { dequantizeRows, quantizeRows, scaleName } from '../../src/arch/quant.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { fromFloat32, numel, toFloat32, type RawTensor } from '../../src/format/tensor.js';
import { rejectsCode, throwsCode } from '../ref/assert.js';
import { FIXTURES, maxDiff } from '../ref/fixtures.js';
import { hiddenStates, REF_CLIPS } from '../ref/hidden.js';

const s = suite('q8 files');
const work = mkdtempSync(join(tmpdir(), 'slimwav-q8-'));
let n = 0;
const fresh = (suffix = '') => join(work, `m${n++}${suffix}`);
const readTable = (f: string) => parseSafetensors(new Uint8Array(readFileSync(f)), f);
const i8 = (t: RawTensor) => Array.from(new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
const bytesEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const CLIPS = REF_CLIPS;

function fixture(name: string) {
  const dir = join(FIXTURES, name);
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return { dir, json, cfg: parseConfig(json), tensors: readTable(join(dir, 'model.safetensors')).tensors };
}

const FIXTURE_NAMES = ['ragged-w2v-a', 'wavlm-ragged-a', 'tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-hubert-b'];

for (const name of FIXTURE_NAMES) {
  s(`${name}: convert --dtype q8 writes quantizeRows' int8 values and scales, the rest F32 byte for byte`, async () => {
    const { dir, cfg, tensors } = fixture(name);
    const out = fresh();
    const res = await convertModel(dir, out, { dtype: 'q8' });
    assert.ok(res.notes.some((x) => /quantized \d+ weights to int8/.test(x)), JSON.stringify(res.notes));
    const table = readTable(join(out, 'model.safetensors'));
    assert.is(table.metadata.slimwav_dtype, 'q8');
    let quantized = 0;
    for (const [tn, t] of tensors) {
      const got = table.tensors.get(tn)!;
      assert.ok(got, `${tn} written`);
      assert.equal(got.shape, t.shape, tn);
      if (storableInt8(tn) && numel(t.shape) > 0) {
        quantized++;
        assert.is(got.dtype, 'I8', tn);
        const rows = t.shape[0], cols = numel(t.shape) / rows;
        const ref = quantizeRows(toFloat32(t), rows, cols);
        assert.equal(i8(got), Array.from(ref.q), tn);
        const sc = table.tensors.get(scaleName(tn))!;
        assert.is(sc.dtype, 'F32');
        assert.equal(sc.shape, [rows]);
        assert.equal(Array.from(toFloat32(sc)), Array.from(ref.scale), `${tn} scales`);
      } else {
        assert.is(got.dtype, 'F32', tn);
        assert.ok(bytesEqual(toFloat32(got), toFloat32(t)), `${tn} unchanged`);
      }
    }
    assert.ok(quantized > 0);
    // the positional conv is int8 too (weight_v; weight_g stays F32)
    assert.is(table.tensors.get('encoder.pos_conv_embed.conv.weight_v')!.dtype, 'I8');
    assert.is(table.tensors.get('encoder.pos_conv_embed.conv.weight_g')!.dtype, 'F32');
    // nothing else: one scale tensor per int8 weight
    assert.is(table.tensors.size, tensors.size + quantized);
    // the q8 table passes the load checks and counts the same parameters (scales are not parameters)
    checkTensors(cfg, table.tensors, 'q8');
    assert.is(countParams(cfg, table.tensors), countParams(cfg, tensors));
    assert.is(res.params, countParams(cfg, tensors));
    assert.is(storageDType(cfg, table.tensors), 'q8');
    assert.is(storageDType(cfg, tensors), 'f32');
  });

  s(`${name}: a q8 file runs the int8 kernels as load(f32, { dtype: 'q8' }) does, and with dtype 'f32' as the f32 engine on its dequantized weights (bit for bit); near the f32 model`, async () => {
    const { dir } = fixture(name);
    const q8 = fresh();
    await convertModel(dir, q8, { dtype: 'q8' });
    const deq = fresh();
    const r = await convertModel(q8, deq, { dtype: 'f32' });
    assert.ok(r.notes.some((x) => /stored \d+ int8 weights as F32 \(q · scale\)/.test(x)), JSON.stringify(r.notes));
    const q8Table = readTable(join(q8, 'model.safetensors')), deqTable = readTable(join(deq, 'model.safetensors'));
    assert.is(deqTable.metadata.slimwav_dtype, 'f32');
    for (const [tn, t] of q8Table.tensors) {
      if (t.dtype !== 'I8') continue;
      const rows = t.shape[0], cols = numel(t.shape) / rows;
      const want = dequantizeRows({ q: Int8Array.from(i8(t)), scale: toFloat32(q8Table.tensors.get(scaleName(tn))!) }, rows, cols);
      assert.ok(bytesEqual(toFloat32(deqTable.tensors.get(tn)!), want), `${tn} = q · scale`);
      assert.not.ok(deqTable.tensors.has(scaleName(tn)), 'no scales in an f32 file');
    }
    const fromQ8 = await hiddenStates(q8, dir);
    const quantizedAtLoad = await hiddenStates(dir, dir, { dtype: 'q8' });
    fromQ8.forEach((layers, c) => layers.forEach((l, i) => assert.ok(bytesEqual(l, quantizedAtLoad[c][i]), `${CLIPS[c]} hidden ${i}: q8 file vs dtype q8`)));
    const asF32 = await hiddenStates(q8, dir, { dtype: 'f32' });
    const fromDeq = await hiddenStates(deq, dir);
    asF32.forEach((layers, c) => layers.forEach((l, i) => assert.ok(bytesEqual(l, fromDeq[c][i]), `${CLIPS[c]} hidden ${i}: dtype f32 vs dequantized file`)));
    // and close to the f32 model: per-row int8 moves every hidden state by under 3% of its range here
    const f32 = await hiddenStates(dir, dir);
    let worst = 0;
    fromQ8.forEach((layers, c) => layers.forEach((l, i) => {
      const { diff, scale } = maxDiff(l, f32[c][i]);
      worst = Math.max(worst, diff / scale);
    }));
    assert.ok(worst > 0 && worst < 0.03, `max|q8 − f32| / max|f32| = ${worst} (measured 1.1–1.9e-2 on these fixtures)`);
  });
}

s('q8 → q8 keeps the int8 bytes; q8 → f16 is the f16 of q · scale; single file records its dtype', async () => {
  const { dir } = fixture('ragged-w2v-a');
  const q8 = fresh('.safetensors');
  await convertModel(dir, q8, { dtype: 'q8', singleFile: true });
  const again = fresh('.safetensors');
  await convertModel(q8, again, { dtype: 'q8', singleFile: true });
  const a = readTable(q8), b = readTable(again);
  assert.is(a.metadata.slimwav_dtype, 'q8');
  assert.is(b.tensors.size, a.tensors.size);
  for (const [tn, t] of a.tensors) {
    const u = b.tensors.get(tn)!;
    assert.is(u.dtype, t.dtype, tn);
    assert.ok(Buffer.from(u.data).equals(Buffer.from(t.data)), tn);
  }
  const f16 = fresh();
  await convertModel(q8, f16, { dtype: 'f16' });
  const h = readTable(join(f16, 'model.safetensors'));
  assert.is(h.metadata.slimwav_dtype, 'f16');
  const p = 'feature_projection.projection.weight', t = a.tensors.get(p)!;
  const deq = dequantizeRows({ q: Int8Array.from(i8(t)), scale: toFloat32(a.tensors.get(scaleName(p))!) }, t.shape[0], t.shape[1]);
  assert.is(h.tensors.get(p)!.dtype, 'F16');
  assert.ok(Buffer.from(h.tensors.get(p)!.data).equals(Buffer.from(fromFloat32(deq, t.shape, 'F16').data)));
  assert.ok([...h.tensors.keys()].every((k) => !k.endsWith('_scale')));
});

s('any accepted input converts to q8: a DPHuBERT checkpoint and a Hugging Face pytorch_model.bin', async () => {
  for (const src of [join(FIXTURES, 'ckpt', 'dphubert.pth'), join(FIXTURES, 'ckpt', 'hf')]) {
    const out = fresh();
    const res = await convertModel(src, out, { dtype: 'q8' });
    const table = readTable(join(out, 'model.safetensors'));
    assert.ok([...table.tensors.values()].some((t) => t.dtype === 'I8'), src);
    const m = await load(out, { threads: 1 });
    assert.is(m.info.params, res.params);
    const f = await m.extract(new Float32Array(4000).map((_, i) => Math.sin(i / 9)));
    assert.ok(f.layers[0].every(Number.isFinite));
    m.dispose();
  }
});

s('size: int8 weights take a quarter of their f32 bytes plus 4 bytes a row; base shape ≈ 95 MB of 377 MB', async () => {
  const { dir, cfg, tensors } = fixture('tiny-w2v-group');
  const out = fresh();
  await convertModel(dir, out, { dtype: 'q8' });
  const f32 = fresh();
  await convertModel(dir, f32, { dtype: 'f32' });
  const table = readTable(join(out, 'model.safetensors'));
  let qBytes = 0, qF32 = 0, rows = 0;
  for (const [tn, t] of table.tensors) {
    if (t.dtype !== 'I8') continue;
    qBytes += t.data.byteLength;
    qF32 += 4 * numel(tensors.get(tn)!.shape);
    rows += t.shape[0];
  }
  assert.is(qBytes * 4, qF32, 'one byte per weight');
  // the file shrinks by exactly 3/4 of the quantized weights, minus their scales (headers aside)
  const saved = statSync(join(f32, 'model.safetensors')).size - statSync(join(out, 'model.safetensors')).size;
  const header = (f: string) => Number(Buffer.from(readFileSync(f)).readBigUInt64LE(0));
  const headerGrowth = header(join(out, 'model.safetensors')) - header(join(f32, 'model.safetensors'));
  assert.is(saved, qF32 - qBytes - 4 * rows - headerGrowth);
  // the wav2vec2-base shape from its specs: every int8-storable weight at 1 byte + 4 bytes a row, the rest at 4 bytes
  // (one positional-conv spelling, weight_g + weight_v; its 18.9 MB f32 weight_v becomes 4.7 MB)
  const base = parseConfig(JSON.parse(readFileSync(join(FIXTURES, 'base-w2v', 'config.json'), 'utf8')));
  let b32 = 0, b8 = 0;
  for (const sp of tensorSpecs(base)) {
    if (!sp.used || sp.name === 'encoder.pos_conv_embed.conv.weight') continue;
    const k = numel(sp.shape);
    b32 += 4 * k;
    b8 += sp.q8 ? k + 4 * sp.shape[0] : 4 * k;
  }
  assert.ok(Math.abs(b32 / 1e6 - 377.5) < 0.5, `f32 ${b32 / 1e6} MB`);
  assert.ok(Math.abs(b8 / 1e6 - 95.1) < 0.5, `q8 ${b8 / 1e6} MB`);
  assert.ok(countParams(cfg, table.tensors) > 0);
});

// ---- malformed q8 tables: refused before anything is planned, one line naming the tensor

function q8Table(name = 'ragged-w2v-a'): { cfg: ModelConfig; json: Record<string, unknown>; t: Map<string, RawTensor> } {
  const { json, cfg, tensors } = fixture(name);
  const t = new Map<string, RawTensor>();
  for (const [tn, r] of tensors) {
    if (storableInt8(tn) && numel(r.shape) > 0) {
      const rows = r.shape[0];
      const q = quantizeRows(toFloat32(r), rows, numel(r.shape) / rows);
      t.set(tn, { dtype: 'I8', shape: r.shape, data: new Uint8Array(q.q.buffer) });
      t.set(scaleName(tn), fromFloat32(q.scale, [rows]));
    } else {
      t.set(tn, r);
    }
  }
  return { cfg, json, t };
}
const P = 'feature_projection.projection.weight', PS = scaleName(P);
const scaleOf = (values: number[]) => fromFloat32(Float32Array.from(values), [values.length]);
/** the positional conv under weight norm: its int8 weight_v and that tensor's scales, and its F32 gain; folded */
const PV = 'encoder.pos_conv_embed.conv.weight_v', PVS = scaleName(PV), PG = 'encoder.pos_conv_embed.conv.weight_g';
const PF = 'encoder.pos_conv_embed.conv.weight';
/** an I8 tensor of a q8 table back to F32 (q · scale) */
const toF32 = (t: Map<string, RawTensor>, name: string): RawTensor => {
  const r = t.get(name)!, rows = r.shape[0];
  return fromFloat32(dequantizeRows({ q: Int8Array.from(i8(r)), scale: toFloat32(t.get(scaleName(name))!) }, rows, numel(r.shape) / rows), r.shape);
};
const i8Like = (r: RawTensor): RawTensor => ({ dtype: 'I8', shape: r.shape, data: new Uint8Array(numel(r.shape)) });

s('malformed q8 tables are refused with E_SHAPE and one line naming the tensor', () => {
  const { cfg, t } = q8Table();
  checkTensors(cfg, t, 'm.safetensors'); // the well-formed table passes
  const rows = t.get(P)!.shape[0];
  const ok = Array.from(toFloat32(t.get(PS)!));
  const bad = (edit: (m: Map<string, RawTensor>) => void, ...words: string[]) => {
    const m = new Map(t);
    edit(m);
    throwsCode(() => checkTensors(cfg, m, 'm.safetensors'), 'E_SHAPE', 'm.safetensors', ...words);
  };
  bad((m) => m.delete(PS), `int8 tensor ${P} has no ${PS}`);
  bad((m) => m.set(P, fromFloat32(dequantizeRows({ q: Int8Array.from(i8(t.get(P)!)), scale: toFloat32(t.get(PS)!) }, rows, t.get(P)!.shape[1]), t.get(P)!.shape)),
    `scale tensor ${PS} belongs to an int8 weight, but ${P} is F32`);
  bad((m) => m.set(PS, scaleOf([...ok, 1])), PS, `[${rows + 1}]`, `expected [${rows}]`);
  bad((m) => m.set(PS, fromFloat32(Float32Array.from(ok), [rows, 1])), PS, `[${rows}, 1]`);
  bad((m) => m.set(PS, fromFloat32(Float32Array.from(ok), [rows], 'F16')), PS, 'F16', 'must be F32');
  for (const [v, shown] of [[0, '0'], [-0.5, '-0.5'], [-0, '-0']] as const) {
    bad((m) => m.set(PS, scaleOf(ok.map((x, r) => (r === 3 ? v : x)))), PS, `holds ${shown} (row 3)`, 'must be positive');
  }
  // I8 where a float is required: norms, biases, conv layer 0, the positional conv's weight-norm gain
  for (const name of ['encoder.layer_norm.weight', 'feature_projection.projection.bias', 'feature_extractor.conv_layers.0.conv.weight',
    'encoder.layers.0.attention.q_proj.bias', PG, 'encoder.pos_conv_embed.conv.bias']) {
    bad((m) => m.set(name, i8Like(t.get(name)!)), `tensor ${name} is int8 (I8) but must be a float type`);
  }
  // ... even with a scale beside it (refused as I8 or as an unknown scale tensor, whichever comes first in the file)
  bad((m) => { m.set(PG, i8Like(t.get(PG)!)); m.set(scaleName(PG), scaleOf([1])); }, PG);
  // a scale for a tensor that is never int8 is an unexpected tensor
  bad((m) => m.set('encoder.layer_norm.weight_scale', scaleOf([1])), 'unexpected tensor encoder.layer_norm.weight_scale');
  // −128 is never written: outside the symmetric range
  bad((m) => {
    const d = new Uint8Array(t.get(P)!.data);
    d[5] = 0x80;
    m.set(P, { ...t.get(P)!, data: d });
  }, `int8 tensor ${P} holds −128 (element 5)`, 'symmetric range');
  // int8 with the wrong shape
  bad((m) => m.set(P, { dtype: 'I8', shape: [rows, 3], data: new Uint8Array(rows * 3) }), `tensor ${P} has shape [${rows}, 3]`);
  // other integer types are not int8 weights
  bad((m) => m.set(P, { dtype: 'U8', shape: t.get(P)!.shape, data: new Uint8Array(t.get(P)!.data) }), 'dtype U8', 'or int8 (I8) with scales');
});

s('the positional conv in int8 (storage only): malformed scales refused like any other weight, folded spelling too', () => {
  const { cfg, t } = q8Table();
  assert.is(t.get(PV)!.dtype, 'I8');
  assert.equal(PVS, 'encoder.pos_conv_embed.conv.weight_v_scale');
  const D = cfg.hidden, ok = Array.from(toFloat32(t.get(PVS)!));
  assert.is(ok.length, D);
  const bad = (m: Map<string, RawTensor>, ...words: string[]) => throwsCode(() => checkTensors(cfg, m, 'm.safetensors'), 'E_SHAPE', 'm.safetensors', ...words);
  const edit = (f: (m: Map<string, RawTensor>) => void) => { const m = new Map(t); f(m); return m; };
  bad(edit((m) => m.delete(PVS)), `int8 tensor ${PV} has no ${PVS}`);
  for (const [v, shown] of [[0, '0'], [-2, '-2']] as const) bad(edit((m) => m.set(PVS, scaleOf(ok.map((x, r) => (r === 7 ? v : x))))), `${PVS} holds ${shown} (row 7)`, 'must be positive');
  bad(edit((m) => m.set(PVS, scaleOf(ok.slice(1)))), PVS, `[${D - 1}]`, `expected [${D}] (one scale per output row of ${PV})`);
  bad(edit((m) => m.set(PVS, fromFloat32(Float32Array.from(ok), [1, D]))), PVS, `[1, ${D}]`);
  bad(edit((m) => m.set(PVS, fromFloat32(Float32Array.from(ok), [D], 'F16'))), PVS, 'F16', 'must be F32');
  bad(edit((m) => m.set(PV, toF32(t, PV))), `scale tensor ${PVS} belongs to an int8 weight, but ${PV} is F32`);
  bad(edit((m) => { const d = new Uint8Array(t.get(PV)!.data); d[11] = 0x80; m.set(PV, { ...t.get(PV)!, data: d }); }), `int8 tensor ${PV} holds −128 (element 11)`);
  // folded spelling: `weight` int8 with `weight_scale`, accepted; without its scale refused
  const w = bindWeights(cfg, t, 'q8');
  const folded = edit((m) => {
    m.delete(PV); m.delete(PVS); m.delete(PG);
    const q = quantizeRows(w.pos.weight, D, w.pos.cg * w.pos.kernel);
    m.set(PF, { dtype: 'I8', shape: [D, w.pos.cg, w.pos.kernel], data: new Uint8Array(q.q.buffer) });
    m.set(scaleName(PF), fromFloat32(q.scale, [D]));
  });
  checkTensors(cfg, folded, 'm.safetensors');
  assert.is(storageDType(cfg, folded), 'q8');
  bad(edit((m) => { m.delete(PV); m.delete(PVS); m.delete(PG); m.set(PF, folded.get(PF)!); }), `int8 tensor ${PF} has no ${scaleName(PF)}`);
  // both spellings at once stay refused
  bad(edit((m) => { m.set(PF, folded.get(PF)!); m.set(scaleName(PF), folded.get(scaleName(PF))!); }), `both ${PF.slice(0, -7)}.weight and`, 'keep one spelling');
});

s('a folded positional conv (`weight`, no weight norm) is stored int8 as itself and runs as load(f32, { dtype: \'q8\' })', async () => {
  const { dir, json, cfg, tensors } = fixture('tiny-w2v-group');
  const w = bindWeights(cfg, tensors, dir);
  const table = weightsToTensors({ ...w, pos: { ...w.pos, weightNorm: null } });
  assert.ok(table.has(PF) && !table.has(PV) && !table.has(PG));
  const src = fresh('.safetensors');
  writeFileSync(src, serializeSafetensors({ tensors: table, metadata: { config: JSON.stringify(json) } }));
  const out = fresh('.safetensors');
  await convertModel(src, out, { dtype: 'q8', singleFile: true });
  const q = readTable(out).tensors;
  const ref = quantizeRows(toFloat32(table.get(PF)!), cfg.hidden, numel(table.get(PF)!.shape) / cfg.hidden);
  assert.is(q.get(PF)!.dtype, 'I8');
  assert.equal(i8(q.get(PF)!), Array.from(ref.q));
  assert.equal(Array.from(toFloat32(q.get(scaleName(PF))!)), Array.from(ref.scale));
  assert.is(storageDType(cfg, q), 'q8');
  const fromFile = await hiddenStates(out, dir), atLoad = await hiddenStates(src, dir, { dtype: 'q8' });
  fromFile.forEach((layers, c) => layers.forEach((l, i) => assert.ok(bytesEqual(l, atLoad[c][i]), `${CLIPS[c]} hidden ${i}`)));
  // the f32 weight the positional conv runs on is q · scale, not the original
  const bound = bindWeights(cfg, q, out).pos, deq = dequantizeRows(ref, cfg.hidden, ref.q.length / cfg.hidden);
  assert.ok(bytesEqual(bound.weight, deq) && bound.weightNorm === null);
  assert.not.ok(bytesEqual(deq, toFloat32(table.get(PF)!)));
});

s('NaN / +Inf scales: refused at load naming the scale tensor, allowNonFinite loads with one warning; −Inf always refused', async () => {
  const { json, t } = q8Table();
  const write = (edit: (m: Map<string, RawTensor>) => void) => {
    const m = new Map(t);
    edit(m);
    const f = fresh('.safetensors');
    writeFileSync(f, serializeSafetensors({ tensors: m, metadata: { config: JSON.stringify(json) } }));
    return f;
  };
  const ok = Array.from(toFloat32(t.get(PS)!));
  // a well-formed q8 single file loads through the public API
  const good = await load(write(() => undefined), { threads: 1 });
  good.dispose();
  // −∞ is negative: refused by the scale check whatever allowNonFinite says
  const neg = write((m) => m.set(PS, scaleOf(ok.map((x, r) => (r === 2 ? -Infinity : x)))));
  await rejectsCode(load(neg, { threads: 1, allowNonFinite: true }), 'E_SHAPE', neg, `${PS} holds -Infinity (row 2)`, 'must be positive');
  for (const v of [NaN, Infinity]) {
    const f = write((m) => m.set(PS, scaleOf(ok.map((x, r) => (r === 2 ? v : x)))));
    await rejectsCode(load(f, { threads: 1 }), 'E_SHAPE', f, `tensor ${PS} holds a NaN or infinite value (element 2)`);
    const warn = console.warn, seen: string[] = [];
    console.warn = (line: string) => seen.push(line);
    try {
      (await load(f, { threads: 1, allowNonFinite: true })).dispose();
    } finally {
      console.warn = warn;
    }
    assert.is(seen.length, 1);
    assert.ok(seen[0].includes(PS), seen[0]);
  }
  // the positional conv's scales too (int8 for storage only, checked like the rest)
  const posOk = Array.from(toFloat32(t.get(PVS)!));
  const posNaN = write((m) => m.set(PVS, scaleOf(posOk.map((x, r) => (r === 4 ? NaN : x)))));
  await rejectsCode(load(posNaN, { threads: 1 }), 'E_SHAPE', posNaN, `tensor ${PVS} holds a NaN or infinite value (element 4)`);
  // the other malformed cases through load() too (same checks, same one line)
  const f = write((m) => m.delete(PS));
  await rejectsCode(load(f, { threads: 1 }), 'E_SHAPE', f, `has no ${PS}`);
  const g = write((m) => m.set(PVS, scaleOf(posOk.map((x, r) => (r === 0 ? 0 : x)))));
  await rejectsCode(load(g, { threads: 1 }), 'E_SHAPE', g, `${PVS} holds 0 (row 0)`);
});

s('storageDType: f16, mixed (a quantizable weight left F32 next to int8 ones, or f16 beside int8)', () => {
  const { cfg, t } = q8Table();
  const { tensors } = fixture('ragged-w2v-a');
  const half = new Map([...tensors].map(([k, r]) => [k, fromFloat32(toFloat32(r), r.shape, 'F16')]));
  assert.is(storageDType(cfg, half), 'f16');
  const partly = new Map(t);
  partly.set(P, tensors.get(P)!);
  partly.delete(PS);
  assert.is(storageDType(cfg, partly), 'mixed');
  // a q8 file written before the positional conv went int8 (its weight_v F32) still reads as q8; int8 positional
  // conv beside f32 linear layers is mixed
  const oldQ8 = new Map(t);
  oldQ8.set(PV, tensors.get(PV)!);
  oldQ8.delete(PVS);
  assert.is(storageDType(cfg, oldQ8), 'q8');
  const onlyPos = new Map(tensors);
  onlyPos.set(PV, t.get(PV)!);
  onlyPos.set(PVS, t.get(PVS)!);
  assert.is(storageDType(cfg, onlyPos), 'mixed');
  const withF16 = new Map(t);
  withF16.set('encoder.layer_norm.weight', half.get('encoder.layer_norm.weight')!);
  assert.is(storageDType(cfg, withF16), 'mixed');
  const f32AndF16 = new Map(tensors);
  f32AndF16.set('encoder.layer_norm.weight', half.get('encoder.layer_norm.weight')!);
  assert.is(storageDType(cfg, f32AndF16), 'mixed');
});

s('convert --dtype q8 refuses a NaN weight (no int8 form), q8 → f16 beyond the F16 range is refused, nothing written; a bogus dtype is E_ARGS', async () => {
  const { dir, json, tensors } = fixture('ragged-w2v-a');
  const m = new Map(tensors);
  const w = toFloat32(tensors.get(P)!);
  w[7] = NaN;
  m.set(P, fromFloat32(w, tensors.get(P)!.shape));
  const src = fresh('.safetensors');
  writeFileSync(src, serializeSafetensors({ tensors: m, metadata: { config: JSON.stringify(json) } }));
  const out = fresh();
  const before = readdirSync(work).sort();
  await rejectsCode(convertModel(src, out, { dtype: 'q8' }), 'E_SHAPE', src, `tensor ${P} holds a NaN or infinite value (element 7)`, 'use --dtype f32 or f16');
  assert.equal(readdirSync(work).sort(), before, 'nothing written');
  await rejectsCode(convertModel(dir, fresh(), { dtype: 'int8' as 'q8' }), 'E_ARGS', '--dtype must be f32, f16 or q8', '"int8"');
  // a q8 weight whose dequantization is beyond the F16 range is refused by --dtype f16 as an f32 one would be
  const { t } = q8Table();
  const big = new Map(t);
  big.set(PS, scaleOf(Array.from(toFloat32(t.get(PS)!), () => 1000)));
  const q8src = fresh('.safetensors');
  writeFileSync(q8src, serializeSafetensors({ tensors: big, metadata: { config: JSON.stringify(json) } }));
  await rejectsCode(convertModel(q8src, fresh(), { dtype: 'f16' }), 'E_SHAPE', q8src, `tensor ${P} holds values up to`, 'beyond the F16 range');
  assert.equal(readdirSync(work).sort(), [...before, q8src.split('/').pop()!].sort(), 'only the input written');
});

s.run();
