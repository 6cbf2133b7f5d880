// Import direction: src/format reads bytes and knows no model, so nothing it reaches by static import lies in src/arch;
// and tensor names are spelled only by the binding (arch/binding.ts) and the checkpoint key-mapping tables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
  .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

/** src-relative paths of the modules a file imports statically (type-only imports included: they are still coupling) */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"](\.[^'"]+)['"]|^\s*import\s*['"](\.[^'"]+)['"]/gm)) {
    out.push(relative(SRC, resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts'))));
  }
  return out;
}

test('no module under src/format reaches src/arch', () => {
  const format = files(join(SRC, 'format'));
  assert.ok(format.length > 5, `found ${format.length} format modules`);
  const bad: string[] = [];
  for (const f of format) {
    const seen = new Set<string>();
    const walk = (rel: string, path: string[]): void => {
      if (seen.has(rel)) return;
      seen.add(rel);
      if (rel.startsWith('arch/')) { bad.push(path.join(' → ')); return; }
      for (const i of imports(join(SRC, rel))) walk(i, [...path, i]);
    };
    const rel = relative(SRC, f);
    walk(rel, [rel]);
  }
  assert.equal(bad, [], bad.join('\n'));
});

test('the import walk does see arch imports (it would catch one)', () => {
  assert.ok(imports(join(SRC, 'arch', 'checkpoint.ts')).some((i) => i.startsWith('format/')));
  assert.ok(imports(join(SRC, 'runtime', 'engine.ts')).includes('arch/binding.ts'));
});

test('tensor names are spelled only by the binding and the checkpoint key-mapping tables', () => {
  const allowed = new Set(['arch/binding.ts', 'arch/checkpoint.ts', 'format/model-files.ts']);
  const bad: string[] = [];
  for (const f of files(SRC)) {
    const rel = relative(SRC, f);
    if (allowed.has(rel)) continue;
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\*.*?\*\//g, '').replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, ''); // comments may name tensors
      if (/['"`][^'"`]*(q_proj|k_proj|v_proj|out_proj|feed_forward|pos_conv_embed|rel_attn_embed|gru_rel_pos|feature_projection\.|feature_extractor\.|layer_norm\.(weight|bias))/.test(code)) {
        bad.push(`${rel}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.equal(bad, [], bad.join('\n'));
});

test.run();
