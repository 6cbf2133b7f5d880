// extract()'s input forms: a Float32Array at 16 kHz, or { samples, sampleRate } with Float32 or Int16 samples at any
// rate (resampled with the exported resample()), and one-line errors in API words for anything else.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, resample, type AudioInput, type Model } from '../../src/index.js';
import { resample as browserResample } from '../../src/browser.js';
import { decodeWav } from '../../src/format/wav.js';
import { FIXTURES } from '../ref/fixtures.js';
import { rejectsCode } from '../ref/assert.js';

let model: Model;
const wav = (f: string) => decodeWav(new Uint8Array(readFileSync(join(FIXTURES, 'audio', f))), f);
const s16 = wav('speech16k.wav');    // 16-bit PCM, 16 kHz
const s22 = wav('speech22k.wav');    // 16-bit PCM, 22 050 Hz

const t = suite('extract input');
t.before(async () => { model = await load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1 }); });
t.after(() => model.dispose());

t('resample is exported from slimwav and slimwav/browser', () => {
  assert.is(resample, browserResample);
});

t('{ samples: Int16Array, sampleRate: 16000 } gives exactly the features of the Float32Array /32768', async () => {
  const i16 = Int16Array.from(s16.data, (v) => Math.round(v * 32768));
  const a = await model.extract(s16.data, { layers: 'all' });
  const b = await model.extract({ samples: i16, sampleRate: 16000 }, { layers: 'all' });
  assert.equal(b.layers, a.layers);
  const c = await model.extract({ samples: s16.data, sampleRate: 16000 }, { layers: 'all' });
  assert.equal(c.layers, a.layers);
});

t('{ samples, sampleRate: 22050 } is resampled to 16 kHz first (same features as resample() then extract)', async () => {
  const direct = await model.extract(resample(s22.data, 22050, 16000), { layers: [0, 2] });
  const viaApi = await model.extract({ samples: s22.data, sampleRate: 22050 }, { layers: [0, 2] });
  assert.is(viaApi.frames, direct.frames);
  assert.equal(viaApi.layers, direct.layers);
  const i16 = Int16Array.from(s22.data, (v) => Math.round(v * 32768));
  assert.equal((await model.extract({ samples: i16, sampleRate: 22050 }, { layers: [0, 2] })).layers, direct.layers);
});

t('wrong types are E_ARGS, unusable audio is E_AUDIO, one line each', async () => {
  const x = new Float32Array(16000);
  const bad = (v: unknown) => v as AudioInput;
  await rejectsCode(model.extract(bad([0.1, 0.2])), 'E_ARGS', 'extract() needs a Float32Array', 'Array');
  await rejectsCode(model.extract(bad(new Float64Array(10))), 'E_ARGS', 'Float64Array');
  await rejectsCode(model.extract(bad({ samples: [1, 2], sampleRate: 16000 })), 'E_ARGS', 'samples must be a Float32Array or an Int16Array');
  await rejectsCode(model.extract(bad({ samples: new Uint8Array(10), sampleRate: 16000 })), 'E_ARGS', 'Uint8Array');
  for (const r of [undefined, '16000', 0, -8000, NaN]) {
    await rejectsCode(model.extract(bad({ samples: x, sampleRate: r })), 'E_ARGS', 'sampleRate must be a positive number');
  }
  await rejectsCode(model.extract({ samples: x, sampleRate: 500 }), 'E_AUDIO', 'extract() audio', '500 Hz');
  await rejectsCode(model.extract({ samples: new Int16Array(0), sampleRate: 8000 }), 'E_AUDIO', 'empty');
  const nan = new Float32Array(100);
  nan[7] = NaN;
  await rejectsCode(model.extract({ samples: nan, sampleRate: 44100 }), 'E_AUDIO', 'sample 7', 'NaN');
});

t.run();
