// The wasmBase / wasmUrl load options (where a bundled app put the kernels), under Node: the kernels are read from
// the folder or file given, and a wrong place is one E_WASM line naming where it looked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { load } from '../../src/model.js';
import { instantiateKernels, kernelFile } from '../../src/runtime/wasm.js';
import { FIXTURES } from '../ref/fixtures.js';
import { rejectsCode } from '../ref/assert.js';

const BUILD = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build');
const tone = new Float32Array(8000).map((_, i) => Math.sin(i / 5));

test('wasmBase (a folder path or file: URL) and wasmUrl load the kernels from there, with the same result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-wasm-'));
  try {
    copyFileSync(join(BUILD, kernelFile('release')), join(dir, 'slimwav.simd.wasm'));
    const model = join(FIXTURES, 'tiny-w2v-group');
    const ref = await load(model, { threads: 1, simd: 'plain' });
    const want = (await ref.extract(tone)).layers[0];
    ref.dispose();
    for (const opts of [{ wasmBase: dir }, { wasmBase: pathToFileURL(dir + '/') }, { wasmUrl: (f: string) => join(dir, f) }]) {
      const m = await load(model, { threads: 1, simd: 'plain', ...opts });
      assert.equal((await m.extract(tone)).layers[0], want);
      m.dispose();
    }
    // the folder holds only the plain build: asking for relaxed there fails and names the file it looked for
    await rejectsCode(instantiateKernels('relaxed', undefined, { wasmBase: dir }), 'E_WASM', join(dir, 'slimwav.relaxed.wasm'), 'wasmBase');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wasmBase with no kernels: E_WASM naming the path, from load() too', async () => {
  const nowhere = join(tmpdir(), 'slimwav-no-such-folder');
  await rejectsCode(load(join(FIXTURES, 'tiny-w2v-group'), { threads: 1, simd: 'plain', wasmBase: nowhere }), 'E_WASM', join(nowhere, 'slimwav.simd.wasm'));
});

test.run();
