// One options resolver for the pruner: the command line and the API resolve what the caller leaves out to the same
// values, the step-scaled defaults follow their rules, and README and `--help` print the defaults the code has.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PRUNE_DEFAULTS, PRUNE_DEFAULTS_TEXT, resolvePruneOptions, type PruneInput } from '../../src/prune/options.js';
import { pruneInput } from '../../src/cli/main.js';
import { slimwav } from '../ref/cli.js';
import { rejectsCode, throwsCode } from '../ref/assert.js';

const base = { teacher: 't/', data: 'd/', out: 'o/' };
const flags = ['--teacher', 't/', '--data', 'd/', '--out', 'o/'];

const same = suite('CLI = API');
same('the command line and the API resolve the same options, defaults included', async () => {
  const cases: [string[], Omit<PruneInput, 'teacher' | 'data' | 'out'>][] = [
    [['--target-sparsity', '0.7'], { targetSparsity: 0.7 }],
    [['--target-sparsity', '0.7', '--steps', '100'], { targetSparsity: 0.7, steps: 100 }],
    [['--target-sparsity', '0.5', '--steps', '37', '--mode', 'layerwise', '--threads', '1', '--gate-lr', '0.3'],
      { targetSparsity: 0.5, steps: 37, mode: 'layerwise', threads: 1, gateLr: 0.3 }],
    [['--target-sparsity', '0.5', '--units', 'head,ffn', '--final-steps', '20', '--resume', '--seed', '7'],
      { targetSparsity: 0.5, units: ['head', 'ffn'], finalSteps: 20, resume: true, seed: 7 }],
    [['--student', 's/', '--steps', '50'], { student: 's/', steps: 50 }],
  ];
  for (const [args, api] of cases) {
    const cli = await resolvePruneOptions(pruneInput([...flags, ...args]));
    assert.equal(cli, await resolvePruneOptions({ ...base, ...api }), args.join(' '));
  }
});
same('defaults: PRUNE_DEFAULTS, step-scaled gate lr and intervals, threads = cores', async () => {
  const o = await resolvePruneOptions({ ...base, targetSparsity: 0.7 });
  const { steps, finalSteps, mode, lr, gateLr, lambdaLr, checkpointEvery, logEvery, validEvery, threads, units } = o;
  assert.equal({ steps, finalSteps, mode, lr, gateLr, lambdaLr, checkpointEvery, logEvery, validEvery, threads, units },
    { steps: 2000, finalSteps: 500, mode: 'layerwise', lr: 2e-4, gateLr: 0.05, lambdaLr: 0.02, checkpointEvery: 100, logEvery: 10,
      validEvery: 200, threads: availableParallelism(), units: ['conv', 'head', 'qk', 'v', 'attn', 'ffn', 'ffnblock'] });
  const short = await resolvePruneOptions({ ...base, targetSparsity: 0.7, steps: 100 });
  assert.equal([short.gateLr, short.checkpointEvery, short.logEvery, short.validEvery, short.finalSteps], [0.1, 10, 5, 20, 25]);
  const tiny = await resolvePruneOptions({ ...base, targetSparsity: 0.7, steps: 3 });
  assert.equal([tiny.checkpointEvery, tiny.logEvery, tiny.validEvery], [1, 1, 1]);
  // spreading PRUNE_DEFAULTS pins its values, scaled ones included
  const pinned = await resolvePruneOptions({ ...PRUNE_DEFAULTS, ...base, targetSparsity: 0.7, steps: 100 });
  assert.equal([pinned.gateLr, pinned.checkpointEvery, pinned.finalSteps], [0.05, 100, 500]);
  // a --student run has no gated phase: no final steps unless asked (and asking is refused by prune())
  const student = await resolvePruneOptions({ ...base, student: 's/', steps: 100 });
  assert.equal([student.finalSteps, student.mode], [0, 'full']);
  assert.is((await resolvePruneOptions({ ...base, targetSparsity: 0.7, finalSteps: 0 })).finalSteps, 0);
  // a student run has no target; a gated one without a target is left for prune() to refuse
  assert.is((await resolvePruneOptions({ ...base, student: 's/' })).targetSparsity, 0);
  assert.ok(Number.isNaN((await resolvePruneOptions({ ...base })).targetSparsity));
});
same('bad thread counts: the same check and wording in the command line and the API', async () => {
  throwsCode(() => pruneInput([...flags, '--target-sparsity', '0.5', '--threads', '0']), 'E_ARGS', '--threads must be a whole number from 1 to 256', '"0"');
  throwsCode(() => pruneInput([...flags, '--target-sparsity', '0.5', '--threads', 'many']), 'E_ARGS', '--threads', '"many"');
  await rejectsCode(resolvePruneOptions({ ...base, targetSparsity: 0.5, threads: 1.5 }), 'E_ARGS', 'threads must be a whole number from 1 to 256', '1.5');
  await rejectsCode(resolvePruneOptions({ ...base, targetSparsity: 0.5, threads: 257 }), 'E_ARGS', 'threads', '257');
});
same.run();

const docs = suite('documented defaults');
docs('README and `slimwav prune --help` print the resolver\'s defaults', () => {
  assert.ok(PRUNE_DEFAULTS_TEXT.includes(`--steps ${PRUNE_DEFAULTS.steps} `) && PRUNE_DEFAULTS_TEXT.includes(`--final-steps ${PRUNE_DEFAULTS.finalSteps} `));
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes('```\n' + PRUNE_DEFAULTS_TEXT + '\n```'), 'README shows PRUNE_DEFAULTS_TEXT as a code block');
  const help = slimwav('prune', '--help');
  assert.is(help.code, 0, help.err);
  const shown = help.out.split('\n').map((l) => l.trim().replace(/^defaults: /, ''));
  for (const line of PRUNE_DEFAULTS_TEXT.split('\n')) assert.ok(shown.includes(line), `--help lacks "${line}"`);
});
docs.run();
