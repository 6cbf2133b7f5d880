#!/usr/bin/env node
// Generates src/runtime/abi.gen.ts, the host's typed view of the kernel module, from two sources that must agree:
//   the built module's export section (build/slimwav.simd.wasm): every export's name, kind, parameter and result
//     types (i32 / i64 / f32 / f64 / v128), which is what a call really passes;
//   the AssemblyScript sources (assembly/index.ts and the files it re-exports from): parameter names, the
//     AssemblyScript types and each kernel's doc comment, which make the TypeScript readable.
// A disagreement between the two (an export the sources do not declare, a parameter count or type that differs) is
// an error. `npm run build:wasm` runs this after building and also checks that every build has the same ABI, so a
// changed kernel signature rewrites abi.gen.ts and every TypeScript caller that no longer matches fails to typecheck.
// test/kernels/abi.test.ts checks the committed file against the builds.
//   node scripts/gen-abi.js            (writes src/runtime/abi.gen.ts from build/slimwav.simd.wasm)
//   node scripts/gen-abi.js --check    (exits 1, naming the differences, when the file is not what it would write)
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ABI_FILE = 'src/runtime/abi.gen.ts';
export const REFERENCE_BUILD = 'build/slimwav.simd.wasm';

// --- the wasm side ------------------------------------------------------------------------------------------------

const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

/**
 * The exports of a wasm binary: [{ name, kind: 'function', params, results } | { name, kind: 'global', type,
 * mutable } | { name, kind: 'memory' | 'table' }], in export-section order. Reads only the type, import, function,
 * global and export sections.
 */
export function wasmExports(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let p = 0;
  const fail = (what) => { throw new Error(`not a wasm module this reader understands: ${what} at byte ${p}`); };
  const u32 = () => {
    let v = 0, shift = 0, byte;
    do {
      if (p >= b.length) fail('truncated LEB128');
      byte = b[p++];
      v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return v;
  };
  const name = () => {
    const n = u32();
    const s = new TextDecoder().decode(b.subarray(p, p + n));
    p += n;
    return s;
  };
  const valtype = () => VALTYPES[b[p++]] ?? fail(`unknown value type 0x${b[p - 1].toString(16)}`);
  const limits = () => {
    const flags = b[p++];
    u32();
    if (flags & 1) u32();
  };
  /** Step over a constant expression (a global's initial value) up to its `end`. */
  const constExpr = () => {
    for (;;) {
      const op = b[p++];
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) u32(); // i32/i64.const, global.get, ref.func
      else if (op === 0x43) p += 4; // f32.const
      else if (op === 0x44) p += 8; // f64.const
      else if (op === 0xd0) p++; // ref.null t
      else if (op === 0xfd && b[p] === 0x0c) p += 17; // v128.const
      else if (!(op >= 0x6a && op <= 0x6c) && !(op >= 0x7c && op <= 0x7e)) fail(`opcode 0x${op.toString(16)} in a constant expression`);
    }
  };
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) fail('no \\0asm magic');
  p = 8;
  const types = [], funcTypes = [], globals = [], exports = [];
  while (p < b.length) {
    const id = b[p++];
    const size = u32();
    const end = p + size;
    if (end > b.length) fail(`section ${id} runs past the end of the module`);
    if (id === 1) {
      for (let n = u32(), i = 0; i < n; i++) {
        if (b[p++] !== 0x60) fail('a type that is not a function type');
        const params = Array.from({ length: u32() }, valtype);
        const results = Array.from({ length: u32() }, valtype);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(), i = 0; i < n; i++) {
        name();
        name();
        const kind = b[p++];
        if (kind === 0) funcTypes.push(u32());
        else if (kind === 1) { p++; limits(); }
        else if (kind === 2) limits();
        else if (kind === 3) globals.push({ type: valtype(), mutable: b[p++] === 1 });
        else fail(`import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = u32(), i = 0; i < n; i++) funcTypes.push(u32());
    } else if (id === 6) {
      for (let n = u32(), i = 0; i < n; i++) {
        globals.push({ type: valtype(), mutable: b[p++] === 1 });
        constExpr();
      }
    } else if (id === 7) {
      for (let n = u32(), i = 0; i < n; i++) {
        const nm = name();
        const kind = b[p++];
        const index = u32();
        if (kind === 0) {
          const t = types[funcTypes[index]] ?? fail(`export ${nm}: no type for function ${index}`);
          exports.push({ name: nm, kind: 'function', params: [...t.params], results: [...t.results] });
        } else if (kind === 3) {
          const g = globals[index] ?? fail(`export ${nm}: no global ${index}`);
          exports.push({ name: nm, kind: 'global', type: g.type, mutable: g.mutable });
        } else {
          exports.push({ name: nm, kind: kind === 1 ? 'table' : kind === 2 ? 'memory' : `kind ${kind}` });
        }
      }
    }
    p = end;
  }
  return exports;
}

// --- the AssemblyScript side ----------------------------------------------------------------------------------------

/** AssemblyScript type → wasm32 value type. */
const AS_TYPES = {
  i8: 'i32', i16: 'i32', i32: 'i32', u8: 'i32', u16: 'i32', u32: 'i32', bool: 'i32', usize: 'i32', isize: 'i32',
  i64: 'i64', u64: 'i64', f32: 'f32', f64: 'f64', v128: 'v128',
};

/** The body of a doc comment (the text between its delimiters) as lines without the leading stars; [] for none. */
function docLines(body) {
  if (!body) return [];
  const lines = body.split('\n').map((l) => l.trim().replace(/^\*\s?/, '').trimEnd());
  while (lines.length && lines[0] === '') lines.shift();
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * What the sources declare for every name assembly/index.ts exports: Map name → { file, kind: 'function', params:
 * [{ name, type }], result, doc } or { file, kind: 'global', type, doc }. `read(path)` returns a source file's text
 * (relative to the repository root), so a test can hand in edited copies.
 */
export function sourceExports(read = (f) => readFileSync(join(root, f), 'utf8')) {
  const index = read('assembly/index.ts');
  const out = new Map();
  for (const m of index.matchAll(/export\s*\{([^}]*)\}\s*from\s*'\.\/([^']+)'/g)) {
    const file = `assembly/${m[2]}.ts`;
    const text = read(file);
    for (const raw of m[1].split(',')) {
      const nm = raw.trim();
      if (!nm) continue;
      if (/\sas\s/.test(nm)) throw new Error(`assembly/index.ts: renamed export '${nm}' is not supported by scripts/gen-abi.js`);
      const fn = new RegExp(`(?:/\\*\\*((?:[^*]|\\*(?!/))*)\\*/\\s*)?export function ${nm}\\s*\\(([^)]*)\\)\\s*:\\s*(\\w+)`).exec(text);
      const gl = new RegExp(`(?:/\\*\\*((?:[^*]|\\*(?!/))*)\\*/\\s*)?export const ${nm}\\s*:\\s*(\\w+)`).exec(text);
      if (fn) {
        const params = fn[2].split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
          const pm = /^(\w+)\s*:\s*(\w+)$/.exec(s);
          if (!pm) throw new Error(`${file}: ${nm}: cannot read parameter '${s}'`);
          return { name: pm[1], type: pm[2] };
        });
        out.set(nm, { file, kind: 'function', params, result: fn[3], doc: docLines(fn[1]) });
      } else if (gl) {
        out.set(nm, { file, kind: 'global', type: gl[2], doc: docLines(gl[1]) });
      } else {
        throw new Error(`${file}: no 'export function ${nm}(…): T' or 'export const ${nm}: T' for the export in assembly/index.ts`);
      }
    }
  }
  return out;
}

// --- checks ---------------------------------------------------------------------------------------------------------

const sig = (e) => e.kind === 'function' ? `(${e.params.join(', ')}) → ${e.results.length ? e.results.join(', ') : 'void'}`
  : e.kind === 'global' ? `global ${e.mutable ? 'mut ' : ''}${e.type}` : e.kind;

/**
 * Differences between two export lists ([] when they agree): names missing or extra, kinds, parameter counts and
 * types, results. `a` and `b` label the two sides in the messages.
 */
export function compareExports(want, have, a = 'expected', b = 'module') {
  const problems = [];
  const byName = new Map(have.map((e) => [e.name, e]));
  for (const w of want) {
    const h = byName.get(w.name);
    if (!h) { problems.push(`${w.name}: in ${a}, not exported by ${b}`); continue; }
    byName.delete(w.name);
    if (w.kind !== h.kind) { problems.push(`${w.name}: ${w.kind} in ${a}, ${h.kind} in ${b}`); continue; }
    if (w.kind === 'function') {
      if (w.params.length !== h.params.length) {
        problems.push(`${w.name}: ${w.params.length} parameters in ${a}, ${h.params.length} in ${b} (${sig(w)} vs ${sig(h)})`);
      } else if (sig(w) !== sig(h)) {
        problems.push(`${w.name}: ${sig(w)} in ${a}, ${sig(h)} in ${b}`);
      }
    } else if (sig(w) !== sig(h)) {
      problems.push(`${w.name}: ${sig(w)} in ${a}, ${sig(h)} in ${b}`);
    }
  }
  for (const name of byName.keys()) problems.push(`${name}: exported by ${b}, not in ${a}`);
  return problems;
}

/**
 * The sources' declarations as an export list (wasm types), to compare with a module's. A global's mutability is
 * taken from `exports` (the module's): an AssemblyScript const computed at start-up is a mutable wasm global.
 */
export function sourceSignatures(source, exports = []) {
  const mutable = new Map(exports.filter((e) => e.kind === 'global').map((e) => [e.name, e.mutable]));
  return [...source].map(([name, s]) => {
    const wasm = (t) => AS_TYPES[t] ?? (() => { throw new Error(`${s.file}: ${name}: type ${t} has no wasm value type here`); })();
    return s.kind === 'function'
      ? { name, kind: 'function', params: s.params.map((p) => wasm(p.type)), results: s.result === 'void' ? [] : [wasm(s.result)] }
      : { name, kind: 'global', type: wasm(s.type), mutable: mutable.get(name) ?? false };
  });
}

// --- the generated module ---------------------------------------------------------------------------------------------

const TS_TYPES = { i32: 'number', f32: 'number', f64: 'number', i64: 'bigint' };
const tsType = (name, t) => TS_TYPES[t] ?? (() => { throw new Error(`${name}: a ${t} cannot cross to JavaScript as a number`); })();

function jsdoc(lines, indent) {
  if (!lines.length) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}\n`).join('')}${indent} */\n`;
}

/** The text of src/runtime/abi.gen.ts for a module's exports and the sources' declarations (which must agree). */
export function renderAbi(exports, source) {
  // the imported memory is exported back (asc's default); it is not part of the kernel ABI
  exports = exports.filter((e) => e.kind !== 'memory');
  const problems = compareExports(sourceSignatures(source, exports), exports, 'assembly/', REFERENCE_BUILD);
  if (problems.length) throw new Error(`the kernel sources and the built module disagree:\n  ${problems.join('\n  ')}`);
  const fns = exports.filter((e) => e.kind === 'function');
  const globals = exports.filter((e) => e.kind === 'global');
  let s = `// Generated by scripts/gen-abi.js from ${REFERENCE_BUILD}'s export section and assembly/ — do not edit.\n`;
  s += '// `npm run build:wasm` rewrites it; test/kernels/abi.test.ts checks it against every build.\n';
  s += '// Pointers are byte offsets into the module\'s memory (0 = absent where a kernel allows it), sizes and strides\n';
  s += '// are element counts, data is f32 (assembly/index.ts).\n\n';
  s += '/** Every exported function: its wasm parameter and result types, in export order. */\n';
  s += 'export const KERNEL_SIGNATURES = {\n';
  for (const e of fns) {
    s += `  ${e.name}: { params: [${e.params.map((t) => `'${t}'`).join(', ')}], results: [${e.results.map((t) => `'${t}'`).join(', ')}] },\n`;
  }
  s += '} as const;\n\n';
  s += '/** Every exported global and its wasm type. */\n';
  s += 'export const GLOBAL_SIGNATURES = {\n';
  for (const e of globals) s += `  ${e.name}: { type: '${e.type}', mutable: ${e.mutable} },\n`;
  s += '} as const;\n\n';
  s += 'export type KernelName = keyof typeof KERNEL_SIGNATURES;\n\n';
  s += '/** The exported functions\' names, in export order. */\n';
  s += 'export const KERNEL_NAMES = Object.keys(KERNEL_SIGNATURES) as KernelName[];\n\n';
  s += '/** The module\'s exports as the host calls them (parameter names and docs from assembly/). */\n';
  s += 'export interface KernelExports {\n';
  let file = '';
  for (const e of exports) {
    if (e.kind !== 'function' && e.kind !== 'global') continue;
    const src = source.get(e.name);
    if (src.file !== file) {
      file = src.file;
      s += `  // ${file}\n`;
    }
    s += jsdoc(src.doc, '  ');
    if (e.kind === 'global') {
      s += `  ${e.name}: WebAssembly.Global;\n`;
    } else {
      const params = src.params.map((p, i) => `${p.name}: ${tsType(e.name, e.params[i])}`).join(', ');
      const result = e.results.length ? tsType(e.name, e.results[0]) : 'void';
      const line = `  ${e.name}(${params}): ${result};\n`;
      s += line.length <= 121 ? line : wrapParams(e.name, src.params.map((p, i) => `${p.name}: ${tsType(e.name, e.params[i])}`), result);
    }
  }
  s += '}\n';
  return s;
}

/** A signature over several lines of at most 120 characters. */
function wrapParams(name, params, result) {
  const lines = [];
  let cur = `  ${name}(`;
  for (let i = 0; i < params.length; i++) {
    const piece = params[i] + (i + 1 < params.length ? ',' : `): ${result};`);
    if (cur.length + piece.length + 1 > 120 && !cur.endsWith('(')) {
      lines.push(cur.trimEnd());
      cur = '    ';
    }
    cur += piece + ' ';
  }
  lines.push(cur.trimEnd());
  return lines.join('\n') + '\n';
}

/** The text abi.gen.ts should have for the module at `wasmPath` (relative to the root) and the current sources. */
export function generate(wasmPath = REFERENCE_BUILD) {
  return renderAbi(wasmExports(readFileSync(join(root, wasmPath))), sourceExports());
}

/** Every build must export the same ABI as the reference build; throws naming the differences. */
export function checkBuilds(files) {
  const ref = wasmExports(readFileSync(join(root, REFERENCE_BUILD)));
  for (const f of files) {
    if (f === REFERENCE_BUILD) continue;
    const problems = compareExports(ref, wasmExports(readFileSync(join(root, f))), REFERENCE_BUILD, f);
    if (problems.length) throw new Error(`${f} does not export the ABI of ${REFERENCE_BUILD}:\n  ${problems.join('\n  ')}`);
  }
}

/** Write abi.gen.ts (temp name + rename) when its text changes; returns true when it did. */
export function write() {
  const text = generate();
  const path = join(root, ABI_FILE);
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch { /* first run */ }
  if (old === text) return false;
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv.includes('--check')) {
      const want = generate();
      if (readFileSync(join(root, ABI_FILE), 'utf8') !== want) {
        console.error(`${ABI_FILE} is not what scripts/gen-abi.js writes from ${REFERENCE_BUILD}: run node scripts/gen-abi.js`);
        process.exit(1);
      }
    } else if (write()) {
      console.log(`wrote ${ABI_FILE} (the kernel ABI changed: commit it)`);
    }
  } catch (err) {
    console.error(`gen-abi: ${err.message}`);
    process.exit(1);
  }
}
