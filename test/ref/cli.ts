// Running the slimwav command from tests, and what a failure must look like.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'slimwav.js');

export interface CliResult { code: number | null; out: string; err: string }

export function slimwav(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** a failure: non-zero exit, one `slimwav:` line naming what is wrong (usage may follow argument errors), no stack */
export function fails(r: CliResult, ...words: string[]): void {
  assert.ok(r.code !== 0, `exit code ${r.code}`);
  const first = r.err.split('\n')[0];
  assert.match(first, /^slimwav: /);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  for (const w of words) assert.ok(first.includes(w), `"${first}" should mention "${w}"`);
}
