#!/usr/bin/env node
// Builds the AssemblyScript kernels (assembly/) into build/*.wasm.
//   release:        -O3, asserts removed, unchecked indexing, then binaryen's wasm-opt -O3 again
//   release-shared: the same over a shared memory (threads feature), for worker threads
//   debug:          asserts kept, used by the kernel tests to catch contract violations
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

// Shared memory must declare its maximum up front: the whole 4 GiB wasm32 space (only reserved, not committed).
const SHARED = ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'];
const builds = [
  { target: 'release', out: 'build/slimwav.simd.wasm', extra: [], features: [] },
  { target: 'release', out: 'build/slimwav.simd-shared.wasm', extra: SHARED, features: ['--enable-threads'] },
  { target: 'debug', out: 'build/slimwav.debug.wasm', extra: [], features: null },
];
for (const b of builds) {
  run(bin('asc'), ['assembly/index.ts', '--config', 'asconfig.json', '--target', b.target, '-o', b.out, ...b.extra]);
  if (b.features) {
    // a second optimisation pass with binaryen's own optimiser (asc's -O3 already runs binaryen; this converges further)
    run(bin('wasm-opt'), [b.out, '-O3', '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext',
      '--enable-nontrapping-float-to-int', '--enable-mutable-globals', ...b.features, '-o', b.out]);
  }
  console.log(`built ${b.out} (${statSync(join(root, b.out)).size} bytes)`);
}
