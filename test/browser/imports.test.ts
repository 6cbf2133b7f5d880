// What each entry point pulls in, read from the built dist/ by following static imports (dynamic import() is lazy
// and allowed in the Node entries). slimwav/browser must load where there is no Node and bundle without
// configuration: no module it reaches may import node:* or any bare specifier, statically or with import().
// slimwav (the Node runtime) must not reach the pruner, the ONNX exporter or protobufjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = join(ROOT, 'dist', 'src');

/** Every module reached from `entry` by static imports, and every bare specifier (package or node:*) imported. */
function reach(entry: string): { modules: string[]; bare: string[]; dynamic: string[] } {
  assert.ok(existsSync(entry), `${entry} is built (npm run build)`);
  const seen = new Set<string>();
  const bare: string[] = [];
  const dynamic: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bare.push(`${file.slice(DIST.length + 1)} imports ${spec}`);
    }
    // import('x') of node:* or of a computed name a bundler cannot see (a package named literally is bundled, lazily)
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, ''); // comments may mention import()
    for (const m of code.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)) {
      if (/^['"`]node:/.test(m[1]) || !/^['"][^'"]+['"]$/.test(m[1].trim())) dynamic.push(`${file.slice(DIST.length + 1)} has import(${m[1]})`);
    }
  };
  visit(entry);
  return { modules: [...seen].map((f) => f.slice(DIST.length + 1)), bare, dynamic };
}

test('slimwav/browser reaches only relative static imports, and no node: or computed import()', () => {
  const { modules, bare, dynamic } = reach(join(DIST, 'browser.js'));
  assert.equal(bare, [], bare.join('\n'));
  assert.equal(dynamic, [], dynamic.join('\n'));
  assert.ok(modules.length > 10, `walked ${modules.length} modules`);
  assert.ok(modules.includes('runtime/wasm.js') && modules.includes('runtime/threads.js'), modules.join(' '));
  assert.ok(!modules.includes('util/node-host.js'), 'the Node host module stays out of the browser graph');
});

test('the shipped worker (slimwav/dist/src/worker.js) likewise', () => {
  const { bare, dynamic, modules } = reach(join(DIST, 'worker.js'));
  assert.equal([...bare, ...dynamic], [], [...bare, ...dynamic].join('\n'));
  assert.ok(modules.includes('browser.js'), modules.join(' '));
});

test('the dynamic-import check sees a computed import() (the Node CLI loads its optional onnxruntime runner that way)', () => {
  const { dynamic } = reach(join(DIST, 'cli', 'bench.js'));
  assert.ok(dynamic.some((d) => d.includes('import(spec)')), dynamic.join('\n'));
});

test('slimwav (the runtime) reaches neither the pruner, the ONNX exporter nor protobufjs', () => {
  const { modules, bare } = reach(join(DIST, 'index.js'));
  assert.ok(modules.includes('model-core.js') && modules.includes('runtime/engine.js'), modules.join(' '));
  const heavy = modules.filter((m) => m.startsWith('prune/') || m.startsWith('onnx/') || m.startsWith('cli/'));
  assert.equal(heavy, [], `import 'slimwav' loads ${heavy.join(', ')}`);
  assert.ok(!bare.some((b) => /protobufjs|onnxruntime|tinybench/.test(b)), bare.join('\n'));
});

test('slimwav/prune and slimwav/onnx are entry points of their own', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  assert.equal(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort(), ['.', './browser', './build/*', './onnx', './prune', './worker']);
  for (const [k, v] of Object.entries(pkg.exports)) {
    if (typeof v === 'object') assert.ok(existsSync(join(ROOT, v.default)), `${k} → ${v.default} is built`);
  }
  assert.ok(reach(join(DIST, 'onnx', 'index.js')).bare.some((b) => b.endsWith('protobufjs')), 'slimwav/onnx uses protobufjs');
  assert.ok(reach(join(DIST, 'prune', 'index.js')).modules.includes('prune/train.js'));
});

test.run();
