// Runs in the browser (page or Web Worker): load the tiny fixture through slimwav/browser, extract every layer of
// input.speech and compare with the torchaudio reference (max|ours − ref| ≤ 1e-4·max(1, max|ref|)).
import { loadFromUrl } from '../../dist/src/browser.js';
import { parseSafetensors } from '../../dist/src/format/safetensors.js';
import { toFloat32 } from '../../dist/src/format/tensor.js';

const FIXTURE = new URL('../fixtures/tiny-w2v-group/', import.meta.url);

export async function runCase(opts) {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => { warnings.push(a.join(' ')); warn.apply(console, a); };
  try {
    const model = await loadFromUrl(FIXTURE, opts);
    const refBytes = new Uint8Array(await (await fetch(new URL('ref.safetensors', FIXTURE))).arrayBuffer());
    const refs = parseSafetensors(refBytes, 'ref.safetensors').tensors;
    const input = toFloat32(refs.get('input.speech'), 'input.speech');
    const out = await model.extract(input, { layers: 'all' });
    const failures = [];
    let worst = 0;
    out.layers.forEach((ours, i) => {
      const name = `hidden.speech.${out.indices[i]}`;
      const ref = toFloat32(refs.get(name), name);
      if (ref.length !== ours.length) { failures.push(`${name}: length ${ours.length} vs ${ref.length}`); return; }
      let diff = 0, scale = 0;
      for (let j = 0; j < ref.length; j++) {
        const d = Math.abs(ours[j] - ref[j]);
        if (!(d <= diff)) diff = d;
        scale = Math.max(scale, Math.abs(ref[j]));
      }
      const bound = 1e-4 * Math.max(1, scale);
      worst = Math.max(worst, diff / bound);
      if (!(diff <= bound)) failures.push(`${name}: max diff ${diff} > ${bound}`);
    });
    const result = {
      layers: out.layers.length, threads: model.threads, kernels: model.info.kernels,
      isolated: globalThis.crossOriginIsolated === true, worker: typeof document === 'undefined',
      worst, failures, warnings,
    };
    model.dispose();
    return result;
  } catch (err) {
    return { error: String((err && err.stack) || err), warnings };
  } finally {
    console.warn = warn;
  }
}
