// Every parser of outside bytes (test/format/fuzz-targets.ts) fuzzed for a fixed number of cases with a fixed seed
// (a count, not a time, so a loaded machine runs the same cases): damaged
// inputs end in a one-line SlimwavError naming the file or a valid result, each case quick, no hang (each parser runs
// in a child process with a watchdog). The long run is `npm run fuzz -- --minutes 10` (docs/reliability.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './fuzz-targets.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/fuzz.ts', import.meta.url));
const RUNS = 60;

test(`fuzz: ${TARGETS.map((t) => t.name).join(', ')}, ${RUNS} cases each, seed 1`, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, '--runs', String(RUNS), '--seed', '1', '--json'],
    { encoding: 'utf8', timeout: 600 * TARGETS.length * 1000 });
  assert.is(r.signal, null, `fuzz run timed out: ${r.stderr}`);
  const results = JSON.parse(r.stdout.trim().split('\n').pop()!) as { target: string; runs: number; failure: string | null }[];
  assert.equal(results.map((x) => x.target), TARGETS.map((t) => t.name), 'every target ran');
  for (const x of results) {
    assert.is(x.failure, null, `${x.target}: ${x.failure}`);
    assert.is(x.runs, RUNS, `${x.target}: ${x.runs} cases, expected ${RUNS}`);
  }
  assert.is(r.status, 0, r.stderr);
});

test('fuzz: a finding is reported (a parser that throws a plain Error fails the run)', () => {
  // --case-ms far below any real case turns every case into a finding: the harness must say so and exit 1
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, '--seconds', '1', '--seed', '1', '--target', 'npy', '--case-ms', '0.000001', '--json'],
    { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 1, r.stderr);
  const [res] = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.match(res.failure, /took .* ms \(limit/);
  assert.match(res.failure, /replay: --target npy --seed 1/);
});

test.run();
