import { fail } from './errors.js';

/** Which hidden states to return: 'all' (0..L), 'last' (L), or explicit indices in 0..L. */
export type LayerSelection = 'all' | 'last' | number[];

/**
 * Resolve a selection to indices, in the order given. The API passes 'all' | 'last' | number[] (a "i,j,…" string is
 * accepted too) and its errors say `layers`; the CLI passes its flag's text with `flag` = '--layers', and its errors
 * name the flag.
 */
export function resolveLayers(sel: LayerSelection | string, numLayers: number, flag?: string): number[] {
  if (sel === 'all') return Array.from({ length: numLayers + 1 }, (_, i) => i);
  if (sel === 'last') return [numLayers];
  const name = flag ?? 'layers';
  let list: unknown[];
  if (typeof sel === 'string') {
    if (!/^\s*\d+(\s*,\s*\d+)*\s*$/.test(sel)) {
      fail('E_ARGS', flag !== undefined
        ? `${flag} must be all, last or a comma-separated list of indices 0..${numLayers}, found "${sel}"`
        : `layers must be 'all', 'last' or an array of indices 0..${numLayers}, found "${sel}"`);
    }
    list = sel.split(',').map((s) => Number(s.trim()));
  } else if (Array.isArray(sel)) {
    list = sel;
  } else {
    return fail('E_ARGS', `layers must be 'all', 'last' or an array of indices 0..${numLayers}, found ${JSON.stringify(sel)}`);
  }
  if (list.length === 0) fail('E_ARGS', `${name} is empty; give at least one index in 0..${numLayers}`);
  for (const i of list) {
    if (!Number.isInteger(i) || (i as number) < 0 || (i as number) > numLayers) {
      fail('E_ARGS', `${name}: index ${JSON.stringify(i)} is outside 0..${numLayers} (0 is the encoder input, ${numLayers} the last layer)`);
    }
  }
  return list as number[];
}
