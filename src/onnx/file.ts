/**
 * exportOnnxFile(): open any model form load() accepts, export it, write the file atomically (nothing is left behind
 * on failure). The command line's `export-onnx` (src/cli/export-onnx.ts) is a thin layer over it.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fail } from '../errors.js';
import { openModelFiles } from '../arch/model-files.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { exportOnnx, type OnnxDtype, type OnnxExport } from './export.js';

export interface ExportOnnxFileOptions {
  opset?: number;
  /** 'f32' (default) or 'q8' (exportOnnx) */
  dtype?: OnnxDtype;
}

/** Export the model at `modelPath` (folder, .safetensors or checkpoint) to the ONNX file `outPath`. */
export async function exportOnnxFile(modelPath: string, outPath: string, opts: ExportOnnxFileOptions = {}): Promise<OnnxExport> {
  const dir = dirname(outPath);
  const st = await stat(dir).catch(() => null);
  if (!st || !st.isDirectory()) fail('E_IO', `${outPath}: cannot write: folder ${dir} does not exist`);
  const outStat = await stat(outPath).catch(() => null);
  if (outStat?.isDirectory()) fail('E_IO', `${outPath}: cannot write: is a directory, expected a file`);
  const files = await openModelFiles(modelPath);
  const res = exportOnnx(files.config, files.tensors, { opset: opts.opset, dtype: opts.dtype, source: files.source });
  await writeFileAtomic(outPath, res.bytes);
  return res;
}
