// The command line end to end: real files in, .npy out, one-line errors, nothing left behind on failure.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy } from '../../src/format/npy.js';
import { encodeWav } from '../../src/format/wav.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';
import { slimwav, fails } from '../ref/cli.js';

const TINY = join(FIXTURES, 'tiny-w2v-group');
const PRELN = join(FIXTURES, 'tiny-hubert-layer-preln');
const SPEECH_F32 = join(FIXTURES, 'audio', 'speech16k-f32.wav');
const work = mkdtempSync(join(tmpdir(), 'slimwav-cli-'));

const s = suite('cli');

s('features: all layers match torchaudio, shape [L+1, T, D]', () => {
  for (const [dir, L] of [[TINY, 2], [PRELN, 3]] as const) {
    const out = join(work, 'all.npy');
    const r = slimwav('features', dir, SPEECH_F32, '--out', out);
    assert.is(r.code, 0, r.err);
    const npy = decodeNpy(new Uint8Array(readFileSync(out)), out);
    const refs = readRefs(join(dir, 'ref.safetensors'));
    const h0 = refs.get('hidden.speech.0');
    assert.equal(npy.shape, [L + 1, h0.shape[0], h0.shape[1]]);
    const per = h0.shape[0] * h0.shape[1];
    for (let i = 0; i <= L; i++) {
      assert.is(closeTo(`layer ${i}`, npy.data.subarray(i * per, (i + 1) * per), refs.get(`hidden.speech.${i}`).data), '');
    }
  }
});

s('features --layers last and i,j pick HF hidden-state indices in order', () => {
  const refs = readRefs(join(TINY, 'ref.safetensors'));
  const out = join(work, 'sel.npy');
  let r = slimwav('features', TINY, SPEECH_F32, '--out', out, '--layers', 'last', '--threads', '1');
  assert.is(r.code, 0, r.err);
  let npy = decodeNpy(new Uint8Array(readFileSync(out)), out);
  assert.is(npy.shape[0], 1);
  assert.is(closeTo('last', npy.data, refs.get('hidden.speech.2').data), '');
  r = slimwav('features', TINY, SPEECH_F32, '--out', out, '--layers', '2,0');
  assert.is(r.code, 0, r.err);
  npy = decodeNpy(new Uint8Array(readFileSync(out)), out);
  const per = npy.shape[1] * npy.shape[2];
  assert.is(closeTo('2', npy.data.subarray(0, per), refs.get('hidden.speech.2').data), '');
  assert.is(closeTo('0', npy.data.subarray(per), refs.get('hidden.speech.0').data), '');
});

s('features resamples 22.05 kHz input (frames follow the 16 kHz length)', () => {
  const out = join(work, 'rs.npy');
  const r = slimwav('features', TINY, join(FIXTURES, 'audio', 'speech22k.wav'), '--out', out, '--layers', 'last');
  assert.is(r.code, 0, r.err);
  const npy = decodeNpy(new Uint8Array(readFileSync(out)), out);
  const wav = readFileSync(join(FIXTURES, 'audio', 'speech22k.wav'));
  const samples22 = (wav.length - 44) / 2;
  const samples16 = Math.ceil(samples22 * 16000 / 22050);
  let len = samples16;
  const cfg = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  cfg.conv_kernel.forEach((k: number, i: number) => { len = Math.floor((len - k) / cfg.conv_stride[i]) + 1; });
  assert.ok(Math.abs(npy.shape[1] - len) <= 1, `${npy.shape[1]} frames, expected about ${len}`);
  for (const v of npy.data) assert.ok(Number.isFinite(v));
});

s('inspect --json counts params from the tensors and MACs per second', () => {
  const r = slimwav('inspect', TINY, '--json');
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  const table = parseSafetensors(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))), 'm');
  let params = 0;
  for (const t of table.tensors.values()) params += t.shape.reduce((a, b) => a * b, 1);
  assert.is(j.params, params);
  // independent MAC count: conv GEMMs + projection + pos conv + per layer 4·T·D² + 2·T²·D + 2·T·D·F
  const cfg = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  let len = 16000, cin = 1, macs = 0;
  cfg.conv_dim.forEach((c: number, i: number) => {
    len = Math.floor((len - cfg.conv_kernel[i]) / cfg.conv_stride[i]) + 1;
    macs += len * c * cin * cfg.conv_kernel[i];
    cin = c;
  });
  const T = len, D = cfg.hidden_size;
  macs += T * cin * D + T * D * (D / cfg.num_conv_pos_embedding_groups) * cfg.num_conv_pos_embeddings;
  macs += cfg.num_hidden_layers * (4 * T * D * D + 2 * T * T * D + 2 * T * D * cfg.intermediate_size);
  assert.is(j.macs_per_second, macs);
  assert.is(j.layers.length, 2);
  const text = slimwav('inspect', TINY);
  assert.is(text.code, 0);
  assert.match(text.out, /params\s+[\d,]+/);
});

s('errors: one line, non-zero exit, no partial output', () => {
  const out = join(work, 'never.npy');
  fails(slimwav('features', join(work, 'missing-model'), SPEECH_F32, '--out', out), 'missing-model');
  fails(slimwav('features', TINY, join(work, 'missing.wav'), '--out', out), 'missing.wav');
  const garbage = join(work, 'garbage.wav');
  writeFileSync(garbage, 'this is not audio at all');
  fails(slimwav('features', TINY, garbage, '--out', out), 'garbage.wav');
  const short = join(work, 'short.wav');
  writeFileSync(short, encodeWav(new Float32Array(100).fill(0.1), 16000, { bitDepth: 16 }));
  fails(slimwav('features', TINY, short, '--out', out), 'short.wav', 'at least');
  const empty = join(work, 'empty.wav');
  writeFileSync(empty, encodeWav(new Float32Array(0), 16000, { bitDepth: 16 }));
  fails(slimwav('features', TINY, empty, '--out', out), 'empty.wav');
  const nan = join(work, 'nan.wav');
  const x = new Float32Array(8000); x[4321] = NaN;
  writeFileSync(nan, encodeWav(x, 16000, { bitDepth: 32, float: true }));
  fails(slimwav('features', TINY, nan, '--out', out), 'nan.wav', '4321');
  fails(slimwav('features', TINY, SPEECH_F32, '--out', out, '--layers', '9'), '9');
  fails(slimwav('features', TINY, SPEECH_F32, '--out', out, '--threads', 'zero'), '--threads');
  fails(slimwav('features', TINY, SPEECH_F32), '--out');
  fails(slimwav('features', TINY, SPEECH_F32, '--out', join(work, 'no-such-dir', 'x.npy')), 'no-such-dir');
  fails(slimwav('frobnicate'), 'frobnicate');
  fails(slimwav('inspect', TINY, '--bogus'), 'bogus');
  assert.not.ok(existsSync(out), 'no output file after failures');
  assert.equal(readdirSync(work).filter((f) => f.includes('.tmp-')), [], 'no temp files left');
  const dbg = slimwav('features', join(work, 'missing-model'), SPEECH_F32, '--out', out, '--debug');
  assert.match(dbg.err, /\n\s+at /, '--debug shows the stack');
});

s('--help after any command prints that command\'s own help and exits 0', () => {
  for (const [cmd, own, other] of [['features', /slimwav features <model> <audio> --out/, /slimwav prune/], ['prune', /slimwav prune\s+--teacher/, /slimwav features/], ['convert', /slimwav convert\s+<checkpoint-or-folder>/, /slimwav prune/]] as const) {
    const r = slimwav(cmd, '--help');
    assert.is(r.code, 0, r.err);
    assert.match(r.out, own);
    assert.not.match(r.out, other, `${cmd} --help shows only ${cmd}`);
  }
  const all = slimwav('--help');
  assert.is(all.code, 0);
  for (const cmd of ['features', 'inspect', 'convert', 'export-onnx', 'prune', 'bench', 'demo']) assert.match(all.out, new RegExp(`slimwav ${cmd}\\s`));
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
