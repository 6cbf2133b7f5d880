// preprocessor_config.json (and a single file's __metadata__.preprocessor): do_normalize on and off against
// torchaudio references (scripts/make_preprocessor_fixture.py: the clip normalised as transformers does, then the
// tiny-hubert-layer-preln model), validation with one-line errors naming the file, convert carrying it over, and
// inspect showing it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, readAudioFile } from '../../src/index.js';
import { parsePreprocessor, withPreprocessor } from '../../src/format/preprocessor.js';
import { parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { convertModel } from '../../src/cli/convert.js';
import { FIXTURES, readRefs, closeTo, maxDiff } from '../ref/fixtures.js';
import { throwsCode, rejectsCode } from '../ref/assert.js';
import { slimwav } from '../ref/cli.js';
import { createServer, type Server } from 'node:http';
import { loadFromUrl, loadFromBuffers } from '../../src/browser.js';

const SRC = join(FIXTURES, 'tiny-hubert-layer-preln');
const ON = readRefs(join(SRC, 'ref-normalized.safetensors'));   // hidden.<i> on the normalised clip
const OFF = readRefs(join(SRC, 'ref.safetensors'));                       // hidden.speech.<i> on the raw clip
const L = 3;
const work = mkdtempSync(join(tmpdir(), 'slimwav-pre-'));
let speech: Float32Array = new Float32Array(0);   // the clip, read before the first suite
let n = 0;

/** A copy of the tiny model folder with `pre` as its preprocessor_config.json (text as given; undefined = none). */
function folder(pre?: string): string {
  const dir = join(work, `m${n++}`);
  mkdirSync(dir);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(SRC, f), join(dir, f));
  if (pre !== undefined) writeFileSync(join(dir, 'preprocessor_config.json'), pre);
  return dir;
}

async function hidden(path: string): Promise<Float32Array[]> {
  const m = await load(path, { threads: 1 });
  try {
    return (await m.extract(speech, { layers: 'all' })).layers;
  } finally {
    m.dispose();
  }
}

function matches(ours: Float32Array[], ref: (i: number) => Float32Array): void {
  assert.is(ours.length, L + 1);
  for (let i = 0; i <= L; i++) {
    const msg = closeTo(`hidden ${i}`, ours[i], ref(i));
    assert.is(msg, '', msg);
  }
}

const HF = JSON.stringify({
  do_normalize: true, feature_extractor_type: 'Wav2Vec2FeatureExtractor', feature_size: 1, padding_side: 'right',
  padding_value: 0.0, processor_class: 'Wav2Vec2Processor', return_attention_mask: false, sampling_rate: 16000,
});

// ---

const parse = suite('parsePreprocessor');

parse('Hugging Face\'s file is accepted; do_normalize defaults to false; unknown keys are noted', () => {
  const p = parsePreprocessor(JSON.parse(HF), 'pre.json');
  assert.is(p.doNormalize, true);
  assert.is(p.samplingRate, 16000);
  assert.is(parsePreprocessor({}, 'pre.json').doNormalize, false);
  const notes: string[] = [];
  parsePreprocessor({ do_normalize: false, chunk_length: 30, foo: 1 }, 'pre.json', notes);
  assert.equal(notes, ['pre.json: ignored unknown keys "chunk_length", "foo"']);
});

parse('wrong types, another sampling rate, feature_size ≠ 1 and non-objects are E_CONFIG naming the file', () => {
  throwsCode(() => parsePreprocessor({ do_normalize: 'yes' }, 'x/preprocessor_config.json'), 'E_CONFIG', 'x/preprocessor_config.json', '"do_normalize" must be a boolean', '"yes"');
  throwsCode(() => parsePreprocessor({ sampling_rate: 16000.5 }, 'p.json'), 'E_CONFIG', 'p.json', '"sampling_rate" must be an integer');
  throwsCode(() => parsePreprocessor({ sampling_rate: 8000 }, 'p.json'), 'E_CONFIG', 'p.json', '"sampling_rate" is 8000', '16000 Hz');
  throwsCode(() => parsePreprocessor({ feature_size: 80 }, 'p.json'), 'E_CONFIG', 'p.json', '"feature_size" is 80');
  throwsCode(() => parsePreprocessor({ padding_value: 'x' }, 'p.json'), 'E_CONFIG', '"padding_value" must be a number');
  throwsCode(() => parsePreprocessor([true], 'p.json'), 'E_CONFIG', 'p.json', 'JSON object');
});

parse('withPreprocessor: the file\'s do_normalize decides over the config\'s, with a note when they differ', () => {
  const notes: string[] = [];
  const pre = (json: Record<string, unknown>) => parsePreprocessor(json, 'p.json');
  assert.equal(withPreprocessor({ a: 1 }, pre({ do_normalize: true }), notes), { a: 1, do_normalize: true });
  assert.equal(notes, []);
  assert.equal(withPreprocessor({ do_normalize: true }, pre({ do_normalize: false }), notes), { do_normalize: false });
  assert.equal(notes, ['p.json: do_normalize false overrides the config\'s true']);
  assert.equal(withPreprocessor({ do_normalize: true }, pre({ sampling_rate: 16000 }), notes), { do_normalize: true }, 'no key: the config stays');
  assert.equal(withPreprocessor({ do_normalize: true }, null, notes), { do_normalize: true });
});

parse.run();

// ---

const models = suite('models with a preprocessor');
models.before(async () => { speech = await readAudioFile(join(FIXTURES, 'audio', 'speech16k.wav')); });

models('do_normalize true: features match torchaudio on the transformers-normalised clip', async () => {
  const dir = folder(HF);
  matches(await hidden(dir), (i) => ON.get(`hidden.${i}`).data);
  const m = await load(dir, { threads: 1 });
  assert.is(m.info.preprocessor?.doNormalize, true);
  assert.is(m.info.preprocessor?.source, join(dir, 'preprocessor_config.json'));
  m.dispose();
});

models('do_normalize false, or no file: features match torchaudio on the raw clip (and differ from "on")', async () => {
  const off = await hidden(folder(JSON.stringify({ do_normalize: false, sampling_rate: 16000 })));
  matches(off, (i) => OFF.get(`hidden.speech.${i}`).data);
  matches(await hidden(folder()), (i) => OFF.get(`hidden.speech.${i}`).data);
  const over = folder(JSON.stringify({ do_normalize: false }));     // config.json says true, the file says false
  writeFileSync(join(over, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')), do_normalize: true }));
  matches(await hidden(over), (i) => OFF.get(`hidden.speech.${i}`).data);
  const { diff, scale } = maxDiff(OFF.get(`hidden.speech.${L}`).data, ON.get(`hidden.${L}`).data);
  assert.ok(diff > 0.05 * scale, `normalisation changes the output: ${diff} vs scale ${scale}`);
});

models('a single .safetensors file with __metadata__.preprocessor is honoured', async () => {
  const table = parseSafetensors(new Uint8Array(readFileSync(join(SRC, 'model.safetensors'))), 'm');
  const file = join(work, 'single.safetensors');
  writeFileSync(file, serializeSafetensors({ tensors: table.tensors, metadata: { config: readFileSync(join(SRC, 'config.json'), 'utf8'), preprocessor: HF } }));
  matches(await hidden(file), (i) => ON.get(`hidden.${i}`).data);
  const bad = join(work, 'bad.safetensors');
  writeFileSync(bad, serializeSafetensors({ tensors: table.tensors, metadata: { config: readFileSync(join(SRC, 'config.json'), 'utf8'), preprocessor: '{"sampling_rate": 44100}' } }));
  await rejectsCode(load(bad), 'E_CONFIG', bad, '__metadata__.preprocessor', '44100');
});

models('a bad preprocessor_config.json stops load() with one line naming it', async () => {
  const d1 = folder('{"do_normalize": 1}');
  await rejectsCode(load(d1), 'E_CONFIG', join(d1, 'preprocessor_config.json'), 'must be a boolean');
  const d2 = folder('{"do_normalize": tru');
  await rejectsCode(load(d2), 'E_FORMAT', join(d2, 'preprocessor_config.json'), 'not valid JSON');
  const d3 = folder('{"sampling_rate": 22050}');
  await rejectsCode(load(d3), 'E_CONFIG', join(d3, 'preprocessor_config.json'), '22050');
});

models('convert carries it over: folder → folder, folder → single file → folder', async () => {
  const dir = folder(HF);
  const out = join(work, 'conv');
  const r = await convertModel(dir, out);
  assert.ok(r.files.includes(join(out, 'preprocessor_config.json')));
  assert.equal(JSON.parse(readFileSync(join(out, 'preprocessor_config.json'), 'utf8')), JSON.parse(HF));
  const single = join(work, 'conv.safetensors');
  await convertModel(dir, single, { singleFile: true });
  const meta = parseSafetensors(new Uint8Array(readFileSync(single)), single).metadata;
  assert.equal(JSON.parse(meta.preprocessor), JSON.parse(HF));
  const back = join(work, 'back');
  await convertModel(single, back);
  assert.equal(JSON.parse(readFileSync(join(back, 'preprocessor_config.json'), 'utf8')), JSON.parse(HF));
  matches(await hidden(back), (i) => ON.get(`hidden.${i}`).data);
  const plain = join(work, 'plain');
  await convertModel(folder(), plain);
  assert.not.ok(existsSync(join(plain, 'preprocessor_config.json')));
});

models('inspect prints it; inspect --json has it (null without one)', () => {
  const dir = folder(HF);
  const t = slimwav('inspect', dir);
  assert.is(t.code, 0, t.err);
  assert.match(t.out, /preprocessor\s+do_normalize true .*16000 Hz, from .*preprocessor_config\.json/);
  const j = JSON.parse(slimwav('inspect', dir, '--json').out);
  assert.equal(j.preprocessor, { do_normalize: true, sampling_rate: 16000, source: join(dir, 'preprocessor_config.json') });
  assert.is(JSON.parse(slimwav('inspect', folder(), '--json').out).preprocessor, null);
});

models.run();

// ---

const url = suite('slimwav/browser: loadFromUrl and loadFromBuffers');
let server: Server;
let base = '';
url.before(async () => {
  server = createServer((req, res) => {
    try {
      const body = readFileSync(join(work, decodeURIComponent(req.url!.slice(1))));
      res.writeHead(200).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
url.after(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  rmSync(work, { recursive: true, force: true });
});

async function urlHidden(folderName: string): Promise<Float32Array[]> {
  const m = await loadFromUrl(base + folderName, { threads: 1 });
  try {
    return (await m.extract(speech, { layers: 'all' })).layers;
  } finally {
    m.dispose();
  }
}

url('preprocessor_config.json is fetched when the server has it; a 404 means none', async () => {
  const on = folder(HF).slice(work.length + 1);
  matches(await urlHidden(on), (i) => ON.get(`hidden.${i}`).data);
  const none = folder().slice(work.length + 1);
  matches(await urlHidden(none), (i) => OFF.get(`hidden.speech.${i}`).data);
  const bad = folder('{"sampling_rate": 8000}').slice(work.length + 1);
  await rejectsCode(loadFromUrl(base + bad), 'E_CONFIG', `${base}${bad}/preprocessor_config.json`, '8000');
});

url('loadFromBuffers takes the parsed JSON', async () => {
  const m = await loadFromBuffers({
    config: JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')), weights: readFileSync(join(SRC, 'model.safetensors')),
    preprocessor: { do_normalize: true },
  }, { threads: 1 });
  const { layers } = await m.extract(speech, { layers: 'all' });
  m.dispose();
  matches(layers, (i) => ON.get(`hidden.${i}`).data);
});

url.run();
