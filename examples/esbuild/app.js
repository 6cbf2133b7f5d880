// A minimal app using slimwav/browser, bundled by esbuild (build.js). The model runs in slimwav's own worker;
// the app says where the kernels (copied next to the bundle) are with wasmBase.
//   index.html?model=<folder URL with config.json + model.safetensors>
import { createWorkerModel } from 'slimwav/browser';

const out = document.getElementById('out');
const here = new URL('./', import.meta.url);

async function main() {
  const model = new URLSearchParams(location.search).get('model');
  if (!model) throw new Error('add ?model=<folder URL> to the address');
  const m = await createWorkerModel(model, { threads: 2, wasmBase: here });
  // one second of a 220 Hz tone at 16 kHz
  const pcm = new Float32Array(16000).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 220 * i) / 16000));
  const t0 = performance.now();
  const f = await m.extract(pcm, { layers: 'last' });
  const result = { frames: f.frames, dim: f.dim, ms: performance.now() - t0, threads: m.threads, kernels: m.info.kernels, last: Array.from(f.layers[0]) };
  m.dispose();
  return result;
}

window.__result = main().then(
  (r) => { out.textContent = `${r.frames} frames × ${r.dim} in ${r.ms.toFixed(1)} ms on ${r.threads} thread(s) (${r.kernels})`; return r; },
  (err) => { out.textContent = `error: ${err.message}`; return { error: err.message, code: err.code }; },
);
