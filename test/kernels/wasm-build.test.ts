import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enableRelaxedSimd } from '../../src/runtime/wasm.js';

// The shipped (release) modules must really use f32x4 arithmetic in their hot loops: a build that silently fell back
// to scalar code fails here. The relaxed builds must multiply-add with f32x4.relaxed_madd and the plain ones must not
// (they run on engines without relaxed SIMD). That every build exports the whole ABI, with the generated signatures,
// is test/kernels/abi.test.ts.
const wasmPath = (name: string) => new URL(`../../build/${name}`, import.meta.url);

/** Every build scripts/build-wasm.js writes. */
const BUILDS = ['slimwav.simd.wasm', 'slimwav.simd-shared.wasm', 'slimwav.relaxed.wasm', 'slimwav.relaxed-shared.wasm',
  'slimwav.debug.wasm', 'slimwav.relaxed-debug.wasm'];
const RELAXED_BUILDS = BUILDS.filter(f => f.includes('relaxed'));

const disassembled = new Map<string, Promise<string>>();

/** Text format of a module (binaryen is slow to load: once per file and run). */
function disassemble(file = 'slimwav.simd.wasm'): Promise<string> {
  let text = disassembled.get(file);
  if (!text) {
    text = (async () => {
      const { default: binaryen } = await import('binaryen');
      const mod = binaryen.readBinary(readFileSync(wasmPath(file)));
      const F = binaryen.Features;
      mod.setFeatures(F.MVP | F.SIMD128 | F.BulkMemory | F.SignExt | F.MutableGlobals | F.NontrappingFPToInt |
        F.Atomics | F.RelaxedSIMD);
      const out = mod.emitText();
      mod.dispose();
      return out;
    })();
    disassembled.set(file, text);
  }
  return text;
}

/** A function's body with the bodies of the functions it calls, recursively (tiles sit behind calls). */
function reach(text: string, name: string): string {
  const funcs = new Map<string, string>();
  const re = /^ \(func \$(\S+)/gm;
  const starts: [string, number][] = [];
  for (let m; (m = re.exec(text)); ) starts.push([m[1], m.index]);
  starts.forEach(([n, at], i) => funcs.set(n, text.slice(at, i + 1 < starts.length ? starts[i + 1][1] : text.length)));
  const exportName = new RegExp(`\\(export "${name}" \\(func \\$(\\S+?)\\)\\)`).exec(text)?.[1];
  if (!exportName) return '';
  const seen = new Set<string>();
  const visit = (n: string): string => {
    if (seen.has(n) || !funcs.has(n)) return '';
    seen.add(n);
    const body = funcs.get(n)!;
    let all = body;
    for (const m of body.matchAll(/\(call \$(\S+?)[\s)]/g)) all += visit(m[1]);
    return all;
  };
  return visit(exportName);
}

/** Every `(loop …)` form in `code`, balanced by parentheses. */
function loops(code: string): string[] {
  const out: string[] = [];
  for (let at = code.indexOf('(loop'); at >= 0; at = code.indexOf('(loop', at + 1)) {
    let depth = 0, i = at;
    for (; i < code.length; i++) {
      if (code[i] === '(') depth++;
      else if (code[i] === ')' && --depth === 0) break;
    }
    out.push(code.slice(at, i + 1));
  }
  return out;
}

const count = (s: string, op: string) => s.split(op).length - 1;

// ---

const exportsSuite = suite('exports');
exportsSuite('every build imports only env.memory (+ env.abort)', () => {
  enableRelaxedSimd(); // the relaxed builds compile only with relaxed SIMD on (a V8 flag on Node 20)
  for (const file of BUILDS) {
    const mod = new WebAssembly.Module(readFileSync(wasmPath(file)));
    for (const imp of WebAssembly.Module.imports(mod)) {
      assert.ok(imp.module === 'env' && (imp.name === 'memory' || imp.name === 'abort'), `${file} imports ${imp.module}.${imp.name}`);
    }
  }
});
exportsSuite.run();

// ---

const simd = suite('simd');
simd('hot kernels of the release build use f32x4 multiply and add', async () => {
  const text = await disassemble();
  for (const k of ['f32_gemm_packed', 'f32_gemm', 'f32_attention', 'f32_layernorm', 'f32_groupnorm_time']) {
    const code = reach(text, k);
    assert.ok(code.length > 0, `${k} not found in the disassembly`);
    assert.ok(code.includes('f32x4.mul'), `${k}: no f32x4.mul`);
    assert.ok(code.includes('f32x4.add'), `${k}: no f32x4.add`);
    assert.ok(code.includes('v128.load'), `${k}: no v128 loads`);
  }
  for (const k of ['f32_gelu', 'f32_exp', 'f32_erf']) {
    const code = reach(text, k);
    assert.ok(code.includes('f32x4.mul') && code.includes('f32x4.add'), `${k}: not vectorised`);
  }
});
simd('the pruner\'s training kernels are vectorised too', async () => {
  const text = await disassemble();
  for (const k of ['f32_softmax_rows', 'f32_softmax_rows_backward', 'f32_attn_logits_backward', 'f32_gelu_backward',
    'f32_layernorm_backward', 'f32_groupnorm_time_backward', 'f32_colsum', 'f32_colsum_mul', 'f32_mul_cols', 'f32_axpy',
    'f32_dot', 'f32_adamw']) {
    const code = reach(text, k);
    assert.ok(code.length > 0, `${k} not found in the disassembly`);
    assert.ok(code.includes('f32x4.mul') || code.includes('f32x4.add'), `${k}: no f32x4 arithmetic`);
    assert.ok(code.includes('v128.load'), `${k}: no v128 loads`);
  }
});
simd('the gemm k loops are MR×8 f32x4 tiles (MR ≥ 4): broadcast A, 2·MR vector multiply-adds per step', async () => {
  const text = await disassemble();
  for (const k of ['f32_gemm_packed', 'f32_gemm']) {
    // a loop (not the epilogue's GELU) holding the tile: A broadcasts, 2 B vector loads, 8 mul + 8 add
    const tile = loops(reach(text, k)).find(l => count(l, 'v128.load32_splat') >= 4 && count(l, 'f32x4.mul') >= 8 &&
      count(l, 'f32x4.add') >= 8 && (l.match(/v128\.load(?![0-9_])/g) ?? []).length >= 2 && !l.includes('f32x4.div'));
    assert.ok(tile, `${k}: no vectorised MR×8 tile loop`);
  }
});
simd('the q8 GEMM k loop is an MR×8 integer tile in every build: A pair broadcasts, 2·MR i32x4.dot_i16x8_s per k pair', async () => {
  for (const file of BUILDS) {
    const text = await disassemble(file);
    const tile = loops(reach(text, 'q8_gemm')).find(l => count(l, 'v128.load32_splat') >= 4 && count(l, 'i32x4.dot_i16x8_s') >= 8 &&
      count(l, 'i16x8.extend_low_i8x16_s') >= 1 && count(l, 'i16x8.extend_high_i8x16_s') >= 1);
    assert.ok(tile, `${file}: q8_gemm has no vectorised MR×8 i16-dot tile loop`);
  }
});
simd('relaxed builds multiply-add with f32x4.relaxed_madd (GEMM tiles included), plain builds never use it', async () => {
  for (const file of BUILDS) {
    const text = await disassemble(file);
    if (RELAXED_BUILDS.includes(file)) {
      assert.ok(text.includes('f32x4.relaxed_madd'), `${file}: no f32x4.relaxed_madd`);
      const tile = loops(reach(text, 'f32_gemm_packed')).find(l => count(l, 'f32x4.relaxed_madd') >= 8);
      assert.ok(tile, `${file}: f32_gemm_packed has no loop with 8 relaxed multiply-adds`);
    } else {
      assert.not.ok(text.includes('relaxed'), `${file}: uses a relaxed SIMD instruction`);
    }
  }
});
simd.run();

// ---

const generated = suite('generated kernels');
generated('assembly/gen/ is exactly what scripts/gen-kernels.js writes from the templates (no drift, no hand edits)', async () => {
  // @ts-expect-error: plain JavaScript module without types
  const gen = await import('../../scripts/gen-kernels.js');
  const committed = new URL('../../assembly/gen/', import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'slimwav-gen-'));
  try {
    const written: string[] = gen.generate(dir);
    const have = readdirSync(committed).filter(f => f.endsWith('.ts')).sort();
    assert.equal(have, [...written].sort(), 'assembly/gen/ holds exactly the generated files');
    for (const f of written) {
      const want = readFileSync(join(dir, f), 'utf8');
      assert.ok(want.startsWith('// Generated by scripts/gen-kernels.js from assembly/templates/'), `${f}: header`);
      assert.ok(want.split('\n', 1)[0].endsWith('— do not edit.'), `${f}: header says do not edit`);
      assert.is(readFileSync(new URL(f, committed), 'utf8'), want, `${f} differs from the generator's output: run node scripts/gen-kernels.js`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
generated('template errors name the template line', async () => {
  // @ts-expect-error: plain JavaScript module without types
  const gen = await import('../../scripts/gen-kernels.js');
  assert.throws(() => gen.compileTemplate('$if X:\nfoo\n', 't.in'), /t\.in:1: \$if is never closed/);
  assert.throws(() => gen.compileTemplate('$endfor\n', 't.in'), /t\.in:1: \$endfor does not close/);
  assert.throws(() => gen.compileTemplate('$assert N > 2\n', 't.in')({ N: 1 }), /t\.in:1: assertion failed: N > 2/);
  assert.is(gen.compileTemplate('$for i in range(3):\nx${i}${i ? `+${i}` : ""}\n$endfor\n', 't.in')({}), 'x0\nx1+1\nx2+2\n');
});
generated.run();
