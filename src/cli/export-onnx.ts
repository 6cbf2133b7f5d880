/** `slimwav export-onnx <model> --out <file.onnx> [--opset N]`. */
import { parseArgs } from 'node:util';
import { fail } from '../errors.js';
import { OPSET_MAX, OPSET_MIN } from '../onnx/export.js';
import { exportOnnxFile } from '../onnx/file.js';

/** The CLI command; `usage` is the CLI's usage text, appended to argument errors. */
export async function exportOnnxCommand(argv: string[], usage: string): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, opset: { type: 'string' }, debug: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    fail('E_ARGS', `${(err as Error).message.split('\n')[0]}\n${usage}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) fail('E_ARGS', `expected <model>, got ${positionals.length} argument(s)\n${usage}`);
  const out = values.out;
  if (!out) fail('E_ARGS', `export-onnx needs --out <file.onnx>\n${usage}`);
  if (!out.endsWith('.onnx')) fail('E_ARGS', `--out must name a .onnx file, found "${out}"`);
  let opset: number | undefined;
  if (values.opset !== undefined) {
    opset = Number(values.opset);
    if (!/^\d+$/.test(values.opset) || opset < OPSET_MIN || opset > OPSET_MAX) {
      fail('E_ARGS', `--opset must be a whole number from ${OPSET_MIN} to ${OPSET_MAX}, found "${values.opset}"`);
    }
  }
  const res = await exportOnnxFile(positionals[0], out, { opset });
  process.stderr.write(
    `wrote ${out}: ONNX opset ${res.opset}, ${res.nodes} nodes, ${(res.bytes.length / 1e6).toFixed(1)} MB; ` +
    `input waveform [1, samples] → hidden_states [${res.hiddenStates}, frames, ${res.hidden}], last_hidden_state [frames, ${res.hidden}]\n`,
  );
}
