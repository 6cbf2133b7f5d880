// The package as a user gets it: `npm pack`, then an install of the tarball into an empty folder, then the commands
// and an ESM script run from that folder only. Offline: the folder gets a lockfile pinning slimwav's dependencies to
// the versions of this repository's package-lock.json (which `npm ci` already put in the npm cache), so nothing is
// downloaded. The packed package.json must declare no install-time script (preinstall, install, postinstall: npm
// runs those for a tarball and warns about them; `prepare` only runs in a clone and before packing), and npm must
// print no warning at all.
// Needs the build (`npm test` runs it first). Takes about 1–2.5 min: `demo` (one run) and `bench` (one short run)
// build and run the full wav2vec2-base shape and a pruned layout; neither has a smaller option.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, readRefs, closeTo } from '../ref/fixtures.js';

const ROOT = join(FIXTURES, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string; dependencies: Record<string, string>; bin: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), 'slimwav-pkg-'));
const app = join(work, 'app');

function run(cmd: string, args: string[], cwd: string, timeout = 180_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '', error: r.error };
}

const p = suite('package');
p.after(() => rmSync(work, { recursive: true, force: true }));

let tarball = '';

p('npm pack lists the four entry points, LICENSE, the bundled models/ files and release wasm only', () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'src', 'index.js')), 'built (npm run build)');
  const r = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT);
  assert.is(r.code, 0, r.err);
  const files = (JSON.parse(r.out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  for (const f of ['dist/src/index.js', 'dist/src/browser.js', 'dist/src/prune/index.js', 'dist/src/onnx/index.js',
    'bin/slimwav.js', 'LICENSE', 'README.md', 'models/speech.wav', 'models/wav2vec2-base-random/config.json',
    'build/slimwav.simd.wasm', 'build/slimwav.simd-shared.wasm', 'build/slimwav.relaxed.wasm', 'build/slimwav.relaxed-shared.wasm']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.equal(files.filter((f) => /debug/.test(f)), [], 'no debug wasm');
  assert.equal(files.filter((f) => /^(test|src|assembly|eval|scratch)\//.test(f)), [], 'no sources, tests or eval data');
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /MIT License[\s\S]*Copyright \(c\) 2026 the slimwav authors/);
});

p('the tarball installs offline into an empty folder with no npm warning', () => {
  const r = run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], ROOT);
  assert.is(r.code, 0, r.err);
  tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  const packed = run('tar', ['-xzOf', tarball, 'package/package.json'], work);
  assert.is(packed.code, 0, packed.err);
  const scripts = (JSON.parse(packed.out) as { scripts?: Record<string, string> }).scripts ?? {};
  const installScripts = ['preinstall', 'install', 'postinstall'].filter((k) => k in scripts);
  assert.equal(installScripts, [], 'the packed package.json declares no install-time script');
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const packages: Record<string, unknown> = {
    '': { name: 'app', version: '1.0.0', dependencies: { slimwav: `file:${tarball}` } },
    'node_modules/slimwav': { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies, bin: pkg.bin },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || entry.dev || entry.devOptional) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = { ...entry, resolved: entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz` };
  }
  for (const dep of Object.keys(pkg.dependencies)) assert.ok(packages[`node_modules/${dep}`], `${dep} pinned in package-lock.json`);
  cpSync(join(FIXTURES, 'tiny-w2v-group'), join(app, 'tiny'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { slimwav: `file:${tarball}` } }));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
  const i = run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app);
  assert.is(i.code, 0, i.err);
  assert.not.match(i.err + i.out, /npm warn/i, `install warned:\n${i.err}`);
  assert.ok(existsSync(join(app, 'node_modules', 'slimwav', 'models', 'speech.wav')));
});

p('npx slimwav --version prints package.json\'s version', () => {
  const r = run('npx', ['--no', '--', 'slimwav', '--version'], app);
  assert.is(r.code, 0, r.err);
  assert.is(r.out.trim(), pkg.version);
});

p('an ESM script: import { load, readAudioFile } from "slimwav", FLAC in, features equal to torchaudio\'s', () => {
  // speech16k.flac holds exactly the samples of speech16k-f32.wav's 16-bit source, the clip the reference used
  cpSync(join(FIXTURES, 'audio', 'speech16k.flac'), join(app, 'speech.flac'));
  writeFileSync(join(app, 'run.mjs'), `
import { load, readAudioFile, parseConfig, convFrames } from 'slimwav';
import { readFileSync, writeFileSync } from 'node:fs';
const model = await load('tiny', { threads: 1 });
const pcm = await readAudioFile('speech.flac');
const { layers, frames, dim, indices } = await model.extract(pcm, { layers: 'all' });
model.dispose();
const base = 'node_modules/slimwav/models/';
const speech = await readAudioFile(base + 'speech.wav');
const cfg = parseConfig(JSON.parse(readFileSync(base + 'wav2vec2-base-random/config.json', 'utf8')), 'config.json');
writeFileSync('out.bin', Buffer.concat(layers.map((l) => Buffer.from(l.buffer, l.byteOffset, l.byteLength))));
console.log(JSON.stringify({ frames, dim, indices, bundledSamples: speech.length, bundledFrames: convFrames(cfg, speech.length).at(-1) }));
`);
  const r = run(process.execPath, ['run.mjs'], app);
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out) as { frames: number; dim: number; indices: number[]; bundledSamples: number; bundledFrames: number };
  const refs = readRefs(join(FIXTURES, 'tiny-w2v-group', 'ref.safetensors'));
  const h0 = refs.get('hidden.speech.0');
  assert.equal([o.frames, o.dim], h0.shape);
  const all = new Float32Array(new Uint8Array(readFileSync(join(app, 'out.bin'))).buffer);
  const per = o.frames * o.dim;
  for (const i of o.indices) {
    const msg = closeTo(`hidden ${i}`, all.subarray(i * per, (i + 1) * per), refs.get(`hidden.speech.${i}`).data);
    assert.is(msg, '', msg);
  }
  assert.ok(o.bundledSamples > 16000 * 10, `bundled speech.wav: ${o.bundledSamples} samples`);
  assert.is(o.bundledFrames, Math.floor((o.bundledSamples - 400) / 320) + 1);
});

p('npx slimwav demo runs from the installed package (base shape and its pruned layout, all 13 hidden states)', () => {
  const r = run('npx', ['--no', '--', 'slimwav', 'demo', '--runs', '1'], app);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /result\s+13 hidden states \(encoder input \+ 12 layers\) × \d+ frames .* × 768/);
  assert.match(r.out, /^dense\s+94\.4 M/m);
  assert.match(r.out, /^pruned\s+[\d.]+ M/m);
});

p('npx slimwav bench --no-ort (one short run) prints its table from the installed package', () => {
  const r = run('npx', ['--no', '--', 'slimwav', 'bench', '--no-ort', '--seconds', '1', '--iterations', '1', '--threads', '1', '--json'], app);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out.slice(r.out.indexOf('{\n'))) as { rows: { model: string; ms: number }[] };
  assert.ok(j.rows.some((row) => row.model === 'dense' && row.ms > 0) && j.rows.some((row) => row.model === 'pruned' && row.ms > 0), r.out.slice(0, 400));
});

p.run();
