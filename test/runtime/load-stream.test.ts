// load() packs weights straight from the file, a few rows at a time (format/tensor.ts ChunkReader): the packed
// weights are the same bytes whatever the chunk size and whether the tensors are in memory or in the file, and the
// same as packing the binding's whole arrays; the large tensors are never read whole (an int8 file's weights never
// become f32 copies); the NaN/Inf and int8-range checks see every chunk and name the right element.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, buildModel, parseConfig } from '../../src/index.js';
import { bindWeights, quantizable, weightsToTensors } from '../../src/arch/binding.js';
import { openModelFiles } from '../../src/arch/model-files.js';
import { WeightScan } from '../../src/model-core.js';
import { openSafetensorsFile, parseSafetensors, serializeSafetensors } from '../../src/format/safetensors.js';
import { ChunkReader, isDeferred, numel, toFloat32, fromFloat32, type RawTensor } from '../../src/format/tensor.js';
import { Engine } from '../../src/runtime/engine.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { packB, packedFloats } from '../../src/runtime/pack.js';
import { packQ8, q8PackedBytes, q8ScaleFloats } from '../../src/runtime/pack-q8.js';
import { FIXTURES, readRefs } from '../ref/fixtures.js';
import { rejectsCode, throwsCode } from '../ref/assert.js';

const s = suite('load streams the weights');
const work = mkdtempSync(join(tmpdir(), 'slimwav-stream-'));

const readTensors = (file: string) => parseSafetensors(new Uint8Array(readFileSync(file)), file).tensors;

/** A model folder with these tensors and config. */
function folder(name: string, config: unknown, tensors: Map<string, RawTensor>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors({ tensors, metadata: {} }));
  return dir;
}

/** The packed weight region of an engine built on `tensors` through `reader`, and the engine. */
async function packed(cfg: ReturnType<typeof parseConfig>, tensors: Map<string, RawTensor>, dtype: 'auto' | 'f32' | 'q8', reader?: ChunkReader,
  posConv: 'auto' | 'dft' = 'auto') {
  const k = await instantiateKernels('release');
  const mem = new LinearMemory(k.memory, k.heapBase);
  const e = new Engine(cfg, tensors, k.exports, mem, null, { dtype, posConv }, undefined, reader);
  return { bytes: new Uint8Array(k.memory.buffer.slice(mem.base, mem.top)), e, mem };
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

for (const name of ['tiny-w2v-group', 'ragged-w2v-a', 'wavlm-ragged-a', 'tiny-hubert-layer-preln']) {
  s(`${name}: the same packed bytes from the file in 64-byte chunks, from memory, and as the whole arrays packed (f32, q8 file, dtypes)`, async () => {
    const dir = join(FIXTURES, name);
    const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const cfg = parseConfig(cfgJson);
    const f32 = readTensors(join(dir, 'model.safetensors'));
    const q8 = weightsToTensors(bindWeights(cfg, f32, dir, { quantize: true }), { q8: true });
    const q8dir = folder(`${name}-q8`, cfgJson, q8);
    for (const [what, file, mem] of [['f32', join(dir, 'model.safetensors'), f32], ['q8', join(q8dir, 'model.safetensors'), q8]] as const) {
      for (const dtype of ['auto', 'f32', 'q8'] as const) {
        const a = await packed(cfg, openSafetensorsFile(file).tensors, dtype, new ChunkReader(64));
        const b = await packed(cfg, mem, dtype);
        assert.ok(same(a.bytes, b.bytes), `${what} file, dtype ${dtype}: file in 64-byte chunks vs memory`);
        // the DFT positional conv: its weight streamed into linear memory and weight norm folded there
        const c = await packed(cfg, openSafetensorsFile(file).tensors, dtype, new ChunkReader(64), 'dft');
        const c2 = await packed(cfg, mem, dtype, undefined, 'dft');
        assert.ok(same(c.bytes, c2.bytes), `${what} file, dtype ${dtype}, DFT positional conv: file in chunks vs memory`);
        if (what === 'q8' && dtype === 'auto') {
          // the q8 file (its positional conv int8, dequantized and folded as it streams) packs exactly as the f32
          // weights quantized at bind time (the binding's whole arrays: dequantized, then folded)
          const c3 = await packed(cfg, f32, 'q8', undefined, 'dft');
          assert.ok(same(c.bytes, c3.bytes), 'q8 file, DFT positional conv: the same bytes as load(f32, { dtype: "q8" })');
        }
        assert.is(a.e.dtype, b.e.dtype);
        // the projection and layer 0's fused q|k|v as packing the binding's whole arrays gives them (the path before
        // streaming; bindWeights without defer)
        const bound = bindWeights(cfg, mem, dir, { quantize: dtype === 'q8' });
        const eng = a.e as unknown as { proj: { w: number; s: number }; layers: { qkv: { w: number; s: number } | null }[] };
        const checks: [string, { w: number; s: number }, { weight: Float32Array; q8: { q: Int8Array; scale: Float32Array } | null; rows: number; cols: number }][] = [
          ['projection', eng.proj, bound.front.proj],
        ];
        if (eng.layers[0].qkv && bound.layers[0].attn) checks.push(['layer 0 q|k|v', eng.layers[0].qkv, bound.layers[0].attn.qkv]);
        for (const [part, lin, d] of checks) {
          const N = d.rows, K = d.cols, at = (p: number, n: number) => new Uint8Array(a.bytes.buffer, p - a.mem.base, n);
          if (lin.s) {
            const w = new Int8Array(q8PackedBytes(N, K)), sc = new Float32Array(q8ScaleFloats(N));
            packQ8(d.q8!, N, K, w, sc);
            assert.ok(same(at(lin.w, w.length), new Uint8Array(w.buffer)), `${what} ${dtype} ${part}: int8 panels`);
            assert.ok(same(at(lin.s, sc.byteLength), new Uint8Array(sc.buffer)), `${what} ${dtype} ${part}: scales`);
          } else {
            const w = new Float32Array(packedFloats(N, K));
            packB(d.weight, N, K, w, K);
            assert.ok(same(at(lin.w, w.byteLength), new Uint8Array(w.buffer)), `${what} ${dtype} ${part}: f32 panels`);
          }
        }
      }
    }
  });
}

s('load() of a q8 file reads no large tensor whole (no f32 copies of the int8 weights), and runs as load(f32, q8) does', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cfg = parseConfig(cfgJson);
  const f32 = readTensors(join(dir, 'model.safetensors'));
  const q8dir = folder('q8-lazy', cfgJson, weightsToTensors(bindWeights(cfg, f32, dir, { quantize: true }), { q8: true }));
  const input = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  for (const d of [q8dir, dir]) {
    const files = await openModelFiles(d, { lazy: true });
    const m = await buildModel(files.config, files.tensors, files.source, [], { threads: 1 });
    const read = [...files.tensors].filter(([, t]) => !isDeferred(t));
    // only small tensors (biases, norms, scales, conv layer 0) were read whole; every int8 one streamed
    // (the positional conv of a model this small runs directly, from the binding's folded, dequantized array: read
    // whole, int8 or not; the DFT form that base-sized models use streams it, int8 dequantized per row: see the
    // posConv 'dft' runs above)
    for (const [n, t] of read) {
      const pos = n.startsWith('encoder.pos_conv_embed.');
      assert.ok((t.dtype !== 'I8' || pos) && (numel(t.shape) <= 4096 || pos), `${d}: ${n} ${t.dtype}[${t.shape}] was read whole`);
    }
    // every linear layer's and conv layer ≥ 1's weight streamed
    const weights = [...files.tensors].filter(([n]) => quantizable(n));
    assert.ok(weights.length >= 4 * cfg.numLayers + 2, `${weights.length} linear weights`);
    for (const [n, t] of weights) assert.ok(isDeferred(t), `${d}: ${n} was read whole`);
    if (d === q8dir) {
      assert.is(m.info.dtype, 'q8');
      const ref = await load(dir, { threads: 1, dtype: 'q8' });
      const [x, y] = [await m.extract(input, { layers: 'all' }), await ref.extract(input, { layers: 'all' })];
      x.layers.forEach((l, i) => assert.ok(l.every((v, j) => Object.is(v, y.layers[i][j])), `hidden ${i}`));
      ref.dispose();
    }
    m.dispose();
  }
});

s('the checks on streamed tensors: NaN/Inf and −128 named at the right element across chunks; allowNonFinite warns once', async () => {
  const dir = join(FIXTURES, 'tiny-w2v-group');
  const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cfg = parseConfig(cfgJson);
  const f32 = readTensors(join(dir, 'model.safetensors'));
  const W = 'encoder.layers.1.feed_forward.intermediate_dense.weight';
  const w = toFloat32(f32.get(W)!).slice();
  const at = w.length - 3; // in the last chunk of the tensor
  w[at] = Infinity;
  const bad = new Map(f32).set(W, fromFloat32(w, f32.get(W)!.shape));
  const badDir = folder('inf', cfgJson, bad);
  const file = join(badDir, 'model.safetensors');
  // the scan alone, with chunks far smaller than the tensor
  const table = openSafetensorsFile(file).tensors;
  const scan = new WeightScan(table, file, false, 256);
  scan.inMemory();
  throwsCode(() => scan.rest(), 'E_SHAPE', file, `tensor ${W} holds a NaN or infinite value (element ${at})`, 'allowNonFinite');
  // through load(): while the engine packs it
  await rejectsCode(load(badDir, { threads: 1 }), 'E_SHAPE', file, `tensor ${W}`, `element ${at}`);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (x: string) => warnings.push(x);
  try {
    (await load(badDir, { threads: 1, allowNonFinite: true })).dispose();
  } finally {
    console.warn = warn;
  }
  assert.is(warnings.length, 1);
  assert.ok(warnings[0].includes(`1 tensor hold NaN or infinite values (${W})`), warnings[0]);
  // −128 in an int8 weight, past the first chunk
  const q8 = weightsToTensors(bindWeights(cfg, f32, dir, { quantize: true }), { q8: true });
  const t = q8.get(W)!;
  const d = new Uint8Array(t.data);
  d[d.length - 5] = 0x80;
  const q8dir = folder('minus128', cfgJson, new Map(q8).set(W, { ...t, data: d }));
  await rejectsCode(load(q8dir, { threads: 1 }), 'E_SHAPE', join(q8dir, 'model.safetensors'), `int8 tensor ${W} holds −128 (element ${d.length - 5})`);
});

s('packQ8 (whole panels 4 bytes at a time, the rest byte by byte) writes the documented layout, at any offset, with a column map', () => {
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 255) - 127;
  for (const [N, K] of [[1, 1], [8, 2], [9, 7], [17, 16], [24, 33], [13, 1], [40, 6]]) {
    const q = Int8Array.from({ length: N * K }, rnd), scale = Float32Array.from({ length: N }, (_, i) => i + 0.5);
    for (const col of [null, Int32Array.from({ length: K }, (_, i) => K - 1 - i)]) {
      for (const shift of [0, 4, 3]) {
        const KP = (K + 1) >> 1, panels = Math.ceil(N / 8);
        const dst = new Int8Array(q8PackedBytes(N, K) + shift).fill(99).subarray(shift), sw = new Float32Array(q8ScaleFloats(N)).fill(7);
        packQ8({ q, scale }, N, K, dst, sw, col);
        // byte p·16·KP + 16·kp + 2·j + (k & 1) holds W[8p + j][k] (column col[k]); zero past N and past K
        for (let p = 0; p < panels; p++) {
          for (let kp = 0; kp < KP; kp++) {
            for (let j = 0; j < 8; j++) {
              for (const h of [0, 1]) {
                const n = 8 * p + j, k = 2 * kp + h;
                const want = n < N && k < K ? q[n * K + (col ? col[k] : k)] : 0;
                assert.is(dst[p * 16 * KP + 16 * kp + 2 * j + h], want, `[${N}][${K}] shift ${shift} col ${!!col}: n ${n} k ${k}`);
              }
            }
          }
        }
        assert.equal([...sw], [...scale, ...new Array(panels * 8 - N).fill(0)]);
      }
    }
  }
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
