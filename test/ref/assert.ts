// Assertions shared by the tests: a SlimwavError with the right code, naming what it should, on one line.
import * as assert from 'uvu/assert';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';

export function throwsCode(fn: () => unknown, code: ErrorCode, ...parts: string[]): SlimwavError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SlimwavError)) throw new Error(`expected SlimwavError ${code}, got ${e instanceof Error ? e.stack : String(e)}`);
    assert.is(e.code, code, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} should contain ${JSON.stringify(p)}`);
    assert.not.ok(e.message.includes('\n'), 'one-line message');
    return e;
  }
  throw new Error(`expected SlimwavError ${code}, nothing was thrown`);
}

export async function rejectsCode(p: Promise<unknown>, code: ErrorCode, ...parts: string[]): Promise<SlimwavError> {
  let err: unknown;
  await p.then(() => undefined, (e) => { err = e; });
  return throwsCode(() => { if (err) throw err; }, code, ...parts);
}
