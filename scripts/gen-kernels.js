#!/usr/bin/env node
// Expands the kernel templates (assembly/templates/*.ts.in) into assembly/gen/*.ts, one file per kernel.
// binaryen has no loop-unrolling pass and AssemblyScript no macros, so register tiles whose accumulators must be
// separate locals (MR rows × NR/4 vectors) are spelled out here, once per shape, from one template each. The
// output is committed source (test/wasm-build.test.ts regenerates it into a temporary folder and compares), so
// after editing a template or the KERNELS table run:
//   node scripts/gen-kernels.js            (writes assembly/gen/)
//   node scripts/gen-kernels.js --out DIR  (writes DIR instead; used by the drift test)
//
// Template language (a small cousin of XNNPACK's xngen, with explicit ends instead of indentation):
//   $for NAME in EXPR:        repeat the lines up to the matching $endfor for each value of the JS iterable EXPR
//   $if EXPR: / $elif EXPR: / $else: / $endif
//   $assert EXPR              generation fails unless EXPR holds (a template's preconditions)
//   $# text                   a template comment, not copied
//   ${EXPR}                   in any other line: the value of the JS expression EXPR
// Directives may be indented; their own lines are dropped. EXPR sees the kernel's parameters and range(a[, b]).
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every generated kernel: output file (in assembly/gen/), template (in assembly/templates/), parameters.
 * f32-gemm-MRxNR: C tile of MR rows × NR columns (NR = 4 or 8, i.e. 1 or 2 f32x4 vectors per row), K loop with
 * broadcast A and NR/4 vector loads of B per step. PACKED: B is an f32_pack_b panel (row step fixed at 32 bytes,
 * loads at immediate offsets); otherwise B is row-major with a run-time row stride.
 * q8-gemm-MRx8: int8 GEMM tile (assembly/q8gemm.ts) of MR rows × 8 columns over quantized A (i16); WIDE: over a panel
 * widened to i16 (the main path), else over the int8 panel itself (the path without a workspace).
 */
export const KERNELS = [
  ...[1, 2, 3, 4, 5, 6].map(MR => ({ out: `f32_gemm_${MR}x8_pa.ts`, template: 'f32-gemm-tile.ts.in', params: { MR, NR: 8, PACKED_A: true } })),
  ...[1, 2, 4].map(MR => ({ out: `f32_gemm_${MR}x8.ts`, template: 'f32-gemm-tile.ts.in', params: { MR, NR: 8, PACKED_A: false } })),
  ...[1, 2, 4].map(MR => ({ out: `f32_gemm_${MR}x4.ts`, template: 'f32-gemm-tile.ts.in', params: { MR, NR: 4, PACKED_A: false } })),
  ...[1, 2, 3, 4].map(MR => ({ out: `q8_gemm_${MR}x8_w.ts`, template: 'q8-gemm-tile.ts.in', params: { MR, WIDE: true } })),
  ...[1, 2, 3, 4].map(MR => ({ out: `q8_gemm_${MR}x8.ts`, template: 'q8-gemm-tile.ts.in', params: { MR, WIDE: false } })),
];

const range = (a, b) => (b === undefined ? [...Array(Math.max(0, a)).keys()] : [...Array(Math.max(0, b - a)).keys()].map(i => i + a));

/** A text line as a JS expression: its literal parts quoted, each ${EXPR} (braces balanced) evaluated. */
function interpolate(line, where) {
  const parts = [];
  let i = 0;
  for (let at = line.indexOf('${'); at >= 0; at = line.indexOf('${', i)) {
    parts.push(JSON.stringify(line.slice(i, at)));
    let depth = 1, j = at + 2;
    for (; j < line.length && depth > 0; j++) {
      if (line[j] === '{') depth++;
      else if (line[j] === '}') depth--;
    }
    if (depth) throw new Error(`${where}: unclosed \${`);
    parts.push(`String(${line.slice(at + 2, j - 1)})`);
    i = j;
  }
  parts.push(JSON.stringify(line.slice(i)));
  return parts.join(' + ');
}

/** Compile a template into a function of its parameters that returns the expanded text. */
export function compileTemplate(text, name) {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let code = 'const out = [];\n';
  const open = [];
  lines.forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    const d = /^\s*\$(?!\{)(.*)$/.exec(line);
    if (!d) {
      code += `out.push(${interpolate(line, where)});\n`;
      return;
    }
    const dir = d[1].trim();
    let m;
    if (dir.startsWith('#')) return;
    if ((m = /^for\s+([A-Za-z_]\w*)\s+in\s+(.+):$/.exec(dir))) {
      open.push(['for', where]);
      code += `for (const ${m[1]} of (${m[2]})) {\n`;
    } else if ((m = /^if\s+(.+):$/.exec(dir))) {
      open.push(['if', where]);
      code += `if (${m[1]}) {\n`;
    } else if ((m = /^elif\s+(.+):$/.exec(dir))) {
      if (open.at(-1)?.[0] !== 'if') throw new Error(`${where}: $elif without $if`);
      code += `} else if (${m[1]}) {\n`;
    } else if (dir === 'else:') {
      if (open.at(-1)?.[0] !== 'if') throw new Error(`${where}: $else without $if`);
      code += '} else {\n';
    } else if (dir === 'endif' || dir === 'endfor') {
      const kind = dir.slice(3);
      if (open.pop()?.[0] !== kind) throw new Error(`${where}: $${dir} does not close a $${kind}`);
      code += '}\n';
    } else if ((m = /^assert\s+(.+)$/.exec(dir))) {
      code += `if (!(${m[1]})) throw new Error(${JSON.stringify(`${where}: assertion failed: ${m[1]}`)});\n`;
    } else {
      throw new Error(`${where}: unknown directive $${dir}`);
    }
  });
  if (open.length) throw new Error(`${open.at(-1)[1]}: $${open.at(-1)[0]} is never closed`);
  code += "return out.join('\\n') + '\\n';\n";
  return (params) => {
    const names = Object.keys(params);
    // eslint-disable-next-line no-new-func
    return new Function(...names, 'range', code)(...names.map(n => params[n]), range);
  };
}

/** Expand every kernel into `outDir` (emptied of old .ts files first); returns the file names written. */
export function generate(outDir = join(root, 'assembly', 'gen')) {
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (f.endsWith('.ts')) rmSync(join(outDir, f));
  const compiled = new Map();
  const written = [];
  for (const k of KERNELS) {
    const tpath = join(root, 'assembly', 'templates', k.template);
    if (!compiled.has(k.template)) compiled.set(k.template, compileTemplate(readFileSync(tpath, 'utf8'), k.template));
    const args = Object.entries(k.params).map(([n, v]) => `${n}=${v}`).join(' ');
    const header = `// Generated by scripts/gen-kernels.js from ${relative(root, tpath)} (${args}) — do not edit.\n`;
    writeFileSync(join(outDir, k.out), header + compiled.get(k.template)(k.params));
    written.push(k.out);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 ? process.argv[i + 1] : undefined;
  const files = generate(outDir);
  console.log(`generated ${files.length} kernels into ${relative(process.cwd(), outDir ?? join(root, 'assembly', 'gen')) || '.'}`);
}
