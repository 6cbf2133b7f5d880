// Every hidden state of a model on the reference clips of a fixture (its ref.safetensors inputs), for tests that
// compare two forms of the same model (convert's outputs, q8 files) bit for bit or within a bound.
import { join } from 'node:path';
import { load, type LoadOptions } from '../../src/index.js';
import { readRefs } from './fixtures.js';

export const REF_CLIPS = ['sine', 'noise', 'speech'] as const;

/** [clip][hidden-state index] → [frames × dim], model loaded from `path` on one thread (+ opts), inputs from `refDir`. */
export async function hiddenStates(path: string, refDir: string, opts: LoadOptions = {}): Promise<Float32Array[][]> {
  const refs = readRefs(join(refDir, 'ref.safetensors'));
  const m = await load(path, { threads: 1, ...opts });
  try {
    const out: Float32Array[][] = [];
    for (const clip of REF_CLIPS) out.push((await m.extract(refs.get(`input.${clip}`).data, { layers: 'all' })).layers);
    return out;
  } finally {
    m.dispose();
  }
}
