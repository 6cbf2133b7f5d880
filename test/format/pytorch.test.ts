/**
 * src/format/{zip,pickle,pytorch}.ts against checkpoints written by torch 1.13 (scripts/make_checkpoints.py):
 * every readable form gives tensors bit-identical to its hand-written safetensors twin; every malformed or
 * malicious file gives one SlimwavError naming the file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, rmSync } from 'node:fs';
import { openZip } from '../../src/format/zip.js';
import { unpickle, PyGlobal } from '../../src/format/pickle.js';
import { parseTorchCheckpoint, readTorchStateDict, isRawTensor } from '../../src/format/pytorch.js';
import type { RawTensor } from '../../src/format/tensor.js';
import { assertSameTensors, fixture, makeZip, throwsCode, twin } from '../fixtures/ckpt/helpers.js';

const MARKER = '/tmp/slimwav-pickle-marker';
const enc = new TextEncoder();

// ---------------------------------------------------------------- readable checkpoints ≡ safetensors twins

for (const name of ['hf/pytorch_model.bin', 'hf-ctc.bin', 'torchaudio.pt', 'torchaudio-config.pt', 'parametrizations.bin',
  'proto4.pt', 'dphubert.pth', 'dphubert-wavlm.pth', 'views.pt']) {
  test(`${name}: state dict is bit-identical to its safetensors twin`, () => {
    const sd = readTorchStateDict(fixture(name), name);
    assertSameTensors(sd.tensors, twin(`${name}.raw.safetensors`), name);
  });
}

test('views.pt: strided, offset, expanded, 0-d and empty views; dtypes; shared storage is not copied', () => {
  const root = parseTorchCheckpoint(fixture('views.pt'), 'views.pt') as Map<string, RawTensor>;
  assert.ok(root instanceof Map);
  const t = (k: string) => root.get(k)!;
  assert.equal(t('a_t').shape, [6, 4]);
  assert.equal(t('a_perm').shape, [6, 2, 2]);
  assert.equal(t('expand').shape, [4, 5]);
  assert.equal(t('scalar').shape, []);
  assert.equal(t('empty').shape, [0, 3]);
  assert.equal(['f16', 'bf16', 'f64', 'i64', 'i32', 'bool'].map((k) => t(k).dtype), ['F16', 'BF16', 'F64', 'I64', 'I32', 'BOOL']);
  // a, a_row and a_tail are contiguous views of one storage: they share its bytes
  assert.is(t('a_row').data.buffer, t('a').data.buffer);
  assert.is(t('a_row').data.byteOffset, t('a').data.byteOffset + 2 * 6 * 4);
  assert.is(t('a_tail').data.byteOffset, t('a').data.byteOffset + 5 * 4);
  assert.ok(isRawTensor(t('param')));
});

test('DPHuBERT checkpoint: config comes back as plain JSON (tuples → arrays), other entries are noted', () => {
  const sd = readTorchStateDict(fixture('dphubert.pth'), 'dphubert.pth');
  assert.equal(sd.config!.extractor_conv_layer_config, [[6, 10, 5], [5, 3, 2]]);
  assert.equal(sd.config!.encoder_num_heads, [1, 0, 2]);
  assert.is(sd.config!.aux_num_out, null);
  assert.equal(sd.extra, ['ignored top-level entry "distill_linear_projs"']);
});

test('Lightning checkpoint: student_model. prefix removed; teacher, distillation heads, lambdas, log_alpha dropped', () => {
  const sd = readTorchStateDict(fixture('lightning.ckpt'), 'lightning.ckpt');
  assertSameTensors(sd.tensors, twin('dphubert.pth.raw.safetensors'), 'lightning.ckpt');
  assert.is(sd.config, undefined);
  const notes = sd.extra.join('\n');
  for (const s of ['"optimizer_states"', '"hyper_parameters"', 'teacher_model.feature_extractor.conv_layers.0.conv.weight',
    'distill_linear_projs.0.weight', 'lambda1, lambda2', 'hard_concrete_for_heads.log_alpha', 'student_model.*']) {
    assert.ok(notes.includes(s), `notes should mention ${s}:\n${notes}`);
  }
});

test('{model: state_dict} wrapper and a bare state dict with a non-tensor entry', () => {
  const hf = fixture('hf/pytorch_model.bin');
  const zip = openZip(hf, 'x');
  const pkl = zip.read('pytorch_model/data.pkl');
  // re-wrap: PROTO 2, EMPTY_DICT, 'model', <original dict … without its STOP>, 'step', 7, SETITEMS … STOP
  const inner = pkl.subarray(2, pkl.length - 1);
  const wrapped = new Uint8Array([0x80, 2, 0x7d, 0x28, 0x8c, 5, ...enc.encode('model'), ...inner, 0x8c, 4, ...enc.encode('step'), 0x4b, 7, 0x75, 0x2e]);
  const entries: [string, Uint8Array][] = [...zip.entries.keys()].map((k) => [k, k.endsWith('data.pkl') ? wrapped : zip.read(k)]);
  const sd = readTorchStateDict(makeZip(entries), 'wrapped.pt');
  assertSameTensors(sd.tensors, twin('hf/pytorch_model.bin.raw.safetensors'), 'wrapped');
  assert.equal(sd.extra, ['ignored top-level entry "step"']);
});

// ---------------------------------------------------------------- refusals

test('legacy (pre-1.6) format is named, with the fix', () => {
  throwsCode(() => parseTorchCheckpoint(fixture('legacy.pt'), 'm/legacy.pt'), 'E_FORMAT', 'm/legacy.pt',
    'legacy (pre-1.6) torch.save format; re-save it with torch.save(obj, path)');
});

test('malicious pickle: E_UNSAFE naming os.system, and nothing ran', () => {
  rmSync(MARKER, { force: true });
  throwsCode(() => readTorchStateDict(fixture('malicious.pt'), 'evil/malicious.pt'), 'E_UNSAFE',
    'evil/malicious.pt: pickle refers to os.system, which slimwav will not load (only tensor data is allowed)');
  throwsCode(() => parseTorchCheckpoint(fixture('malicious-proto4.pt'), 'evil/p4.pt'), 'E_UNSAFE', 'evil/p4.pt', 'builtins.exec');
  assert.not.ok(existsSync(MARKER), 'the payload must not have run');
});

test('malformed archives: E_FORMAT naming the file and the problem', () => {
  const cases: [string, string][] = [
    ['truncated.pt', 'no end-of-central-directory record'],
    ['bad-cd-offset.pt', 'central directory'],
    ['storage-past-end.pt', 'reaches element 103 but the storage has 24'],
    ['shape-overflow.pt', 'reaches element'],
    ['expand-huge.pt', 'more memory than the file'],
    ['deflated.pt', 'compressed entry deflated/data.pkl not supported (deflate)'],
  ];
  for (const [f, msg] of cases) throwsCode(() => parseTorchCheckpoint(fixture(f), `ck/${f}`), 'E_FORMAT', `ck/${f}: `, msg);
  throwsCode(() => parseTorchCheckpoint(enc.encode('hello world, not a checkpoint'), 'x.bin'), 'E_FORMAT', 'x.bin', 'not a PyTorch checkpoint');
  throwsCode(() => parseTorchCheckpoint(new Uint8Array([0x80, 2, 0x4e, 0x2e]), 'p.pkl'), 'E_FORMAT', 'p.pkl', 'bare pickle');
  throwsCode(() => parseTorchCheckpoint(makeZip([['a/constants.pkl', new Uint8Array(1)], ['a/code/x.py', new Uint8Array(1)]]), 'ts.pt'),
    'E_FORMAT', 'ts.pt', 'TorchScript');
  throwsCode(() => readTorchStateDict(makeZip([['a/data.pkl', new Uint8Array([0x80, 2, 0x4b, 1, 0x2e])]]), 'int.pt'),
    'E_FORMAT', 'int.pt', 'expected a dict');
});

test('storage declared with a size its entry does not have', () => {
  const pkl = pickleWithStorage('0', 10, 0, [10], [1]);
  throwsCode(() => parseTorchCheckpoint(makeZip([['a/data.pkl', pkl], ['a/data/0', new Uint8Array(36)]]), 's.pt'),
    'E_FORMAT', 's.pt', 'storage a/data/0 has 36 bytes, but 10 F32 elements need 40');
  throwsCode(() => parseTorchCheckpoint(makeZip([['a/data.pkl', pkl]]), 's.pt'), 'E_FORMAT', 'storage 0 is missing');
});

// ---------------------------------------------------------------- zip details

test('zip: ZIP64 records and extra fields, archive comment, stored entries as views', () => {
  const data = enc.encode('abcdef');
  for (const z64 of [false, true]) {
    const bytes = makeZip([['x/one', data], ['x/two', new Uint8Array(0)]], { zip64: z64, comment: 'hello' });
    const z = openZip(bytes, 'z.zip');
    assert.equal([...z.entries.keys()], ['x/one', 'x/two']);
    assert.equal([...z.read('x/one')], [...data]);
    assert.is(z.read('x/one').buffer, bytes.buffer);
    assert.is(z.read('x/two').length, 0);
  }
  // a whole checkpoint re-zipped as ZIP64 reads the same
  const hf = openZip(fixture('hf/pytorch_model.bin'), 'hf');
  const again = makeZip([...hf.entries.keys()].map((k) => [k, hf.read(k)]), { zip64: true });
  assertSameTensors(readTorchStateDict(again, 'z64.pt').tensors, twin('hf/pytorch_model.bin.raw.safetensors'), 'zip64');
});

test('zip: lying sizes and offsets are refused before use', () => {
  const good = makeZip([['x/a', enc.encode('0123456789')]]);
  const mut = (f: (dv: DataView, b: Uint8Array) => void) => {
    const b = good.slice();
    f(new DataView(b.buffer), b);
    return b;
  };
  const cd = good.length - 22 - (46 + 3);
  const eocd = good.length - 22;
  throwsCode(() => openZip(mut((dv) => dv.setUint32(eocd + 12, 1000, true)), 'z'), 'E_FORMAT', 'central directory');
  throwsCode(() => openZip(mut((dv) => dv.setUint16(eocd + 10, 500, true)), 'z'), 'E_FORMAT', 'entries cannot fit');
  throwsCode(() => openZip(mut((dv) => dv.setUint32(cd + 20, 0xfffff, true)), 'z'), 'E_FORMAT', 'has size');
  throwsCode(() => openZip(mut((dv) => { dv.setUint32(cd + 20, 0xfffff, true); dv.setUint32(cd + 24, 0xfffff, true); }), 'z'), 'E_FORMAT', 'runs past');
  throwsCode(() => openZip(mut((dv) => dv.setUint32(cd + 42, 7, true)), 'z'), 'E_FORMAT', 'no local header');
  throwsCode(() => openZip(mut((dv) => dv.setUint32(cd + 42, 0xffffffff, true)), 'z'), 'E_FORMAT', 'needs a ZIP64 extra field');
  throwsCode(() => openZip(mut((dv) => dv.setUint32(cd + 8, 1, true)), 'z'), 'E_FORMAT', 'encrypted');
  throwsCode(() => openZip(mut((dv) => dv.setUint16(eocd + 10, 0xffff, true)), 'z'), 'E_FORMAT', 'ZIP64 locator is missing');
  throwsCode(() => openZip(mut((_, b) => { b[cd + 46] = 0x79; }), 'z'), 'E_FORMAT', 'does not match');
  throwsCode(() => openZip(mut((dv) => dv.setUint16(eocd + 20, 3, true)), 'z'), 'E_FORMAT', 'no end-of-central-directory');
  const z = openZip(makeZip([['x/a', enc.encode('zz')]], { method: 8 }), 'c.zip');
  throwsCode(() => z.read('x/a'), 'E_FORMAT', 'c.zip: compressed entry x/a not supported (deflate)');
});

// ---------------------------------------------------------------- the unpickler alone

const P = (...ops: (number | string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const o of ops) {
    if (typeof o === 'number') out.push(o);
    else if (typeof o === 'string') out.push(...enc.encode(o));
    else out.push(...o);
  }
  return new Uint8Array(out);
};
const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const read = (b: Uint8Array) => unpickle(b, { fileName: 'u.pkl' });

test('unpickle: values, memo, marks, containers, protocol-4 framing', () => {
  // {'a': [1, -2, 2**70, 1.5, True, None, b'xy'], 'b': <memo of the list>}
  const v = read(P(0x80, 4, 0x95, [20, 0, 0, 0, 0, 0, 0, 0], 0x7d, 0x94, 0x28,
    0x8c, 1, 'a', 0x5d, 0x94, 0x28, 0x4b, 1, 0x4a, u32le(-2 >>> 0), 0x8a, 9, [0, 0, 0, 0, 0, 0, 0, 0, 0x40], 0x47, [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
    0x88, 0x4e, 0x43, 2, 'xy', 0x65,
    0x8c, 1, 'b', 0x68, 1, 0x75, 0x2e)) as Map<string, unknown>;
  const a = v.get('a') as unknown[];
  assert.equal(a.slice(0, 6), [1, -2, 2n ** 70n, 1.5, true, null]);
  assert.equal([...(a[6] as Uint8Array)], [0x78, 0x79]);
  assert.is(v.get('b'), a, 'memo shares the object');
  assert.equal(read(P(0x80, 2, 0x8a, 1, 0xff, 0x2e)), -1);
  assert.equal(read(P(0x80, 2, 0x4b, 1, 0x4b, 2, 0x86, 0x4b, 3, 0x85, 0x86, 0x2e)), [[1, 2], [3]]);
  const od = read(P(0x80, 2, 0x63, 'collections\nOrderedDict\n', 0x29, 0x52, 0x28, 0x8c, 1, 'k', 0x4b, 5, 0x75, 0x7d, 0x62, 0x2e)) as Map<string, unknown>;
  assert.equal([...od], [['k', 5]]);
  const bytes = read(P(0x80, 2, 0x63, '_codecs\nencode\n', 0x8c, 2, [0xc3, 0xbf], 0x8c, 6, 'latin1', 0x86, 0x52, 0x2e)) as Uint8Array;
  assert.equal([...bytes], [0xff]);
});

test('unpickle: refusals are E_UNSAFE (names) or E_FORMAT (structure), never a crash', () => {
  throwsCode(() => read(P(0x80, 2, 0x63, 'subprocess\nPopen\n', 0x2e)), 'E_UNSAFE', 'u.pkl: pickle refers to subprocess.Popen');
  throwsCode(() => read(P(0x80, 4, 0x8c, 8, 'builtins', 0x8c, 4, 'eval', 0x93, 0x2e)), 'E_UNSAFE', 'builtins.eval');
  throwsCode(() => read(P(0x80, 2, 0x28, 0x69, 'os\nsystem\n', 0x2e)), 'E_UNSAFE', 'os.system');
  throwsCode(() => read(P(0x80, 2, 0x82, 1, 0x2e)), 'E_UNSAFE', 'extension registry');
  throwsCode(() => read(P(0x80, 2, 0x63, 'torch.nn.modules.linear\nLinear\n', 0x2e)), 'E_UNSAFE', 'state_dict()');
  throwsCode(() => read(P(0x80, 2, 0x63, 'torch\nFloatStorage\n', 0x29, 0x52, 0x2e)), 'E_FORMAT', 'torch.FloatStorage cannot be called');
  throwsCode(() => read(P(0x80, 2, 0x4b, 1, 0x29, 0x52, 0x2e)), 'E_FORMAT', 'not callable');
  throwsCode(() => read(P(0x80, 2, 0x2e)), 'E_FORMAT', 'stack underflow');
  throwsCode(() => read(P(0x80, 2, 0x4b, 1)), 'E_FORMAT', 'without a STOP');
  throwsCode(() => read(P(0x80, 2, 0x58, u32le(1000), 'abc', 0x2e)), 'E_FORMAT', 'BINUNICODE needs 1000 bytes');
  throwsCode(() => read(P(0x80, 4, 0x8d, [0, 0, 0, 0, 0, 0, 0, 0x7f], 0x2e)), 'E_FORMAT', 'BINUNICODE8 needs');
  throwsCode(() => read(P(0x80, 2, 0x68, 3, 0x2e)), 'E_FORMAT', 'memo key 3');
  throwsCode(() => read(P(0x80, 2, 0x4b, 1, 0x4b, 1, 0x4b, 1, 0x73, 0x2e)), 'E_FORMAT', 'SETITEM on a number');
  throwsCode(() => read(P(0x80, 6, 0x2e)), 'E_FORMAT', 'protocol 6');
  throwsCode(() => read(P(0x80, 2, 0x49, '1\n', 0x2e)), 'E_FORMAT', 'unsupported opcode 0x49');
  throwsCode(() => read(P(0x80, 2, 0x4e, 0x28, 0x85, 0x2e)), 'E_FORMAT', 'stack underflow');
  throwsCode(() => unpickle(P(0x80, 2, ...new Array(100).fill(0x28), 0x4e, 0x2e), { fileName: 'm', limits: { maxMarks: 50 } }), 'E_FORMAT', 'nested MARKs');
  assert.ok(read(P(0x80, 2, 0x63, 'torch\nFloatStorage\n', 0x2e)) instanceof PyGlobal);
});

/** data.pkl for {'w': tensor(storage key, numel, offset, size, stride)} in protocol 2 */
function pickleWithStorage(key: string, count: number, offset: number, size: number[], stride: number[]): Uint8Array {
  const tup = (xs: number[]) => [0x28, ...xs.flatMap((x) => [0x4a, ...u32le(x)]), 0x74];
  return P(0x80, 2, 0x7d, 0x8c, 1, 'w',
    0x63, 'torch._utils\n_rebuild_tensor_v2\n',
    0x28, 0x28, 0x8c, 7, 'storage', 0x63, 'torch\nFloatStorage\n', 0x8c, key.length, key, 0x8c, 3, 'cpu', 0x4a, u32le(count), 0x74, 0x51,
    0x4a, u32le(offset), tup(size), tup(stride), 0x89, 0x63, 'collections\nOrderedDict\n', 0x29, 0x52, 0x74, 0x52,
    0x73, 0x2e);
}

test('tensor views: exact bounds, non-contiguous copy order', () => {
  const storage = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).buffer);
  const ck = (off: number, size: number[], stride: number[]) => makeZip([['a/data.pkl', pickleWithStorage('0', 10, off, size, stride)], ['a/data/0', storage]]);
  const w = (b: Uint8Array) => (parseTorchCheckpoint(b, 'v.pt') as Map<string, RawTensor>).get('w')!;
  const f32 = (t: RawTensor) => [...new Float32Array(t.data.slice().buffer)];
  assert.equal(f32(w(ck(1, [3, 3], [1, 3]))), [1, 4, 7, 2, 5, 8, 3, 6, 9]); // max index 1 + 2 + 6 = 9: just inside
  assert.equal(f32(w(ck(9, [1], [1]))), [9]);
  assert.equal(f32(w(ck(0, [2, 2], [0, 5]))), [0, 5, 0, 5]);
  throwsCode(() => w(ck(2, [3, 3], [1, 3])), 'E_FORMAT', 'v.pt', 'reaches element 10 but the storage has 10');
  throwsCode(() => w(ck(10, [1], [1])), 'E_FORMAT', 'reaches element 10');
  assert.equal(w(ck(10, [0], [1])).shape, [0]);
  throwsCode(() => w(ck(0, [2], [1, 1])), 'E_FORMAT', 'size has 1 dimensions but stride has 2');
  throwsCode(() => w(ck(0, [-1], [1])), 'E_FORMAT', 'not a non-negative integer');
});

test.run();
