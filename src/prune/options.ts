/**
 * The pruner's options, resolved in one place for the API (`prune()`) and the command line (`slimwav prune`): an
 * option the caller leaves out gets the same value either way, and `--help` and README print PRUNE_DEFAULTS_TEXT,
 * which is written from the same values.
 */
import { resolveThreads } from '../runtime/threads.js';
import { fail } from '../errors.js';
import { UNIT_KINDS, type UnitKind } from './gates.js';
import type { PruneOptions } from './train.js';

/**
 * The defaults: the recipe the evaluation chose on validation voices only (eval/README.md: layer-wise mode, gate lr
 * 0.05, 2000 gated + 500 gate-free steps). Five scale with the step budget so that short runs still learn their
 * gates and report progress: finalSteps is a quarter of the steps (0 for a `--student` run, which has no gated
 * phase, and whose mode is 'full': it distils hidden states as the final steps do), gateLr is at least 10/steps, checkpointEvery, logEvery and validEvery at most a tenth, a twentieth and a
 * fifth of the steps. threads defaults to the machine's cores (as `load()` does). Spreading this object pins these exact
 * values (the scaled four included); leaving options out gets the resolved defaults.
 */
export const PRUNE_DEFAULTS = {
  targetMacs: undefined, steps: 2000, finalSteps: 500, mode: 'layerwise' as const, resume: false,
  units: UNIT_KINDS, lr: 2e-4, gateLr: 0.05, lambdaLr: 0.02, sparsityWarmup: 0.3, lrWarmup: 0.3,
  cropSeconds: 2, batchSeconds: 4, seed: 2022, checkpointEvery: 100, logEvery: 10, validEvery: 200,
  ste: true, init: 'given' as const,
};

/**
 * `--units` presets: `fine` = every unit kind (the published method: each head keeps its own q/k and value widths);
 * `whole-head` = the same without `qk` and `v`, so heads are kept or removed whole (DPHuBERT's granularity).
 */
export const UNIT_PRESETS: Record<'fine' | 'whole-head', UnitKind[]> = {
  fine: [...UNIT_KINDS],
  'whole-head': UNIT_KINDS.filter((k) => k !== 'qk' && k !== 'v'),
};

/** `--units` as the API takes it: a preset name or unit kinds; unknown names are refused with one line. */
export function resolveUnits(spec: string | readonly string[]): UnitKind[] {
  if (typeof spec === 'string') {
    if (spec in UNIT_PRESETS) return [...UNIT_PRESETS[spec as keyof typeof UNIT_PRESETS]];
    return resolveUnits(spec.split(',').map((u) => u.trim()));
  }
  if (spec.length === 0) fail('E_ARGS', '--units is empty');
  for (const u of spec) {
    if (!UNIT_KINDS.includes(u as UnitKind)) fail('E_ARGS', `unknown unit kind "${u}" in --units; choose fine, whole-head or a list of ${UNIT_KINDS.join(', ')}`);
  }
  return [...new Set(spec as UnitKind[])];
}

/** What `prune()` takes: teacher, data and out, the target (unless `student`), and any other option to override. */
export type PruneInput = Pick<PruneOptions, 'teacher' | 'data' | 'out'> & Partial<Omit<PruneOptions, 'teacher' | 'data' | 'out' | 'units'>> & {
  /** unit kinds, or a preset: 'fine' (all kinds) or 'whole-head' (no per-head q/k or value dimensions) */
  units?: UnitKind[] | 'fine' | 'whole-head';
};

/** Every option of a run: given values kept, the others from PRUNE_DEFAULTS and the step-scaled rules above. */
export async function resolvePruneOptions(input: PruneInput): Promise<PruneOptions> {
  const d = PRUNE_DEFAULTS;
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as PruneInput;
  const steps = given.steps ?? d.steps;
  const every = (cap: number, parts: number) => Math.max(1, Math.min(cap, Math.ceil(steps / parts)));
  return {
    ...d,
    // NaN: validation says the target is missing (a run to a speed has no parameter target)
    targetSparsity: input.student !== undefined || input.targetSpeedup !== undefined ? 0 : NaN,
    ...given,
    steps,
    units: given.units === undefined ? [...d.units] : resolveUnits(given.units),
    finalSteps: given.finalSteps ?? (input.student !== undefined ? 0 : Math.round((steps * d.finalSteps) / d.steps)),
    mode: given.mode ?? (input.student !== undefined ? 'full' : d.mode),
    gateLr: given.gateLr ?? Math.max(d.gateLr, 10 / steps),
    checkpointEvery: given.checkpointEvery ?? every(d.checkpointEvery, 10),
    logEvery: given.logEvery ?? every(d.logEvery, 20),
    validEvery: given.validEvery ?? every(d.validEvery, 5),
    threads: await resolveThreads(given.threads),
  };
}

/** The defaults as `--help` and README state them. */
export const PRUNE_DEFAULTS_TEXT = [
  `--steps ${PRUNE_DEFAULTS.steps}  --final-steps ${PRUNE_DEFAULTS.finalSteps} (steps/4)  --mode ${PRUNE_DEFAULTS.mode}  ` +
    `--units ${PRUNE_DEFAULTS.units.join(',')}`,
  `--lr ${PRUNE_DEFAULTS.lr}  --gate-lr max(${PRUNE_DEFAULTS.gateLr}, 10/steps)  --lambda-lr ${PRUNE_DEFAULTS.lambdaLr}  ` +
    `--sparsity-warmup ${PRUNE_DEFAULTS.sparsityWarmup}  --seed ${PRUNE_DEFAULTS.seed}`,
  `--crop-seconds ${PRUNE_DEFAULTS.cropSeconds}  --batch-seconds ${PRUNE_DEFAULTS.batchSeconds}  ` +
    `--checkpoint-every min(${PRUNE_DEFAULTS.checkpointEvery}, ⌈steps/10⌉)  --threads <cores>`,
].join('\n');
