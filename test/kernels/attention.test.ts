import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../ref/kernels.js';
import type { Kernels } from '../../src/runtime/wasm.js';

const TOL = 1e-5;
/** Scratch bound in floats (~440 KB) that no T may exceed: the online softmax holds one block of scores at a time. */
const SCRATCH_MAX = 110_000;

interface Case {
  T: number; dq: number; dv: number; i0: number; i1: number;
  relb: boolean; gate: boolean; scale: number; spread: number; seed: number;
}

function check(k: Kernels, c: Case, variant: string): void {
  const r = ref.rng(c.seed);
  const ar = ref.arena(k);
  const ldq = c.dq + (c.seed % 3), ldv = c.dv + 2 * (c.seed % 2), ldo = c.dv + (c.seed % 4);
  const span = (rows: number, ld: number, cols: number) => (cols === 0 ? 0 : (rows - 1) * ld + cols);
  const q = ref.randomArray(span(c.T, ldq, c.dq), r, -c.spread, c.spread);
  const kt = ref.randomArray(c.dq * c.T, r, -c.spread, c.spread);
  const vv = ref.randomArray(span(c.T, ldv, c.dv), r);
  const o0 = ref.randomArray(span(c.T, ldo, c.dv), r, 5, 6);
  const relb = c.relb ? ref.randomArray(2 * c.T - 1, r, -3, 3) : null;
  const gate = c.gate ? ref.randomArray(c.T, r, 0, 2) : null;

  const nS = k.exports.f32_attention_scratch_floats(c.T);
  assert.ok(nS > 0 && nS <= SCRATCH_MAX, `scratch floats ${nS} for T=${c.T} must stay under ${SCRATCH_MAX}`);
  const S = ar.alloc(nS + 4);
  ar.f32(S + 4 * nS, 4).fill(77);
  const Q = ref.put(ar, q), Kt = ref.put(ar, kt), V = ref.put(ar, vv), O = ref.put(ar, o0);
  const G = gate ? ref.put(ar, gate) : 0;
  const R = relb ? ref.atEnd(ar, relb) : 0; // a read past relb[2T−2] traps
  k.exports.f32_attention(c.i0, c.i1, c.T, c.dq, c.dv, Q, ldq, Kt, V, ldv, O, ldo, c.scale, R, G, S);

  const want = ref.attention({ i0: c.i0, i1: c.i1, T: c.T, dq: c.dq, dv: c.dv, Q: q, ldq, Kt: kt, V: vv, ldv, O: o0, ldo,
    scale: c.scale, relb, gate });
  const what = `${variant} attention T=${c.T} dq=${c.dq} dv=${c.dv} rows=[${c.i0},${c.i1}) relb=${+c.relb} gate=${+c.gate}`;
  ref.assertClose(ar.f32(O, o0.length), want, TOL, what);
  // rows outside [i0, i1) (and the gaps of a strided O) exactly as they were
  const got = ar.f32(O, o0.length);
  for (let i = 0; i < o0.length; i++) {
    const row = Math.floor(i / ldo), inside = row >= c.i0 && row < c.i1 && i % ldo < c.dv;
    if (!inside) assert.is(got[i], o0[i], `${what}: O[${i}] outside the rows changed`);
  }
  assert.equal(Array.from(ar.f32(S + 4 * nS, 4)), [77, 77, 77, 77], `${what}: wrote past the scratch`);
}

// ---

const scratch = suite('f32_attention_scratch_floats');
scratch('independent of T once T fills a block (10 minutes of audio needs what 10 s needs), smaller below', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    const n = (T: number) => ks[v].exports.f32_attention_scratch_floats(T);
    assert.is(n(499), n(1499), v);
    assert.is(n(30000), n(499), v);
    assert.ok(n(499) <= SCRATCH_MAX, `${v}: ${n(499)} floats`);
    assert.ok(n(1) > 0 && n(1) <= n(17) && n(17) <= n(499), v);
  }
});
scratch.run();

// ---

const attn = suite('f32_attention');
attn('T × dq × dv edge matrix, all rows, relative bias and gate rotating', async () => {
  const ks = await ref.kernels();
  let seed = 0;
  for (const v of ref.VARIANTS) for (const T of [1, 3, 17, 50]) for (const dq of [0, 1, 5, 12, 64]) for (const dv of [1, 3, 64]) {
    const s = ++seed;
    check(ks[v], { T, dq, dv, i0: 0, i1: T, relb: s % 3 !== 0, gate: s % 3 === 2, scale: 0.125, spread: 1, seed: s }, v);
  }
});
attn('row ranges that do not cover everything leave the other rows alone', async () => {
  const ks = await ref.kernels();
  let seed = 500;
  for (const v of ref.VARIANTS) for (const [T, i0, i1] of [[3, 1, 2], [17, 0, 9], [17, 5, 17], [50, 7, 31], [50, 49, 50], [50, 20, 20]]) {
    for (const [relb, gate] of [[false, false], [true, false], [true, true]]) {
      check(ks[v], { T, dq: 12, dv: 5, i0, i1, relb, gate, scale: 0.3, spread: 1, seed: ++seed }, v);
    }
  }
});
attn('peaked scores (large logits) stay finite and exact through the max subtraction', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 50, dq: 64, dv: 64, i0: 0, i1: 50, relb: true, gate: true, scale: 1, spread: 3, seed: 900 }, v);
    check(ks[v], { T: 17, dq: 5, dv: 3, i0: 2, i1: 15, relb: false, gate: false, scale: 8, spread: 4, seed: 901 }, v);
  }
});
attn('dq = 0: uniform average of V (plus the bias)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 17, dq: 0, dv: 3, i0: 0, i1: 17, relb: false, gate: false, scale: 0.125, spread: 1, seed: 950 }, v);
    check(ks[v], { T: 17, dq: 0, dv: 3, i0: 0, i1: 17, relb: true, gate: true, scale: 0.125, spread: 1, seed: 951 }, v);
  }
});
attn('wide value heads (dv = 80, 65) and dense V (ldv = dv)', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 23, dq: 80, dv: 80, i0: 0, i1: 23, relb: true, gate: false, scale: 0.1, spread: 1, seed: 961 }, v);
    check(ks[v], { T: 23, dq: 7, dv: 65, i0: 3, i1: 20, relb: false, gate: false, scale: 0.1, spread: 1, seed: 962 }, v);
    check(ks[v], { T: 23, dq: 7, dv: 64, i0: 3, i1: 20, relb: false, gate: false, scale: 0.1, spread: 1, seed: 964 }, v);
  }
});
attn('a long sequence (T = 300, D = 64) as in 6 s of audio', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 300, dq: 64, dv: 64, i0: 0, i1: 300, relb: true, gate: true, scale: 0.125, spread: 1, seed: 990 }, v);
  }
});
attn('several query and key blocks (64 × 128), row ranges cut inside blocks and panels', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 700, dq: 64, dv: 64, i0: 5, i1: 603, relb: true, gate: true, scale: 0.125, spread: 1, seed: 1001 }, v);
    check(ks[v], { T: 257, dq: 33, dv: 17, i0: 0, i1: 257, relb: true, gate: false, scale: 0.2, spread: 2, seed: 1002 }, v);
    // the last rows of a long input: keys far behind the diagonal, the bias window's far end
    check(ks[v], { T: 2000, dq: 16, dv: 8, i0: 1990, i1: 2000, relb: true, gate: true, scale: 0.3, spread: 1, seed: 1003 }, v);
    check(ks[v], { T: 2000, dq: 16, dv: 8, i0: 0, i1: 3, relb: true, gate: true, scale: 0.3, spread: 1, seed: 1004 }, v);
  }
});
attn('head widths above the 128-wide chunks: dq accumulates over chunks, dv runs the head per chunk', async () => {
  const ks = await ref.kernels();
  for (const v of ref.VARIANTS) {
    check(ks[v], { T: 150, dq: 200, dv: 150, i0: 0, i1: 150, relb: true, gate: true, scale: 0.07, spread: 1, seed: 1101 }, v);
    check(ks[v], { T: 40, dq: 129, dv: 257, i0: 3, i1: 39, relb: false, gate: false, scale: 0.09, spread: 1, seed: 1102 }, v);
    check(ks[v], { T: 40, dq: 0, dv: 130, i0: 0, i1: 40, relb: true, gate: false, scale: 0.09, spread: 1, seed: 1103 }, v);
  }
});
attn.run();
