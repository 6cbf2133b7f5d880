#!/usr/bin/env node
// Builds the AssemblyScript kernels (assembly/) into build/*.wasm.
//   release: -O3, asserts removed, unchecked indexing, then binaryen's wasm-opt -O3 again
//   debug:   asserts kept, used by the kernel tests to catch contract violations
// Built .wasm files are not committed; `npm run build` (and `npm test`) produce them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
mkdirSync(join(root, 'build'), { recursive: true });

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

for (const target of ['release', 'debug']) {
  run(bin('asc'), ['assembly/index.ts', '--config', 'asconfig.json', '--target', target]);
}
// A second optimisation pass with binaryen's own optimiser (asc's -O3 already runs binaryen, this converges further).
const rel = 'build/slimwav.simd.wasm';
run(bin('wasm-opt'), [rel, '-O3', '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext', '--enable-nontrapping-float-to-int', '--enable-mutable-globals', '-o', rel]);
for (const f of [rel, 'build/slimwav.debug.wasm']) {
  console.log(`built ${f} (${statSync(join(root, f)).size} bytes)`);
}
