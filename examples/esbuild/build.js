// Bundle the example with esbuild: the app and slimwav's worker as two entry points (the worker is found next to
// the bundle, as createWorkerModel expects), and the kernels copied beside them. Serve this folder with COOP/COEP
// for threads. Run: node examples/esbuild/build.js [outdir]   (default examples/esbuild/out)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export async function bundle(dir = join(here, 'out')) {
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: { app: join(here, 'app.js'), worker: 'slimwav/worker' },
    absWorkingDir: here,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    outdir: dir,
    logLevel: 'warning',
  });
  // the kernels: every build, since the runtime picks one for the browser it runs in
  const wasmDir = join(dirname(createRequire(join(here, 'app.js')).resolve('slimwav/package.json')), 'build');
  for (const f of readdirSync(wasmDir)) if (/^slimwav\.[\w-]+\.wasm$/.test(f) && !f.includes('debug')) copyFileSync(join(wasmDir, f), join(dir, f));
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await bundle(process.argv[2]);
  console.log(`bundled into ${dir}; serve ${here} with COOP/COEP and open index.html?model=<folder URL>`);
}
