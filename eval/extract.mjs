#!/usr/bin/env node
// Mean-pooled hidden states of every clip of some int16 .npy splits, through slimwav's own runtime.
//
//   node eval/extract.mjs <model> <out-dir> <split.npy>… [--threads N] [--dtype f32|q8]
//
// --dtype q8 (or the environment's SLIMWAV_DTYPE=q8) runs the model with int8 weights, load(…, { dtype: 'q8' });
// info.json records the dtype, so probe.py never reuses features of the other one.
// For each split `name.npy` (int16 [N, 16000], from eval/make_data.py) writes <out-dir>/name.npy, float32
// [N, L+1, hidden]: every hidden state (HF output_hidden_states numbering, `--layers all`) averaged over frames.
// Also writes <out-dir>/info.json: params and MACs/s as slimwav counts them, frames per clip, seconds taken.
// One model load for all clips (one CLI call per clip would spend most of its time loading).
import { readFileSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { load } = await import(join(root, 'dist/src/index.js'));
const { encodeNpy } = await import(join(root, 'dist/src/format/npy.js'));

function readInt16Npy(path) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x934e554d) throw new Error(`${path}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = b.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  if (!/'descr': '<i2'/.test(header) || /'fortran_order': True/.test(header)) throw new Error(`${path}: expected C-order int16, header ${header.trim()}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Int16Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  return { shape, data };
}

const args = process.argv.slice(2);
let threads = 2;
let dtype = process.env.SLIMWAV_DTYPE || 'f32';
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threads') threads = Number(args[++i]);
  else if (args[i] === '--dtype') dtype = args[++i];
  else pos.push(args[i]);
}
if (pos.length < 3 || !['f32', 'q8'].includes(dtype)) {
  if (pos.length >= 3) process.stderr.write(`extract.mjs: --dtype must be f32 or q8, found "${dtype}"\n`);
  process.stderr.write('usage: node eval/extract.mjs <model> <out-dir> <split.npy>… [--threads N] [--dtype f32|q8]\n');
  process.exit(2);
}
const [modelPath, outDir, ...splits] = pos;
mkdirSync(outDir, { recursive: true });
const t0 = Date.now();
const model = await load(modelPath, dtype === 'q8' ? { threads, dtype } : { threads });
if (model.info.dtype !== undefined && model.info.dtype !== dtype) throw new Error(`asked for dtype ${dtype}, the model runs ${model.info.dtype}`);
const info = { model: resolve(modelPath), dtype, params: model.info.params, macs_per_second: model.info.macsPerSecond, splits: {} };
try {
  for (const sp of splits) {
    const t1 = Date.now();
    const { shape, data } = readInt16Npy(sp);
    const [n, len] = shape;
    let out = null, nl = 0, dim = 0, frames = 0;
    const pcm = new Float32Array(len);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < len; j++) pcm[j] = data[i * len + j] / 32768;
      const f = await model.extract(pcm, { layers: 'all' });
      if (!out) {
        nl = f.layers.length; dim = f.dim; frames = f.frames;
        out = new Float32Array(n * nl * dim);
      }
      for (let l = 0; l < nl; l++) {
        const src = f.layers[l], o = (i * nl + l) * dim;
        for (let t = 0; t < f.frames; t++) for (let d = 0; d < dim; d++) out[o + d] += src[t * dim + d];
        for (let d = 0; d < dim; d++) out[o + d] /= f.frames;
      }
    }
    const name = basename(sp).replace(/\.npy$/, '');
    const dst = join(outDir, `${name}.npy`);
    writeFileSync(dst + '.tmp', encodeNpy(out, [n, nl, dim]));
    renameSync(dst + '.tmp', dst);
    info.splits[name] = { clips: n, layers: nl, dim, frames, seconds: (Date.now() - t1) / 1000 };
    process.stderr.write(`${name}: ${n} clips × ${nl} layers × ${dim} in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
  }
} finally {
  model.dispose();
}
info.seconds = (Date.now() - t0) / 1000;
writeFileSync(join(outDir, 'info.json'), JSON.stringify(info, null, 1) + '\n');
