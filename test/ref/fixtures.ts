// Helpers shared by the parity tests: read reference tensors, compare with the project tolerance.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { toFloat32 } from '../../src/format/tensor.js';
import { parseConfig } from '../../src/arch/config.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface RefTensor { data: Float32Array; shape: number[] }

export function readRefs(file: string): { get(name: string): RefTensor; f64(name: string): number; names: string[]; metadata: Record<string, string> } {
  const table = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  return {
    names: [...table.tensors.keys()],
    metadata: table.metadata,
    /** a scalar stored as F64, read without rounding through f32 */
    f64(name: string) {
      const t = table.tensors.get(name);
      if (!t || t.dtype !== 'F64') throw new Error(`${file}: no F64 tensor ${name}`);
      return new DataView(t.data.buffer, t.data.byteOffset, 8).getFloat64(0, true);
    },
    get(name: string) {
      const t = table.tensors.get(name);
      if (!t) throw new Error(`${file}: no reference tensor ${name}`);
      return { data: toFloat32(t, name), shape: t.shape };
    },
  };
}

/** max|a − b| and max|ref| */
export function maxDiff(ours: Float32Array, ref: Float32Array): { diff: number; scale: number } {
  if (ours.length !== ref.length) throw new Error(`length ${ours.length} vs reference ${ref.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    if (!(d <= diff)) diff = d; // NaN propagates as a failure
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { diff, scale };
}

/** The project tolerance: max|ours − ref| ≤ 1e-4 · max(1, max|ref|). Returns a message on failure, '' when close. */
export function closeTo(what: string, ours: Float32Array, ref: Float32Array, tol = 1e-4): string {
  const { diff, scale } = maxDiff(ours, ref);
  const bound = tol * Math.max(1, scale);
  return diff <= bound ? '' : `${what}: max|ours − ref| = ${diff.toExponential(3)} > ${bound.toExponential(3)} (max|ref| ${scale.toFixed(3)})`;
}

/** A committed fixture model: its config (raw and parsed), tensors, and the reference input waveform. */
export function fixtureModel(name: string) {
  const dir = join(FIXTURES, name);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const tensors = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), name).tensors;
  const input = readRefs(join(dir, 'ref.safetensors')).get('input.speech').data;
  return { config, tensors, input, cfg: parseConfig(config) };
}
