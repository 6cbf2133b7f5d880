import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { instantiateKernels, simdSupported, Arena } from '../../src/runtime/wasm.js';
import { SlimwavError } from '../../src/errors.js';

// ---

const exportsSuite = suite('exports');
exportsSuite('runtime/wasm exports', () => {
  assert.type(instantiateKernels, 'function');
  assert.type(simdSupported, 'function');
  assert.type(Arena, 'function');
});
exportsSuite.run();

// ---

const load = suite('instantiateKernels');
load('SIMD is detected on this engine', () => {
  assert.is(simdSupported(), true);
});
load('both builds load into a fresh or a given memory; heapBase is 16-aligned and inside it', async () => {
  for (const variant of ['release', 'debug'] as const) {
    const k = await instantiateKernels(variant);
    assert.ok(k.memory instanceof WebAssembly.Memory);
    assert.is(k.heapBase % 16, 0);
    assert.ok(k.heapBase >= Number(k.exports.HEAP_BASE.value) && k.heapBase <= k.memory.buffer.byteLength);
    const mine = new WebAssembly.Memory({ initial: 3 });
    const k2 = await instantiateKernels(variant, mine);
    assert.is(k2.memory, mine);
  }
});
load('a kernel contract violation in the debug build throws a readable Error (abort decoded)', async () => {
  const k = await instantiateKernels('debug');
  const ar = new Arena(k.memory, k.heapBase);
  const p = ar.alloc(64);
  let caught: unknown;
  try {
    k.exports.f32_gemm(2, 8, 4, p, 4, p, 8, p, 3, 0, 0, 0); // ldc 3 < N 8
  } catch (err) {
    caught = err;
  }
  assert.instance(caught, Error);
  assert.match((caught as Error).message, 'f32_gemm: ldc < N');
  assert.match((caught as Error).message, /gemm\.ts:\d+:\d+/);
  caught = undefined;
  try {
    k.exports.f32_attention(0, 5, 3, 1, 1, p, 1, p, p, 1, p, 1, 1, 0, 0, p); // i1 > T
  } catch (err) {
    caught = err;
  }
  assert.match((caught as Error)?.message ?? '', 'f32_attention: query rows outside [0, T)');
});
load('E_WASM error type exists for missing builds', () => {
  const e = new SlimwavError('E_WASM', 'x');
  assert.is(e.code, 'E_WASM');
});
load.run();

// ---

const arena = suite('Arena');
arena('16-byte aligned offsets, grows the memory, views see kernel writes', async () => {
  const k = await instantiateKernels('release');
  const ar = new Arena(k.memory, k.heapBase + 4);
  assert.is(ar.base % 16, 0);
  const a = ar.alloc(3), b = ar.alloc(1), c = ar.alloc(0), d = ar.alloc(5);
  for (const p of [a, b, c, d]) assert.is(p % 16, 0);
  assert.ok(b >= a + 12 && d >= c && a >= k.heapBase);
  const before = k.memory.buffer.byteLength;
  const big = ar.alloc(before / 4 + 1000); // more than the whole memory: must grow
  assert.ok(k.memory.buffer.byteLength >= big + 4 * (before / 4 + 1000));
  k.exports.f32_fill(7, d, 1.5);
  assert.equal(Array.from(ar.f32(d, 5)), [1.5, 1.5, 1.5, 1.5, 1.5]);
  const m = ar.mark();
  ar.alloc(10);
  ar.reset(m);
  assert.is(ar.mark(), m);
  ar.reset();
  assert.is(ar.used, 0);
  assert.throws(() => ar.alloc(-1), (e: unknown) => e instanceof SlimwavError && e.code === 'E_ARGS');
});
arena.run();
