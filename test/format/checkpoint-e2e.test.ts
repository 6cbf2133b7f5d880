// Every PyTorch checkpoint form that should run does run: load()/extract() and `slimwav features` give outputs
// bit-identical to the same model loaded from its safetensors twin (committed twins and a convertModel twin), and
// the pruned DPHuBERT student matches a PyTorch reference (scripts/make_checkpoints.py, dphubert-ref.safetensors).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../../src/index.js';
import { convertModel } from '../../src/cli/convert.js';
import { readAudioFile } from '../../src/format/audio.js';
import { decodeNpy } from '../../src/format/npy.js';
import { CKPT } from '../fixtures/ckpt/helpers.js';
import { FIXTURES, closeTo, readRefs } from '../ref/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'slimwav.js');
const SPEECH = join(FIXTURES, 'audio', 'speech16k-f32.wav');
const work = mkdtempSync(join(tmpdir(), 'slimwav-ckpt-e2e-'));

const HF_CONFIG = JSON.parse(readFileSync(join(CKPT, 'hf', 'config.json'), 'utf8')) as Record<string, unknown>;
// written by hand from the fixture script's DPHuBERT kwargs (the pruning keys of docs/format.md)
const DPH_CONFIG = {
  model_type: 'hubert', conv_dim: [6, 5], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false,
  feat_extract_norm: 'group', hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 64,
  hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
  do_stable_layer_norm: false, do_normalize: false,
  layer_heads: [[0], [], [0, 1]], layer_head_qk_dims: [[8], [], [8, 8]], layer_head_v_dims: [[8], [], [8, 8]],
  layer_intermediate_sizes: [20, 12, 0],
};
const WAVLM_CONFIG = {
  model_type: 'wavlm', conv_dim: [8, 8], conv_kernel: [10, 3], conv_stride: [5, 2], conv_bias: false,
  feat_extract_norm: 'group', hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24,
  hidden_act: 'gelu', layer_norm_eps: 1e-5, num_conv_pos_embeddings: 4, num_conv_pos_embedding_groups: 2,
  do_stable_layer_norm: false, do_normalize: false, num_buckets: 8, max_bucket_distance: 16,
  layer_heads: [[1], [0, 1]], layer_head_qk_dims: [[8], [8, 8]], layer_head_v_dims: [[8], [8, 8]],
  layer_intermediate_sizes: [24, 24],
};

/** a model folder: config.json + the given file as `as` */
function folder(name: string, file: string, config: object, as = 'pytorch_model.bin'): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  copyFileSync(join(CKPT, file), join(dir, as));
  return dir;
}

const TWINS = {
  tiny: folder('twin-tiny', 'tiny.hf.safetensors', HF_CONFIG, 'model.safetensors'),
  dphubert: folder('twin-dphubert', 'dphubert.hf.safetensors', DPH_CONFIG, 'model.safetensors'),
  wavlm: folder('twin-wavlm', 'dphubert-wavlm.hf.safetensors', WAVLM_CONFIG, 'model.safetensors'),
};

const CASES: { name: string; path: string; twin: keyof typeof TWINS }[] = [
  { name: 'HF folder: pytorch_model.bin + config.json', path: join(CKPT, 'hf'), twin: 'tiny' },
  { name: 'Wav2Vec2ForCTC-prefixed pytorch_model.bin', path: folder('ctc', 'hf-ctc.bin', HF_CONFIG), twin: 'tiny' },
  { name: 'torchaudio tensor names', path: folder('torchaudio', 'torchaudio.pt', HF_CONFIG), twin: 'tiny' },
  { name: 'weight norm as parametrizations.weight.original0/1', path: folder('param', 'parametrizations.bin', HF_CONFIG), twin: 'tiny' },
  { name: 'pickle protocol 4', path: folder('proto4', 'proto4.pt', HF_CONFIG), twin: 'tiny' },
  { name: 'dense torchaudio/DPHuBERT .pt carrying its config', path: join(CKPT, 'torchaudio-config.pt'), twin: 'tiny' },
  { name: 'pruned DPHuBERT .pth (ragged heads, removed blocks, dummy_weight ≠ 1)', path: join(CKPT, 'dphubert.pth'), twin: 'dphubert' },
  { name: 'Lightning checkpoint of the DPHuBERT student + config.json', path: folder('lightning', 'lightning.ckpt', DPH_CONFIG), twin: 'dphubert' },
  { name: 'DPHuBERT WavLM .pth (kept heads by original index)', path: join(CKPT, 'dphubert-wavlm.pth'), twin: 'wavlm' },
];

async function hidden(path: string, pcm: Float32Array): Promise<Float32Array[]> {
  const m = await load(path, { threads: 1 });
  try {
    return (await m.extract(pcm, { layers: 'all' })).layers;
  } finally {
    m.dispose();
  }
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function sameBits(got: Float32Array[], want: Float32Array[], what: string) {
  assert.is(got.length, want.length, `${what}: layer count`);
  got.forEach((g, i) => assert.ok(bytes(g).equals(bytes(want[i])), `${what}: hidden state ${i} differs`));
}

function slimwav(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const pcmP = readAudioFile(SPEECH);
const s = suite('checkpoint forms end to end');

for (const c of CASES) {
  s(`${c.name}: load/extract bit-identical to the safetensors twin and to its convert output`, async () => {
    const pcm = await pcmP;
    const want = await hidden(TWINS[c.twin], pcm);
    sameBits(await hidden(c.path, pcm), want, c.name);
    const out = join(work, `conv-${CASES.indexOf(c)}`);
    const res = await convertModel(c.path, out);
    assert.equal(res.files, [join(out, 'config.json'), join(out, 'model.safetensors')]);
    sameBits(await hidden(out, pcm), want, `${c.name} (converted)`);
  });
}

s('slimwav features runs on every form; the .npy equals the in-process output bit for bit', async () => {
  const pcm = await pcmP;
  for (const c of CASES) {
    const want = await hidden(TWINS[c.twin], pcm);
    const out = join(work, `features-${CASES.indexOf(c)}.npy`);
    const r = slimwav('features', c.path, SPEECH, '--out', out, '--layers', 'all', '--threads', '1');
    assert.is(r.code, 0, `${c.name}: ${r.err}`);
    const npy = decodeNpy(new Uint8Array(readFileSync(out)), out);
    assert.equal(npy.shape, [want.length, want[0].length / npy.shape[2], npy.shape[2]], c.name);
    const per = want[0].length;
    want.forEach((w, i) => assert.ok(bytes(npy.data.subarray(i * per, (i + 1) * per)).equals(bytes(w)), `${c.name}: npy layer ${i}`));
  }
});

s('checkpoints without a config (and not a released shape) fail in one line asking for config.json, writing nothing', () => {
  for (const f of ['hf-ctc.bin', 'torchaudio.pt', 'parametrizations.bin', 'lightning.ckpt']) {
    const out = join(work, `none-${f}.npy`);
    const r = slimwav('features', join(CKPT, f), SPEECH, '--out', out);
    assert.is.not(r.code, 0, f);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^slimwav: .*no config found; put config\.json next to it/);
    assert.not.ok(existsSync(out), `${out} left behind`);
  }
  assert.not.ok(readdirSync(work).some((n) => n.startsWith('none-')), 'no partial outputs');
});

s('pruned DPHuBERT student matches the PyTorch reference within 1e-4·max(1, max|ref|), every hidden state', async () => {
  const refs = readRefs(join(CKPT, 'dphubert-ref.safetensors'));
  const layers = await hidden(join(CKPT, 'dphubert.pth'), refs.get('input').data);
  assert.is(layers.length, 4);
  const problems = layers.map((l, i) => {
    const r = refs.get(`hidden.${i}`);
    assert.is(l.length, r.data.length, `hidden.${i} size (frames × 16)`);
    return closeTo(`hidden.${i}`, l, r.data);
  }).filter(Boolean);
  assert.equal(problems, []);
});

s('the reference depends on dummy_weight: dropping it moves the output far outside the tolerance', async () => {
  // guards against a reference (or runtime) that silently ignores DPHuBERT's channel scale
  const refs = readRefs(join(CKPT, 'dphubert-ref.safetensors'));
  const { parseSafetensors, serializeSafetensors } = await import('../../src/format/safetensors.js');
  const t = parseSafetensors(new Uint8Array(readFileSync(join(CKPT, 'dphubert.hf.safetensors'))), 'twin');
  t.tensors.delete('feature_extractor.dummy_weight');
  const dir = join(work, 'no-dummy');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(DPH_CONFIG));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(t));
  const layers = await hidden(dir, refs.get('input').data);
  assert.ok(closeTo('hidden.3', layers[3], refs.get('hidden.3').data) !== '', 'without dummy_weight the output should differ');
});

s.run();
