/** Where the bundled `models/` folder (speech.wav, the base shape's config) is, from `src/cli/` (tsx) or `dist/src/cli/`. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';

/** The bundled models/ folder with a trailing slash; `who` names the command in the error when it is missing. */
export function modelsDir(who: string): string {
  for (const rel of ['../../models/', '../../../models/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p + 'speech.wav')) return p;
  }
  return fail('E_IO', `cannot find the bundled models/ folder (speech.wav); run the ${who} from a clone of slimwav`);
}
