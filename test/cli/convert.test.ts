// convert: F32 outputs run bit-identically to their input, F16 ones within a loose bound at about half the size,
// the single-file form carries its config, and every failure is one line that leaves nothing behind.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, SlimwavError } from '../../src/index.js';
import { convertModel } from '../../src/cli/convert.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { fromFloat32, toFloat32, type RawTensor } from '../../src/format/tensor.js';
import { FIXTURES, maxDiff, readRefs } from '../ref/fixtures.js';
import { slimwav, fails } from '../ref/cli.js';
import { hiddenStates, REF_CLIPS } from '../ref/hidden.js';

const TINY = ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'tiny-w2v-layer-postln'];
const CLIPS = REF_CLIPS;
/** f16 storage: max|f16 − f32| of every hidden state relative to max|ref| (measured ≈ 1–2e-3 on these fixtures) */
const F16_BOUND = 1e-2;
const work = mkdtempSync(join(tmpdir(), 'slimwav-convert-'));
let n = 0;
const fresh = (suffix = '') => join(work, `out${n++}${suffix}`);

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const readTable = (f: string) => parseSafetensors(new Uint8Array(readFileSync(f)), f);

async function rejects(p: Promise<unknown>, code: string, ...words: string[]) {
  try {
    await p;
  } catch (e) {
    assert.instance(e, SlimwavError);
    const err = e as SlimwavError;
    assert.is(err.code, code, err.message);
    assert.not.match(err.message, /\n/);
    for (const w of words) assert.ok(err.message.includes(w), `"${err.message}" should mention "${w}"`);
    return;
  }
  assert.unreachable('should have failed');
}

const s = suite('convert');

for (const name of TINY) {
  const dir = join(FIXTURES, name);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

  s(`${name}: f32 folder and single file run bit-identically to the original`, async () => {
    const want = await hiddenStates(dir, dir);
    const folder = fresh();
    const a = await convertModel(dir, folder, { dtype: 'f32' });
    assert.equal(a.files, [join(folder, 'config.json'), join(folder, 'model.safetensors')]);
    assert.equal(readdirSync(folder).sort(), ['config.json', 'model.safetensors']);
    assert.equal(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')), config);
    const file = fresh('.safetensors');
    const b = await convertModel(dir, file, { singleFile: true });
    assert.equal(b.files, [file]);
    assert.is(a.params, b.params);
    for (const out of [folder, file]) {
      const got = await hiddenStates(out, dir);
      got.forEach((layers, c) => layers.forEach((l, i) => assert.ok(bytes(l).equals(bytes(want[c][i])), `${out} ${CLIPS[c]} hidden ${i}`)));
    }
    // the single file round-trips its config and says where it came from
    const table = readTable(file);
    assert.equal(JSON.parse(table.metadata.config), config);
    assert.is(table.metadata.format, 'pt');
    assert.is(table.metadata.slimwav_source, join(dir, 'model.safetensors'));
    assert.ok([...table.tensors.values()].every((t) => t.dtype === 'F32'));
    const m = await load(file);
    assert.equal(m.config.raw, config);
    m.dispose();
  });

  s(`${name}: f16 is within ${F16_BOUND} of max|ref| on every hidden state, and about half the size`, async () => {
    const out = fresh();
    const res = await convertModel(dir, out, { dtype: 'f16' });
    assert.ok(res.notes.some((x) => /stored \d+ F32 tensors as F16/.test(x)), JSON.stringify(res.notes));
    const table = readTable(join(out, 'model.safetensors'));
    assert.ok([...table.tensors.values()].every((t) => t.dtype === 'F16'));
    const ratio = statSync(join(out, 'model.safetensors')).size / statSync(join(dir, 'model.safetensors')).size;
    assert.ok(ratio > 0.45 && ratio < 0.55, `f16 / f32 size ratio ${ratio}`);
    const refs = readRefs(join(dir, 'ref.safetensors'));
    const f32 = await hiddenStates(dir, dir);
    const f16 = await hiddenStates(out, dir);
    let worst = 0;
    f16.forEach((layers, c) => layers.forEach((l, i) => {
      const { diff } = maxDiff(l, f32[c][i]);
      const { scale } = maxDiff(l, refs.get(`hidden.${CLIPS[c]}.${i}`).data);
      worst = Math.max(worst, diff / scale);
    }));
    assert.ok(worst < F16_BOUND, `max|f16 − f32| / max|ref| = ${worst}`);
    assert.ok(worst > 0, 'f16 storage should change something');
    // f16 → f32 widens exactly: the widened model computes what the f16 one computes
    const back = fresh();
    await convertModel(out, back);
    const widened = await hiddenStates(back, dir);
    widened.forEach((layers, c) => layers.forEach((l, i) => assert.ok(bytes(l).equals(bytes(f16[c][i])), `widened ${CLIPS[c]} ${i}`)));
  });
}

s('BF16 and F64 inputs become F32 (or F16) and run exactly as the runtime runs the input', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const table = readTable(join(dir, 'model.safetensors'));
  const mixed = new Map<string, RawTensor>();
  let i = 0;
  for (const [name, t] of table.tensors) {
    const f = toFloat32(t, name);
    if (i % 3 === 0) {
      const bf = new Uint16Array(f.length);
      const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
      for (let k = 0; k < f.length; k++) bf[k] = u[k] >>> 16; // truncation: any BF16 value will do
      mixed.set(name, { dtype: 'BF16', shape: t.shape, data: new Uint8Array(bf.buffer) });
    } else if (i % 3 === 1) {
      mixed.set(name, { dtype: 'F64', shape: t.shape, data: new Uint8Array(Float64Array.from(f).buffer) });
    } else {
      mixed.set(name, t);
    }
    i++;
  }
  const src = fresh();
  mkdirSync(src);
  writeFileSync(join(src, 'config.json'), readFileSync(join(dir, 'config.json')));
  writeFileSync(join(src, 'model.safetensors'), serializeSafetensors({ tensors: mixed, metadata: {} }));
  const out = fresh();
  const res = await convertModel(src, out);
  assert.ok(res.notes.some((x) => x.includes('BF16') && x.includes('F64') && x.includes('as F32')), JSON.stringify(res.notes));
  assert.ok([...readTable(join(out, 'model.safetensors')).tensors.values()].every((t) => t.dtype === 'F32'));
  const want = await hiddenStates(src, dir);
  const got = await hiddenStates(out, dir);
  got.forEach((layers, c) => layers.forEach((l, k) => assert.ok(bytes(l).equals(bytes(want[c][k])), `hidden ${k}`)));
  const half = fresh('.safetensors');
  await convertModel(src, half, { dtype: 'f16', singleFile: true });
  assert.ok([...readTable(half).tensors.values()].every((t) => t.dtype === 'F16'));
});

s('a value beyond the F16 range is refused (naming the tensor) and nothing is written', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const table = readTable(join(dir, 'model.safetensors'));
  const big = toFloat32(table.tensors.get('encoder.layer_norm.weight')!);
  big[3] = 1e5;
  table.tensors.set('encoder.layer_norm.weight', fromFloat32(big, [big.length]));
  const src = fresh();
  mkdirSync(src);
  writeFileSync(join(src, 'config.json'), readFileSync(join(dir, 'config.json')));
  writeFileSync(join(src, 'model.safetensors'), serializeSafetensors(table));
  const before = readdirSync(work).sort();
  await rejects(convertModel(src, fresh(), { dtype: 'f16' }), 'E_SHAPE', 'encoder.layer_norm.weight', 'F16 range', '--dtype f32');
  assert.equal(readdirSync(work).sort(), before);
  await convertModel(src, fresh(), { dtype: 'f32' }); // f32 keeps it
});

s('API argument checks: dtype, suffixes, missing parent, existing out', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const before = readdirSync(work).sort();
  await rejects(convertModel(dir, fresh(), { dtype: 'bf16' as 'f16' }), 'E_ARGS', '--dtype must be f32, f16 or q8', '"bf16"');
  await rejects(convertModel(dir, fresh('.st'), { singleFile: true }), 'E_ARGS', 'must end in .safetensors');
  await rejects(convertModel(dir, fresh('.safetensors')), 'E_ARGS', '--single-file');
  await rejects(convertModel(dir, join(work, 'no', 'such', 'parent')), 'E_IO', 'parent folder', 'does not exist');
  await rejects(convertModel(dir, dir), 'E_IO', 'exists; choose another --out or remove it');
  assert.equal(readdirSync(work).sort(), before);
});

// ---- the command line (runs dist/: `npm run build` first)

s('cli: convert folder and --single-file; inspect --json params equal the original', () => {
  const dir = join(FIXTURES, 'tiny-hubert-layer-preln');
  const params = JSON.parse(slimwav('inspect', dir, '--json').out).params;
  assert.type(params, 'number');
  const folder = fresh();
  let r = slimwav('convert', dir, '--out', folder, '--dtype', 'f16');
  assert.is(r.code, 0, r.err);
  assert.is(r.err.trim().split('\n').length, 1, 'one summary line');
  assert.match(r.err, new RegExp(`^wrote ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(config\\.json \\+ model\\.safetensors\\): F16, [\\d,]+ params`));
  assert.ok(r.err.includes(params.toLocaleString('en-US')), r.err);
  assert.is(JSON.parse(slimwav('inspect', folder, '--json').out).params, params);
  const file = fresh('.safetensors');
  r = slimwav('convert', dir, '--out', file, '--single-file');
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /^wrote .*\.safetensors: F32, /);
  const j = JSON.parse(slimwav('inspect', file, '--json').out);
  assert.is(j.params, params);
  assert.equal(JSON.parse(readTable(file).metadata.config), JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
});

s('cli: convert --dtype q8 (folder, single file, checkpoint); inspect shows dtype and file size', () => {
  const dir = join(FIXTURES, 'ragged-w2v-a');
  const orig = JSON.parse(slimwav('inspect', dir, '--json').out);
  assert.is(orig.dtype, 'f32');
  assert.is(orig.file_bytes, statSync(join(dir, 'model.safetensors')).size);
  const folder = fresh();
  let r = slimwav('convert', dir, '--out', folder, '--dtype', 'q8');
  assert.is(r.code, 0, r.err);
  assert.is(r.err.trim().split('\n').length, 1, 'one summary line');
  // 20 linear / conv weights of this ragged layout + the positional conv's weight_v
  assert.match(r.err, /: Q8, [\d,]+ params; notes: quantized 21 weights to int8 with one F32 scale per output row\n$/);
  const j = JSON.parse(slimwav('inspect', folder, '--json').out);
  assert.is(j.dtype, 'q8');
  assert.is(j.params, orig.params, 'scales are not parameters');
  const bytes = statSync(join(folder, 'model.safetensors')).size;
  assert.is(j.file_bytes, bytes);
  assert.ok(bytes < 0.6 * orig.file_bytes, `${bytes} of ${orig.file_bytes}`);
  const text = slimwav('inspect', folder);
  assert.is(text.code, 0, text.err);
  assert.ok(text.out.includes(`  weights           q8, ${(bytes / 1e6).toFixed(1)} MB (${bytes.toLocaleString('en-US')} bytes of`), text.out);
  assert.ok(text.out.includes('an int8 weight counts once'), text.out);
  const file = fresh('.safetensors');
  r = slimwav('convert', folder, '--out', file, '--single-file', '--dtype', 'q8');
  assert.is(r.code, 0, r.err);
  assert.is(readTable(file).metadata.slimwav_dtype, 'q8');
  assert.is(JSON.parse(slimwav('inspect', file, '--json').out).dtype, 'q8');
  const back = fresh();
  r = slimwav('convert', file, '--out', back, '--dtype', 'f16');
  assert.is(r.code, 0, r.err);
  assert.ok(r.err.includes('int8 weights as F16 (q · scale)'), r.err);
  assert.is(JSON.parse(slimwav('inspect', back, '--json').out).dtype, 'f16');
  const ck = fresh();
  r = slimwav('convert', join(FIXTURES, 'ckpt', 'dphubert.pth'), '--out', ck, '--dtype', 'q8');
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(slimwav('inspect', ck, '--json').out).dtype, 'q8');
});

s('cli: a checkpoint converts and the summary carries its notes', () => {
  const out = fresh();
  const r = slimwav('convert', join(FIXTURES, 'ckpt', 'dphubert.pth'), '--out', out);
  assert.is(r.code, 0, r.err);
  assert.is(r.err.trim().split('\n').length, 1);
  assert.ok(r.err.includes('notes: ') && r.err.includes('dummy_weight'), r.err);
});

s('cli errors: one line, exit ≠ 0, nothing left behind', () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const bad = fresh();
  mkdirSync(bad);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  cfg.intermediate_size = 81;
  writeFileSync(join(bad, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(bad, 'model.safetensors'), readFileSync(join(dir, 'model.safetensors')));
  const existing = fresh();
  mkdirSync(existing);
  writeFileSync(join(existing, 'keep'), 'x');

  const before = readdirSync(work).sort();
  const out = fresh();
  fails(slimwav('convert', join(work, 'missing-model'), '--out', out), 'missing-model', 'no such model file or folder');
  let r = slimwav('convert', dir, '--out', out, '--dtype', 'f8');
  fails(r, '--dtype must be f32, f16 or q8', 'f8');
  assert.is(r.code, 2);
  r = slimwav('convert', dir, '--out', out, '--dtype', 'bogus');
  fails(r, '--dtype must be f32, f16 or q8', '"bogus"', 'see slimwav convert --help');
  assert.is(r.code, 2);
  fails(slimwav('convert', dir, '--out', existing), existing, 'exists; choose another --out or remove it');
  assert.equal(readdirSync(existing), ['keep']);
  fails(slimwav('convert', dir, '--out', join(work, 'x.bin'), '--single-file'), 'must end in .safetensors');
  fails(slimwav('convert', bad, '--out', out), 'intermediate_dense', '[80, 48]', '[81, 48]');
  fails(slimwav('convert', bad, '--out', fresh('.safetensors'), '--single-file', '--dtype', 'f16'), 'intermediate_dense');
  r = slimwav('convert', dir);
  fails(r, 'convert needs --out');
  fails(slimwav('convert', '--out', out), 'expected <checkpoint-or-folder>');
  assert.equal(readdirSync(work).sort(), before, 'no output or temp folder left behind');
  for (const f of [join(FIXTURES, 'ckpt', 'malicious.pt'), join(FIXTURES, 'ckpt', 'truncated.pt')]) {
    r = slimwav('convert', f, '--out', out);
    fails(r, f);
    assert.not.match(r.err.trim(), /\n/);
  }
  assert.equal(readdirSync(work).sort(), before);
});

s.run();
