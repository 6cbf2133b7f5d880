// Load-path fast paths keep the bytes exact: packing equals the wasm kernel and the definition bit for bit (full and
// partial panels, strided sources as the Winograd pairs use), F32 tensors read as views or copies hold the file's
// exact bits (aligned or not), and the NaN/Inf scan finds the first bad element either way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packB, packedFloats, NR } from '../../src/runtime/pack.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { toFloat32, toFloat32View, type RawTensor } from '../../src/format/tensor.js';
import { firstNonFinite } from '../../src/arch/limits.js';

/** the panel layout by its definition: Bp[p·K·8 + k·8 + j] = W[off + (8p + j)·ldw + k], 0 past N */
function packDef(W: Float32Array, N: number, K: number, ldw: number, off: number): Float32Array {
  const out = new Float32Array(packedFloats(N, K));
  for (let n = 0; n < Math.ceil(N / NR) * NR; n++) {
    for (let k = 0; k < K; k++) out[Math.floor(n / NR) * K * NR + k * NR + (n % NR)] = n < N ? W[off + n * ldw + k] : 0;
  }
  return out;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** values with every kind of bit pattern the packer must carry unchanged: −0, subnormals, large, tiny */
const values = (n: number) => Float32Array.from({ length: n }, (_, i) => [Math.sin(i) * 1e3, -0, 1e-42, -3.4e38, i / 7][i % 5]);

test('packB = the panel definition = the wasm f32_pack_b, bit for bit (N not a multiple of 8, strided rows)', async () => {
  const k = await instantiateKernels('release');
  for (const [N, K] of [[1, 1], [7, 5], [8, 3], [9, 4], [24, 17], [37, 64], [64, 1]]) {
    const W = values(N * K);
    const dst = new Float32Array(packedFloats(N, K)).fill(Number.NaN); // stale contents must all be overwritten
    packB(W, N, K, dst);
    assert.equal(bits(dst), bits(packDef(W, N, K, K, 0)), `N=${N} K=${K}`);
    const base = k.heapBase, Bp = base + N * K * 4;
    const need = Bp + packedFloats(N, K) * 4;
    if (k.memory.buffer.byteLength < need) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
    new Float32Array(k.memory.buffer, base, N * K).set(W);
    k.exports.f32_pack_b(N, K, base, Bp);
    assert.equal(bits(dst), bits(new Float32Array(k.memory.buffer, Bp, packedFloats(N, K))), `wasm N=${N} K=${K}`);
    // rows of a wider matrix, from a column offset (the Winograd [w1|w2] pairs: ldw = 3·Cin, off = Cin)
    const Wide = values(N * 3 * K + K);
    const d2 = new Float32Array(packedFloats(N, 2 * K));
    packB(Wide, N, 2 * K, d2, 3 * K, K);
    assert.equal(bits(d2), bits(packDef(Wide, N, 2 * K, 3 * K, K)), `strided N=${N} K=${K}`);
  }
});

test('F32 tensors: a view when aligned, an exact copy when not, the same bits as a DataView read', () => {
  const src = values(33);
  const file = new Uint8Array(5 + src.byteLength);
  file.set(new Uint8Array(src.buffer), 5); // misaligned: starts at byte 5
  const aligned = new Uint8Array(8 + src.byteLength);
  aligned.set(new Uint8Array(src.buffer), 8);
  const ta: RawTensor = { dtype: 'F32', shape: [3, 11], data: aligned.subarray(8) };
  const view = toFloat32View(ta, 'a');
  assert.is(view.buffer, aligned.buffer, 'aligned F32 is not copied');
  assert.equal(bits(view), bits(src));
  const copy = toFloat32(ta, 'a');
  assert.is.not(copy.buffer, aligned.buffer, 'toFloat32 is always a fresh array');
  assert.equal(bits(copy), bits(src));
  const tm: RawTensor = { dtype: 'F32', shape: [33], data: file.subarray(5, 5 + src.byteLength) };
  const dv = new DataView(tm.data.buffer, tm.data.byteOffset, tm.data.byteLength);
  const expect = Float32Array.from({ length: 33 }, (_, i) => dv.getFloat32(4 * i, true));
  const mis = toFloat32View(tm, 'm');
  assert.is.not(mis.buffer, file.buffer, 'misaligned bytes are copied');
  assert.equal(bits(mis), bits(expect));
  assert.equal(bits(toFloat32(tm, 'm')), bits(expect));
  // bytes in a Node Buffer (readFileSync), whose slice() is a view: still an exact, fresh copy
  const buf = Buffer.alloc(12 + src.byteLength);
  buf.set(new Uint8Array(src.buffer), 12);
  const fromBuf = toFloat32({ dtype: 'F32', shape: [33], data: buf.subarray(12) }, 'b');
  assert.equal(bits(fromBuf), bits(src));
  assert.is.not(fromBuf.buffer, buf.buffer);
  // a wrong byte count is still E_SHAPE on both paths
  assert.throws(() => toFloat32View({ dtype: 'F32', shape: [9], data: aligned.subarray(8, 40) }, 'short'), /short: F32\[9\] needs 36 bytes, found 32/);
});

test('firstNonFinite: the first NaN/Inf index, aligned (32-bit reads) or not (byte reads)', () => {
  for (const at of [0, 5, 32]) {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const v = values(33);
      v[at] = bad;
      if (at < 32) v[32] = Number.NaN; // a later bad value does not hide the first
      const al = new Uint8Array(v.buffer);
      assert.is(firstNonFinite({ dtype: 'F32', shape: [33], data: al }), at, `aligned ${bad} at ${at}`);
      const mis = new Uint8Array(v.byteLength + 1);
      mis.set(al, 1);
      assert.is(firstNonFinite({ dtype: 'F32', shape: [33], data: mis.subarray(1) }), at, `misaligned ${bad} at ${at}`);
    }
  }
  assert.is(firstNonFinite({ dtype: 'F32', shape: [33], data: new Uint8Array(values(33).buffer) }), -1, 'finite (−0, subnormal, ±3.4e38)');
});

test.run();
