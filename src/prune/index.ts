/**
 * slimwav/prune: the offline pruner (Node only) and compaction.
 *
 *   import { prune, compact } from 'slimwav/prune';
 *   await prune({ teacher: 'base/', data: 'audio/', targetSparsity: 0.72, out: 'pruned/' });   // other options: defaults
 *   const { config, tensors } = compact(configJson, denseTensors, { heads, ffn, conv });
 *
 * Kept apart from the runtime entry point (`slimwav`) so that running a model never loads the trainer.
 */
export { prune } from './train.js';
export { PRUNE_DEFAULTS, resolvePruneOptions } from './options.js';
export type { PruneOptions, PruneResult } from './train.js';
export type { PruneInput } from './options.js';
export { compact, applyMasks } from './compact.js';
export type { KeepMasks, CompactOptions, CompactResult } from './compact.js';
export { UNIT_KINDS } from './gates.js';
export type { UnitKind } from './gates.js';
