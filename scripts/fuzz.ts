/**
 * Fuzz every parser in test/format/fuzz-targets.ts for a time budget each:
 *   npm run fuzz -- --minutes 10                 10 minutes per parser, a fresh seed (printed)
 *   npm run fuzz -- --runs 60 --seed 1 --json    what npm test runs (test/format/parsers-fuzz.test.ts): a fixed
 *                                                number of cases, so a loaded machine runs the same ones
 *   npm run fuzz -- --target wav --seed 42       one parser; a finding's seed and path replay it exactly
 * Each parser runs in its own child process with a watchdog (budget + 60 s), so a hang is reported, not waited on.
 * A finding is an exception that is not a SlimwavError, a message that is not one line naming the file, or one
 * case using more than --case-ms of CPU time (default 2000; CPU, not wall time, so other work on the machine does
 * not make findings; each parser's seed files run once untimed first, as lazy decoders compile on first use). Exit
 * status 1 when anything was found.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SlimwavError } from '../src/errors.js';
import { TARGETS, inputs, type FuzzTarget } from '../test/format/fuzz-targets.js';

interface Result { target: string; seed: number; runs: number; seconds: number; failure: string | null }

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** budgetMs: stop after this long; or, with `runs`, exactly that many cases whatever the time (the test's form: a loaded machine then runs the same cases, only slower). */
async function fuzzOne(t: FuzzTarget, seed: number, budgetMs: number, caseMs: number, runsWanted = 0): Promise<Result> {
  let runs = 0;
  // warm-up, untimed: the first call of a lazily loaded decoder compiles it (a one-time cost, not a slow case)
  for (const s of t.seeds()) {
    try { await t.run(s, t.fileName); } catch { /* the cases below judge errors */ }
  }
  const t0 = performance.now();
  const property = fc.asyncProperty(inputs(t), async (bytes) => {
    runs++;
    // a case is judged by the CPU time it takes (this process, all threads), so a machine shared with other work
    // does not turn waiting into findings; a case that never ends is the watchdog's
    const c0 = process.cpuUsage();
    try {
      await t.run(bytes, t.fileName); // decodeAudio is async
    } catch (e) {
      if (!(e instanceof SlimwavError)) throw new Error(`not a SlimwavError: ${(e as Error)?.stack ?? e}`);
      if (e.message.includes('\n') || !e.message.includes(t.fileName)) throw new Error(`bad message: ${JSON.stringify(e.message)}`);
    }
    const used = process.cpuUsage(c0), ms = (used.user + used.system) / 1000;
    if (ms > caseMs) throw new Error(`one case took ${ms.toFixed(0)} CPU ms (limit ${caseMs})`);
  });
  const out = await fc.check(property, runsWanted > 0
    ? { seed, numRuns: runsWanted, endOnFailure: true }
    : { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, endOnFailure: true });
  const failure = out.failed
    ? `${out.errorInstance instanceof Error ? out.errorInstance.message.split('\n').slice(0, 6).join(' | ') : String(out.errorInstance)} ` +
      `(replay: --target ${t.name} --seed ${seed}, fast-check path ${out.counterexamplePath}; input ${out.counterexample ? Buffer.from(out.counterexample[0] as Uint8Array).toString('base64').slice(0, 400) : '?'})`
    : null;
  return { target: t.name, seed, runs, seconds: (performance.now() - t0) / 1000, failure };
}

const seconds = Number(arg('seconds') ?? 60 * Number(arg('minutes') ?? 1));
const seed = Number(arg('seed') ?? (Date.now() % 2 ** 31));
const caseMs = Number(arg('case-ms') ?? 2000);
const runs = Number(arg('runs') ?? 0);
const json = process.argv.includes('--json');
const only = arg('target');
/** the watchdog: the budget (or every case at its limit) plus a minute */
const watchdogS = (runs > 0 ? (runs * caseMs) / 1000 : seconds) + 60;
if (!(seconds > 0) || !Number.isInteger(seed) || !(caseMs > 0) || !Number.isInteger(runs) || runs < 0) {
  process.stderr.write('usage: npm run fuzz -- [--minutes M | --seconds S | --runs N] [--seed N] [--target NAME] [--case-ms MS] [--json]\n');
  process.exit(2);
}

if (process.argv.includes('--child')) {
  const t = TARGETS.find((x) => x.name === only)!;
  process.stdout.write(JSON.stringify(await fuzzOne(t, seed, seconds * 1000, caseMs, runs)) + '\n');
} else {
  const names = only ? [only] : TARGETS.map((t) => t.name);
  const unknown = names.find((n) => !TARGETS.some((t) => t.name === n));
  if (unknown) {
    process.stderr.write(`fuzz: no target "${unknown}" (targets: ${TARGETS.map((t) => t.name).join(', ')})\n`);
    process.exit(2);
  }
  const results: Result[] = [];
  for (const name of names) {
    if (!json) process.stderr.write(`fuzz: ${name} for ${runs > 0 ? `${runs} cases` : `${seconds} s`}, seed ${seed}\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--target', name,
      '--seconds', String(seconds), '--runs', String(runs), '--seed', String(seed), '--case-ms', String(caseMs)], { encoding: 'utf8', timeout: watchdogS * 1000, maxBuffer: 1 << 24 });
    let res: Result;
    if (r.status === 0) res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    else res = { target: name, seed, runs: 0, seconds, failure: r.signal ? `no answer within ${watchdogS} s (a hang; replay with --target ${name} --seed ${seed})` : `crashed: ${r.stderr.split('\n').slice(0, 8).join(' | ')}` };
    results.push(res);
    if (!json) process.stderr.write(`fuzz: ${name}: ${res.runs} cases in ${res.seconds.toFixed(1)} s, ${res.failure ? `FINDING: ${res.failure}` : 'no finding'}\n`);
  }
  if (json) process.stdout.write(JSON.stringify(results) + '\n');
  process.exitCode = results.some((r) => r.failure) ? 1 : 0;
}
