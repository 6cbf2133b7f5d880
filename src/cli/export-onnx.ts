/** `slimwav export-onnx <model> --out <file.onnx> [--opset N] [--dtype f32|q8]`. */
import { parseCommand, usageError } from './args.js';
import { ONNX_DTYPES, OPSET_MAX, OPSET_MIN, type OnnxDtype } from '../onnx/export.js';
import { exportOnnxFile } from '../onnx/file.js';

/** The CLI command. */
export async function exportOnnxCommand(argv: string[]): Promise<void> {
  const { values, pos: positionals } = parseCommand('export-onnx', argv, { out: { type: 'string' }, opset: { type: 'string' }, dtype: { type: 'string' } }, ['model']);
  const out = values.out as string | undefined;
  if (!out) usageError('export-onnx', 'export-onnx needs --out <file.onnx>');
  if (!out.endsWith('.onnx')) usageError('export-onnx', `--out must name a .onnx file, found "${out}"`);
  let opset: number | undefined;
  if (values.opset !== undefined) {
    opset = Number(values.opset);
    if (!/^\d+$/.test(values.opset as string) || opset < OPSET_MIN || opset > OPSET_MAX) {
      usageError('export-onnx', `--opset must be a whole number from ${OPSET_MIN} to ${OPSET_MAX}, found "${values.opset}"`);
    }
  }
  const dtype = (values.dtype ?? 'f32') as string;
  if (!(ONNX_DTYPES as readonly string[]).includes(dtype)) usageError('export-onnx', `--dtype must be f32 or q8, found "${dtype}"`);
  const res = await exportOnnxFile(positionals[0], out, { opset, dtype: dtype as OnnxDtype });
  process.stderr.write(
    `wrote ${out}: ONNX opset ${res.opset}, ${res.dtype === 'q8' ? 'q8 (int8 weights), ' : ''}${res.nodes} nodes, ${(res.bytes.length / 1e6).toFixed(1)} MB; ` +
    `input waveform [1, samples] → hidden_states [${res.hiddenStates}, frames, ${res.hidden}], last_hidden_state [frames, ${res.hidden}]\n`,
  );
}
