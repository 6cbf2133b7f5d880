#!/usr/bin/env node
// Builds the AssemblyScript kernels (assembly/) into build/*.wasm: two instruction families × two memories, plus
// the assert-keeping debug builds.
//   simd:     WebAssembly SIMD128; the multiply-add of every hot loop is f32x4.mul + f32x4.add
//   relaxed:  the same source with `--enable relaxed-simd`, which turns assembly/simd.ts `madd` into
//             f32x4.relaxed_madd (a fused multiply-add on CPUs that have one)
//   private memory or shared memory (threads feature, for worker threads over one memory)
//   release:  -O3, asserts removed, unchecked indexing, then binaryen's wasm-opt -O3 again
//   debug:    asserts kept, used by the kernel tests to catch contract violations
// Built .wasm files are not committed; `npm run build` (and `npm test`) produce them. The generated kernels
// (assembly/gen/) are committed source: scripts/gen-kernels.js rewrites them, this script does not.
// After building, every build must export the same ABI, and src/runtime/abi.gen.ts (the host's typed view of the
// exports, committed) is regenerated from them by scripts/gen-abi.js: a changed kernel signature shows up there and
// in the typecheck of every caller. With CI set (.ci/run) it is only checked: a stale committed copy fails the build.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ABI_FILE, checkBuilds, generate, write as writeAbi } from './gen-abi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
mkdirSync(join(root, 'build'), { recursive: true });

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
}

// Shared memory must declare its maximum up front: the whole 4 GiB wasm32 space (only reserved, not committed).
const SHARED = ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'];
const RELAXED = ['--enable', 'relaxed-simd'];
/** out: file; asc: extra compiler flags; opt: extra wasm-opt features (null = no second pass, the debug builds) */
const builds = [
  { target: 'release', out: 'build/slimwav.simd.wasm', asc: [], opt: [] },
  { target: 'release', out: 'build/slimwav.simd-shared.wasm', asc: SHARED, opt: ['--enable-threads'] },
  { target: 'release', out: 'build/slimwav.relaxed.wasm', asc: RELAXED, opt: ['--enable-relaxed-simd'] },
  { target: 'release', out: 'build/slimwav.relaxed-shared.wasm', asc: [...RELAXED, ...SHARED],
    opt: ['--enable-relaxed-simd', '--enable-threads'] },
  { target: 'debug', out: 'build/slimwav.debug.wasm', asc: [], opt: null },
  { target: 'debug', out: 'build/slimwav.relaxed-debug.wasm', asc: RELAXED, opt: null },
];
for (const b of builds) {
  run(bin('asc'), ['assembly/index.ts', '--config', 'asconfig.json', '--target', b.target, '-o', b.out, ...b.asc]);
  if (b.opt) {
    // a second optimisation pass with binaryen's own optimiser (asc's -O3 already runs binaryen; this converges further)
    run(bin('wasm-opt'), [b.out, '-O3', '--enable-simd', '--enable-bulk-memory', '--enable-sign-ext',
      '--enable-nontrapping-float-to-int', '--enable-mutable-globals', ...b.opt, '-o', b.out]);
  }
  console.log(`built ${b.out} (${statSync(join(root, b.out)).size} bytes)`);
}
try {
  checkBuilds(builds.map((b) => b.out));
  // CI builds a clean checkout: there the committed abi.gen.ts must already be what the sources produce (a stale copy
  // fails the build instead of being quietly rewritten, which would let the tests pass on a file nobody committed).
  if (process.env.CI) {
    if (generate() !== readFileSync(join(root, ABI_FILE), 'utf8')) {
      throw new Error(`${ABI_FILE} is stale: the kernels' signatures changed; run \`npm run build:wasm\` and commit ${ABI_FILE}`);
    }
  } else if (writeAbi()) console.log(`wrote ${ABI_FILE}: the kernel ABI changed (commit it)`);
} catch (err) {
  console.error(`build-wasm: ${err.message}`);
  process.exit(1);
}
