// Stage-by-stage parity with torchaudio (references written by scripts/make_fixtures.py).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, buildModel, parseConfig } from '../../src/index.js';
import { randomTensors } from '../../src/arch/random-model.js';
import { toFloat32 } from '../../src/format/tensor.js';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

// every fixture folder with torchaudio / own-reference outputs: dense tiny models, ragged layouts, WavLM
const TINY = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'ref.safetensors'))).sort();
const CLIPS = ['sine', 'noise', 'speech'];

// plain SIMD128 (what browsers run), relaxed SIMD (FMA), and the debug build (asserts on) on the dense tiny models;
// then plain SIMD again with the positional conv forced through the DFT (auto keeps these short kernels direct)
type Opts = { simd?: 'plain' | 'relaxed'; build?: 'debug'; posConv?: 'dft' };
const BUILDS: Opts[] = [{ simd: 'plain' }, { simd: 'relaxed' }, { build: 'debug' }, { simd: 'plain', posConv: 'dft' }];
for (const opts of BUILDS) {
  const build = opts.build ?? opts.simd;
  const label = opts.posConv ? `${build}, DFT pos conv` : build;
  for (const name of TINY) {
    if (build === 'debug' && !name.startsWith('tiny-')) continue; // the debug build only needs one pass over the kernels
    const s = suite(`parity ${name} (${label})`);
    const dir = join(FIXTURES, name);
    const refs = readRefs(join(dir, 'ref.safetensors'));
    for (const clip of CLIPS.filter((c) => refs.names.includes(`input.${c}`))) {
      s(`${clip}: every stage within 1e-4·max(1,|ref|)`, async () => {
        const model = await load(dir, opts);
        assert.match(model.info.kernels, build === 'plain' ? /^release/ : build === 'relaxed' ? /^relaxed/ : /^debug$/);
        const stages = new Map<string, Float32Array>();
        const input = refs.get(`input.${clip}`).data;
        const L = model.config.numLayers;
        const res = await model.extract(input, { layers: 'all', capture: (stage, data) => stages.set(stage, data) });
        model.dispose();
        const problems: string[] = [];
        let compared = 0;
        for (const ref of refs.names.filter((n) => n.split('.')[1] === clip && !n.startsWith('input.'))) {
          const stage = ref.replace(`.${clip}`, '');
          const ours = stages.get(stage);
          if (!ours) { problems.push(`no stage ${stage}`); continue; }
          const r = refs.get(ref);
          assert.is(ours.length, r.data.length, `${ref} size`);
          const msg = closeTo(ref, ours, r.data);
          if (msg) problems.push(msg);
          compared++;
        }
        // the returned hidden states are the captured ones
        for (let i = 0; i <= L; i++) {
          const msg = closeTo(`returned hidden ${i}`, res.layers[i], refs.get(`hidden.${clip}.${i}`).data);
          if (msg) problems.push(msg);
        }
        assert.ok(compared >= L + 3, `compared only ${compared} stages`);
        assert.equal(problems, []);
        assert.is(res.frames * res.dim, res.layers[0].length);
      });
    }
    s.run();
  }
}

// ---
const base = suite('parity base-w2v (full wav2vec2-base shape, weights regenerated)');
for (const simd of ['plain', 'relaxed'] as const)
base(`${simd} SIMD: regenerated weights equal the fixture script checksums; hidden states match the digest`, async () => {
  const dir = join(FIXTURES, 'base-w2v');
  const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cfg = parseConfig(cfgJson);
  const tensors = randomTensors(cfg, cfgJson.slimwav_init_seed);
  const digest = readRefs(join(dir, 'digest.safetensors'));
  for (const n of digest.names.filter((x) => x.startsWith('checksum.'))) {
    const w = toFloat32(tensors.get(n.slice('checksum.'.length))!);
    let sum = 0;
    for (let i = 0; i < w.length; i++) sum += w[i];
    assert.is(sum, digest.f64(n), `${n}`);
  }
  const model = await buildModel(cfgJson, tensors, 'base-w2v', [], { simd });
  assert.is(model.info.params, 94_370_944);
  const stages = new Map<string, Float32Array>();
  const input = digest.get('input').data;
  await model.extract(input, { layers: 'last', capture: (stage, data) => stages.set(stage, data) });
  model.dispose();
  const frames = digest.get('frames').data;
  const problems: string[] = [];
  for (const n of digest.names.filter((x) => /^(conv\.\d+|proj|posconv|hidden\.\d+)$/.test(x))) {
    const ours = stages.get(n)!;
    assert.ok(ours, `stage ${n}`);
    const rows = digest.get(n);
    const cols = rows.shape[1];
    const fr = n.startsWith('conv.') ? digest.get(`${n}.frames`).data : frames;
    const picked = new Float32Array(rows.data.length);
    fr.forEach((f, r) => picked.set(ours.subarray(f * cols, (f + 1) * cols), r * cols));
    const absmax = digest.get(`absmax.${n}`).data[0];
    const msg = closeTo(n, picked, rows.data, 1e-4 * Math.max(1, absmax) / Math.max(1, Math.max(...rows.data.map(Math.abs))));
    if (msg) problems.push(msg);
    let ourMax = 0;
    for (const v of ours) ourMax = Math.max(ourMax, Math.abs(v));
    if (Math.abs(ourMax - absmax) > 1e-4 * Math.max(1, absmax)) problems.push(`${n}: max|ours| ${ourMax} vs max|ref| ${absmax}`);
  }
  assert.equal(problems, []);
});
base.run();
