// `slimwav web` and its server (src/cli/serve.ts): the headers a page needs for threads and streaming compilation,
// nothing served outside the allowed folders, and one-line CLI errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/cli/serve.js';
import { BIN, slimwav, fails } from '../ref/cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('serves web/ and the kernels with COOP/COEP and application/wasm; refuses other folders and traversal', async () => {
  const server = await startServer(ROOT);
  try {
    const page = await fetch(server.origin + '/web/');
    assert.is(page.status, 200);
    assert.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.is(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.is(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /<title>slimwav in the browser<\/title>/);
    const wasm = await fetch(server.origin + '/build/slimwav.simd.wasm');
    assert.is(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal([...new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
    const root = await fetch(server.origin + '/', { redirect: 'manual' });
    assert.is(root.status, 302);
    assert.is(root.headers.get('location'), '/web/');
    for (const p of ['/package.json', '/src/model.ts', '/web/../package.json', '/web/%2e%2e/package.json', '/test/fixtures/tiny-w2v-group/config.json']) {
      assert.is((await fetch(server.origin + p)).status, 403, p);
    }
    assert.is((await fetch(server.origin + '/web/missing.js')).status, 404);
  } finally {
    await server.close();
  }
});

test('isolation off sends no COOP/COEP; prefix mode only under /coi/', async () => {
  const off = await startServer(ROOT, { isolation: 'off' });
  const prefix = await startServer(ROOT, { isolation: 'prefix' });
  try {
    assert.is((await fetch(off.origin + '/web/')).headers.get('cross-origin-embedder-policy'), null);
    assert.is((await fetch(prefix.origin + '/web/')).headers.get('cross-origin-embedder-policy'), null);
    assert.is((await fetch(prefix.origin + '/coi/web/')).headers.get('cross-origin-embedder-policy'), 'require-corp');
  } finally {
    await off.close();
    await prefix.close();
  }
});

test('slimwav web: prints the address and serves until interrupted', async () => {
  const child = spawn(process.execPath, [BIN, 'web', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((ok, bad) => {
      let out = '';
      child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) ok(out); });
      child.once('exit', (code) => bad(new Error(`exited ${code}`)));
    });
    const m = /^slimwav demo page: (http:\/\/127\.0\.0\.1:\d+)\/web\/ {2}\(cross-origin isolated: threads on; Ctrl-C stops\)\n$/.exec(line);
    assert.ok(m, line);
    assert.is((await fetch(m![1] + '/web/app.js')).status, 200);
  } finally {
    child.kill('SIGINT');
    await new Promise((ok) => child.once('exit', ok));
  }
});

test('slimwav web: a bad port or an unknown option is one line and exit 2', () => {
  const bad = slimwav('web', '--port', 'eighty');
  fails(bad, '--port', 'eighty');
  assert.is(bad.code, 2);
  const unknown = slimwav('web', '--colour');
  fails(unknown, '--colour');
  assert.is(unknown.code, 2);
});

test.run();
