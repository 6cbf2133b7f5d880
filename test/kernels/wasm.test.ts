import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  instantiateKernels, simdSupported, relaxedSimdSupported, enableRelaxedSimd, bestVariant, Arena, KERNEL_VARIANTS,
  SHARED_MAX_PAGES, type KernelVariant,
} from '../../src/runtime/wasm.js';
import { SlimwavError } from '../../src/errors.js';

// ---

const exportsSuite = suite('exports');
exportsSuite('runtime/wasm exports', () => {
  assert.type(instantiateKernels, 'function');
  assert.type(simdSupported, 'function');
  assert.type(relaxedSimdSupported, 'function');
  assert.type(enableRelaxedSimd, 'function');
  assert.type(bestVariant, 'function');
  assert.type(Arena, 'function');
  assert.equal(KERNEL_VARIANTS, ['release', 'release-shared', 'relaxed', 'relaxed-shared', 'debug', 'relaxed-debug']);
});
exportsSuite.run();

// ---

const load = suite('instantiateKernels');
load('SIMD is detected on this engine', () => {
  assert.is(simdSupported(), true);
});
load('relaxed SIMD: enableRelaxedSimd turns it on under Node 20 (V8 flag), bestVariant then picks the relaxed builds', () => {
  assert.is(enableRelaxedSimd(), true);
  assert.is(relaxedSimdSupported(), true);
  assert.is(bestVariant(false), 'relaxed');
  assert.is(bestVariant(true), 'relaxed-shared');
});
load('every build loads into a fresh or a given memory; heapBase is 16-aligned and inside it', async () => {
  for (const variant of KERNEL_VARIANTS) {
    const k = await instantiateKernels(variant);
    assert.ok(k.memory instanceof WebAssembly.Memory);
    const shared = variant.endsWith('-shared');
    assert.is(k.memory.buffer instanceof SharedArrayBuffer, shared, `${variant}: shared memory`);
    assert.is(k.heapBase % 16, 0);
    assert.ok(k.heapBase >= Number(k.exports.HEAP_BASE.value) && k.heapBase <= k.memory.buffer.byteLength);
    const mine = new WebAssembly.Memory(shared ? { initial: 3, maximum: SHARED_MAX_PAGES, shared: true } : { initial: 3 });
    const k2 = await instantiateKernels(variant, mine);
    assert.is(k2.memory, mine);
    assert.is(k2.exports.f32_packed_floats(9, 2), 32, `${variant}: a kernel runs`);
  }
});
load('an unknown variant is refused with E_WASM naming the valid ones', async () => {
  let caught: unknown;
  try {
    await instantiateKernels('fast' as KernelVariant);
  } catch (err) {
    caught = err;
  }
  assert.instance(caught, SlimwavError);
  assert.is((caught as SlimwavError).code, 'E_WASM');
  assert.match((caught as Error).message, "'fast'");
  assert.match((caught as Error).message, 'relaxed-shared');
});
load('a kernel contract violation in a debug build throws a readable Error (abort decoded)', async () => {
  for (const variant of ['debug', 'relaxed-debug'] as const) await contractViolation(variant);
});
async function contractViolation(variant: KernelVariant): Promise<void> {
  const k = await instantiateKernels(variant);
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
}
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
