// slimwav/browser must load where there is no Node: no module it reaches (from the built dist/) may import a
// node:* module (or any bare specifier) at the top level. Runs without a browser, so CI checks it everywhere.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'dist', 'src', 'browser.js');

test('dist/src/browser.js reaches only relative static imports', () => {
  assert.ok(existsSync(ENTRY), 'dist/src/browser.js is built (npm run build)');
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    // static import / export … from '…' and side-effect imports; dynamic import() is allowed (guarded at run time)
    for (const m of src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bad.push(`${file.slice(ROOT.length + 1)} imports ${spec}`);
    }
  };
  visit(ENTRY);
  assert.equal(bad, [], bad.join('\n'));
  assert.ok(seen.size > 10, `walked ${seen.size} modules`);
});

test.run();
