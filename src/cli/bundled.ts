/** Files shipped with the package (models/, package.json), found from `src/cli/` (tsx) or `dist/src/cli/` (built). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';

/** The package root (the folder holding package.json and models/) with a trailing slash, or undefined. */
export function packageRoot(): string | undefined {
  for (const rel of ['../../', '../../../']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p + 'package.json') && existsSync(p + 'models/speech.wav')) return p;
  }
  return undefined;
}

/** The bundled models/ folder with a trailing slash; `who` names the command in the error when it is missing. */
export function modelsDir(who: string): string {
  const root = packageRoot();
  if (root) return root + 'models/';
  return fail('E_IO', `cannot find the bundled models/ folder (speech.wav) next to slimwav's package.json; the ${who} needs a complete install of slimwav`);
}

/** The version in slimwav's own package.json. */
export function packageVersion(): string {
  const root = packageRoot();
  const v = root ? (JSON.parse(readFileSync(root + 'package.json', 'utf8')) as { version?: unknown }).version : undefined;
  return typeof v === 'string' ? v : fail('E_IO', "cannot read the version from slimwav's package.json");
}
