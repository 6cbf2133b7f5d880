// The demo page: pick a model and some audio, run dense and pruned in slimwav's Web Worker (createWorkerModel),
// compare their speed, look at the structure and a hidden state. Everything that goes wrong is said on the page
// in one sentence (#error), never only in the console.
import { createWorkerModel } from '../dist/src/browser.js';
import { parseSafetensors } from '../dist/src/format/safetensors.js';
import { parseConfig } from '../dist/src/arch/config.js';
import { simdSupported } from '../dist/src/runtime/wasm.js';
import { decodeAudio } from '../dist/src/format/audio.js';
import { buildPair, smallConfig } from './models.js';
import { structureSvg, layoutOf } from '../dist/src/viz/structure-svg.js';
import { drawHeatmap } from './heatmap.js';

const $ = (id) => document.getElementById(id);
const state = { audio: null, models: null, modelsKey: '', results: null, busy: false };
/** for tests and the curious: the last run's numbers (features included) */
window.slimwavDemo = state;

const oneLine = (err) => String(err?.message ?? err).split('\n')[0];
function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
}
/** Clear the last error; one that makes the page unusable (no SIMD) stays. */
function clearError() {
  $('error').hidden = !fatal;
  $('error').textContent = fatal ?? '';
}
const status = (text) => { $('status').textContent = text; };
const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
const fmt = (x, d = 1) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const sig = (x) => Number(x).toPrecision(7);

// --- environment -------------------------------------------------------------------------------------------------
const cores = navigator.hardwareConcurrency || 1;
$('threads').value = String(Math.min(cores, 8));
const fatal = !simdSupported()
  ? 'This browser has no WebAssembly SIMD, which slimwav needs: use a current Chrome, Edge, Firefox or Safari (16.4+).'
  : null;
if (fatal) showError(fatal);
$('env').textContent = crossOriginIsolated
  ? `Cross-origin isolated: the model runs in a Web Worker on up to ${cores} threads.`
  : 'This page is not cross-origin isolated, so slimwav runs on one thread: serve it with COOP/COEP headers (npm run web) for threads.';
$('env').className = crossOriginIsolated ? 'env' : 'env warn';

// --- audio -------------------------------------------------------------------------------------------------------
/**
 * 16 kHz mono samples of an audio file. WAV goes through slimwav's own decoder and resampler, so the page gets exactly
 * the samples `slimwav features` reads (the browser's decoder perturbs them by ~1e-5); every other format through
 * the browser's decodeAudioData, resampled to 16 kHz by an OfflineAudioContext.
 */
async function decode(bytes, name) {
  const head = String.fromCharCode(...new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength)));
  if (head === 'RIFF' || head === 'RIFX' || head === 'RF64') {
    try {
      return await decodeAudio(new Uint8Array(bytes), name);
    } catch (err) {
      throw new Error(`${oneLine(err).replace(/\.?$/, '.')}`);
    }
  }
  let buf;
  try {
    buf = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(bytes);
  } catch (err) {
    throw new Error(`${name} could not be decoded as audio (${oneLine(err)}): pick a WAV, MP3, OGG or FLAC file.`);
  }
  const pcm = new Float32Array(buf.length);
  for (let ch = 0; ch < buf.numberOfChannels; ch++) {
    const x = buf.getChannelData(ch);
    for (let i = 0; i < x.length; i++) pcm[i] += x[i] / buf.numberOfChannels;
  }
  if (pcm.length < 400) throw new Error(`${name} is too short (${pcm.length} samples at 16 kHz); slimwav needs at least 25 ms.`);
  return pcm;
}

async function setAudio(bytes, name) {
  clearError();
  state.audio = null;
  $('run').disabled = true;
  $('audio-info').textContent = `decoding ${name}…`;
  try {
    const pcm = await decode(bytes, name);
    state.audio = { pcm, name, seconds: pcm.length / 16000 };
    $('audio-info').textContent = `${name}: ${fmt(state.audio.seconds, 2)} s at 16 kHz`;
  } catch (err) {
    $('audio-info').textContent = 'no audio yet';
    showError(oneLine(err));
  }
  $('run').disabled = !state.audio || !!fatal;
}

$('audio-file').addEventListener('change', async (e) => {
  const f = e.target.files?.[0];
  if (f) await setAudio(await f.arrayBuffer(), f.name);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) await setAudio(await f.arrayBuffer(), f.name);
});
$('sample').addEventListener('click', async () => {
  try {
    const res = await fetch('../models/speech.wav');
    if (!res.ok) throw new Error(`../models/speech.wav: HTTP ${res.status}`);
    await setAudio(await res.arrayBuffer(), 'speech.wav');
  } catch (err) {
    showError(`The bundled speech.wav could not be loaded (${oneLine(err)}).`);
  }
});

let recorder = null;
$('record').addEventListener('click', async () => {
  if (recorder) { recorder.stop(); return; }
  clearError();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showError(`The microphone is not available (${oneLine(err)}).`);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    $('record').textContent = '● record';
    $('record').classList.remove('recording');
    await setAudio(await new Blob(chunks).arrayBuffer(), 'recording');
  };
  recorder.start();
  $('record').textContent = '■ stop';
  $('record').classList.add('recording');
  $('audio-info').textContent = 'recording… press stop when done';
});

// --- models ------------------------------------------------------------------------------------------------------
const choice = () => document.querySelector('input[name=model]:checked').value;

/** The model(s) to run as [{ label, config, weights, params }], built in the page or read from disk. */
async function sources(kind) {
  if (kind === 'small' || kind === 'base') {
    const res = await fetch('../models/wav2vec2-base-random/config.json');
    if (!res.ok) throw new Error(`../models/wav2vec2-base-random/config.json: HTTP ${res.status}`);
    const base = await res.json();
    status(`building the ${kind === 'base' ? 'wav2vec2-base-shape' : 'small'} dense and pruned models in the page…`);
    await frame();
    const pair = buildPair(kind === 'base' ? base : smallConfig(base));
    return [{ label: 'dense', ...pair.dense }, { label: 'pruned', ...pair.pruned }];
  }
  const files = [...($('model-files').files ?? [])];
  if (files.length === 0) throw new Error('Pick a model first: a .safetensors file (config in its metadata) or config.json together with model.safetensors.');
  const st = files.find((f) => f.name.endsWith('.safetensors'));
  if (!st) throw new Error(`No .safetensors file among ${files.map((f) => f.name).join(', ')}.`);
  const weights = new Uint8Array(await st.arrayBuffer());
  const cfgFile = files.find((f) => f.name.endsWith('.json'));
  let config;
  if (cfgFile) {
    try {
      config = JSON.parse(await cfgFile.text());
    } catch (err) {
      throw new Error(`${cfgFile.name} is not valid JSON (${oneLine(err)}).`);
    }
  } else {
    const meta = parseSafetensors(weights, st.name).metadata;
    if (!meta.config) throw new Error(`${st.name} has no config in its metadata: pick its config.json too.`);
    try {
      config = JSON.parse(meta.config);
    } catch (err) {
      throw new Error(`${st.name}: the config in its metadata is not valid JSON (${oneLine(err)}).`);
    }
  }
  return [{ label: st.name.replace(/\.safetensors$/, ''), config, weights, params: null }];
}

async function models() {
  const threads = Number($('threads').value);
  const kind = choice();
  const key = `${kind}/${threads}/${kind === 'disk' ? [...$('model-files').files].map((f) => f.name + f.size).join() : ''}`;
  if (state.models && state.modelsKey === key) return state.models;
  state.models?.forEach((m) => m.model.dispose());
  state.models = null;
  const list = await sources(kind);
  const loaded = [];
  try {
    for (const s of list) {
      status(`loading ${s.label} into a worker (${threads} thread${threads > 1 ? 's' : ''})…`);
      const model = await createWorkerModel({ config: s.config, weights: s.weights, name: s.label }, { threads, transferWeights: true });
      loaded.push({ label: s.label, model, cfg: parseConfig(s.config), params: s.params ?? model.info.params });
    }
  } catch (err) {
    loaded.forEach((m) => m.model.dispose());
    throw err;
  }
  state.models = loaded;
  state.modelsKey = key;
  return loaded;
}
document.querySelectorAll('input[name=model]').forEach((r) => r.addEventListener('change', () => clearError()));
$('model-files').addEventListener('change', () => { document.querySelector('input[value=disk]').checked = true; });

// --- run ---------------------------------------------------------------------------------------------------------
$('run').addEventListener('click', async () => {
  if (state.busy || !state.audio) return;
  state.busy = true;
  $('run').disabled = true;
  clearError();
  status('starting…');
  try {
    const list = await models();
    const runs = Math.max(1, Math.min(20, Math.round(Number($('runs').value) || 1)));
    const { pcm, seconds } = state.audio;
    const results = [];
    for (const m of list) {
      status(`running ${m.label}…`);
      // the first run returns every hidden state (shown below) and warms up; the timed runs return the last one
      const all = await m.model.extract(pcm, { layers: 'all' });
      let best = Infinity;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await m.model.extract(pcm, { layers: 'last' });
        best = Math.min(best, performance.now() - t0);
      }
      results.push({ label: m.label, ms: best, rtf: best / 1000 / seconds, features: all, params: m.params, cfg: m.cfg,
        threads: m.model.threads, kernels: m.model.info.kernels, warnings: m.model.warnings });
    }
    state.results = results;
    render(results);
    status(`done: ${state.audio.name}, ${fmt(seconds, 2)} s of audio, best of ${runs} run${runs > 1 ? 's' : ''} each`);
  } catch (err) {
    status('');
    showError(oneLine(err));
  } finally {
    state.busy = false;
    $('run').disabled = !state.audio || !!fatal;
  }
});

function stats(x) {
  let s = 0, q = 0;
  for (let i = 0; i < x.length; i++) { s += x[i]; q += x[i] * x[i]; }
  return { mean: s / x.length, rms: Math.sqrt(q / x.length) };
}

function render(results) {
  $('results').hidden = false;
  $('cards').innerHTML = '';
  for (const r of results) {
    const L = r.features.layers.length - 1;
    const last = r.features.layers[L];
    const { mean, rms } = stats(last);
    const card = document.createElement('div');
    card.className = 'card';
    card.dataset.model = r.label;
    card.innerHTML = `<h4>${r.label}</h4><dl>
      <dt>time</dt><dd><span class="ms" data-k="ms">${fmt(r.ms, 1)}</span> ms</dd>
      <dt>real-time factor</dt><dd data-k="rtf">${r.rtf.toFixed(4)}</dd>
      <dt>parameters</dt><dd data-k="params">${(r.params / 1e6).toFixed(2)} M</dd>
      <dt>threads · kernels</dt><dd data-k="threads">${r.threads} · ${r.kernels}</dd>
      <dt>output</dt><dd data-k="shape">${r.features.frames} frames × ${r.features.dim}</dd>
      <dt>hidden ${r.features.indices[L]} mean</dt><dd data-k="mean">${sig(mean)}</dd>
      <dt>hidden ${r.features.indices[L]} rms</dt><dd data-k="rms">${sig(rms)}</dd>
      <dt>[0, 0..2]</dt><dd data-k="first">${[0, 1, 2].map((i) => sig(last[i])).join(' ')}</dd>
    </dl>`;
    $('cards').append(card);
  }
  const dense = results.find((r) => r.label === 'dense'), pruned = results.find((r) => r.label === 'pruned');
  $('speedup').textContent = dense && pruned
    ? `pruned: ${(100 * pruned.params / dense.params).toFixed(0)}% of the parameters, ${(dense.ms / pruned.ms).toFixed(2)}× faster than dense`
    : '';
  const warn = [...new Set(results.flatMap((r) => r.warnings))];
  if (warn.length && crossOriginIsolated) showError(warn[0].replace(/^slimwav: /, 'slimwav ran ') + '.');
  // the same picture as `slimwav inspect --svg`, one per model, against the first model's conv widths
  const convDense = results[0].cfg.conv.map((c) => c.dim);
  $('structure').innerHTML = results.map((r) => `<figure>${structureSvg(layoutOf(r.cfg, convDense), { title: r.label })}</figure>`).join('');
  const hm = $('heat-model'), hl = $('heat-layer');
  hm.innerHTML = results.map((r, i) => `<option value="${i}">${r.label}</option>`).join('');
  hl.innerHTML = results[0].features.indices.map((i) => `<option value="${i}">hidden state ${i}</option>`).join('');
  hl.value = String(results[0].features.indices.at(-1));
  heat();
}

function heat() {
  const r = state.results?.[Number($('heat-model').value)];
  if (!r) return;
  const i = r.features.indices.indexOf(Number($('heat-layer').value));
  const layer = r.features.layers[i >= 0 ? i : r.features.layers.length - 1];
  drawHeatmap($('heat'), layer, r.features.frames, r.features.dim);
}
$('heat-model').addEventListener('change', heat);
$('heat-layer').addEventListener('change', heat);
