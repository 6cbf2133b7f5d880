/**
 * Command-line parsing shared by every command: each command's own help text, and usage errors in one line
 * ("<what is wrong>; see slimwav <cmd> --help") instead of the whole usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fail } from '../errors.js';
import { checkThreads } from '../runtime/threads.js';
import { PRUNE_DEFAULTS_TEXT } from '../prune/options.js';
import { AUTO_CHUNK_ABOVE_SECONDS, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS } from '../runtime/chunking.js';

/** Each command's help: the synopsis line(s), then what the options do. `slimwav --help` prints the synopses. */
export const HELP: Record<string, { synopsis: string; details: string }> = {
  features: {
    synopsis: `slimwav features <model> <audio> --out <file.npy|file.safetensors> [options]
  slimwav features <model> <folder|manifest.txt|file>... --out-dir <folder> [options] [--shard i/N]`,
    details: `One file: writes the hidden states of <audio> to --out (the extension picks the format).
Corpus: every audio file under each folder (recursively), every line of a manifest (.txt, one path per line,
relative to the manifest's folder; blank lines and # comments skipped) or each file given; the model is loaded once
and each input gets one output under --out-dir, its path relative to the folder (manifest, loose files: relative to
their common folder) kept and its extension replaced. Outputs already there are skipped, so a rerun resumes.
A file that fails is reported and the run carries on; the exit code is 1 if any failed. Ctrl-C finishes the
current file, prints the summary and exits 130. docs/corpus.md has the details.
  --layers all|last|i,j,...   hidden states to keep (0 = encoder input, L = last layer); default all
  --format npy|safetensors    output format for --out-dir (default npy)
  --pool mean                 average over frames: one vector per kept layer
  --layer-weights <w.json>    a JSON array with one weight per kept layer: the output is the weighted sum of the
                              kept hidden states with softmax(weights), as s3prl's weighted-sum featurizer
  --shard i/N                 only the i-th of N interleaved slices of the sorted inputs (i = 0..N-1)
  --overwrite                 recompute outputs that already exist
  --threads N                 kernel threads (default: every core)
  --chunk S|off               run in windows keeping S seconds each (default: ${DEFAULT_CHUNK_SECONDS} s windows for audio over ${AUTO_CHUNK_ABOVE_SECONDS} s,
                              one pass below; README "Long audio"); off: always one pass (time grows with length²)
  --context S                 seconds of context each side of a window, dropped after the run (default ${DEFAULT_CONTEXT_SECONDS})
Shapes: [layers, frames, dim]; --pool mean: [layers, dim]; --layer-weights: [frames, dim] (with --pool: [dim]).
safetensors files hold one F32 tensor "features" of that shape, metadata "layers" lists the hidden-state indices.`,
  },
  inspect: {
    synopsis: 'slimwav inspect  <model> [--json] [--svg <file.svg>]',
    details: `Prints the layout: params, MACs per second of audio, per-layer heads (q/k and v widths) and FFN width,
and how the weights are stored: dtype (f32, f16, bf16, q8 or mixed) and the weights file's size.
  --json          the same as one JSON object (with "dtype" and "file_bytes")
  --svg <file>    draws the remaining structure of every layer against the dense shape`,
  },
  convert: {
    synopsis: 'slimwav convert  <checkpoint-or-folder> --out <folder> [--dtype f32|f16|q8] [--single-file]',
    details: `Converts a Hugging Face / fairseq / DPHuBERT checkpoint into a slimwav model folder (config.json +
model.safetensors), or one .safetensors file with --single-file.
  --dtype f32     every tensor F32 (default); a q8 input is written dequantized (int8 × scale)
  --dtype f16     every tensor F16, half the size
  --dtype q8      linear layers, conv layers 1.. and the positional conv as int8 with one F32 scale per output
                  row, the rest F32 (about a quarter of the f32 size; docs/format.md "int8 weights")`,
  },
  'export-onnx': {
    synopsis: 'slimwav export-onnx <model> --out <file.onnx> [--opset 17..21] [--dtype f32|q8]',
    details: `Writes the model as an ONNX graph: input waveform [1, samples], outputs every hidden state.
  --dtype q8      int8 weights (slimwav's, per output channel) in onnxruntime's dynamic-quantization ops:
                  DynamicQuantizeLinear + MatMulInteger / ConvInteger (docs/onnx.md); default f32`,
  },
  prune: {
    synopsis: `slimwav prune    --teacher <model> --data <folder-of-audio> --target-sparsity <0..1> --out <folder>
                   [--steps N] [--final-steps N] [--mode full|layerwise] [--resume] [--threads N]
                   [--target-macs <0..1>] [--units fine|whole-head|conv,head,qk,v,attn,ffn,ffnblock] [--no-ste]
                   [--seed N] [--lr X] [--crop-seconds S] [--batch-seconds S] [--checkpoint-every N] [--gate-lr X]
                   [--lambda-lr X] [--sparsity-warmup F]
  slimwav prune    --teacher <model> --data <folder-of-audio> --target-speedup <X> --out <folder> [...]
  slimwav prune    --teacher <model> --student <pruned model> --data <folder-of-audio> --out <folder>
                   [--init given|random] [--steps N] [--resume] [--threads N] [--seed N] [--lr X] [...]
                   (distillation only, no gates)`,
    details: `Structured pruning by distillation from the teacher; docs/pruner.md explains every option.
  --target-speedup X   prune to a speed instead of a size: the written model's time on this machine (one
                       thread, 10 s clip; a cost model of the kernels, measured in a few seconds, cached, and
                       calibrated on the teacher and a reduced layout of it) is the teacher's / X; instead
                       of --target-sparsity
  --units U            what is pruned: fine (default: every kind, each head keeps its own q/k and value widths),
                       whole-head (heads kept or removed whole), or a list of unit kinds
  --no-ste             the hard-concrete relaxation alone: the forward pass uses the relaxed gate values instead of
                       the straight-through estimator's 0/1
  --init random        with --student: re-initialise the student's weights at random (its layout from scratch)
Options left out resolve as in the prune() API:
${PRUNE_DEFAULTS_TEXT.split('\n').map((l, i) => `${i ? '          ' : 'defaults: '}${l}`).join('\n')}`,
  },
  bench: {
    synopsis: 'slimwav bench    [--seconds 10] [--iterations 3] [--threads 1,2] [--sparsity 0.5,0.72] [--memory 10,60,600]\n                   [--no-ort] [--json] [--svg <file.svg>]',
    details: `Measures the kernels' peak, the GEMM, and end-to-end time of the wav2vec2-base shape (random weights) and
of pruned layouts of it, on this machine, next to onnxruntime when installed; then the dense model's load time from
its file (slimwav load() of safetensors, onnxruntime session creation from the same weights as .onnx).
  --sparsity a,b,...   pruned layouts to time, as fractions of parameters removed, each in (0, 0.95)
                       (default: the one layout with ~28% of the parameters left)
  --svg <file>         plots time against sparsity, one line per thread count`,
  },
  demo: {
    synopsis: 'slimwav demo     [--svg <file.svg>]',
    details: `Runs the dense wav2vec2-base shape and a pruned layout with 28% of its parameters on the bundled clip and
prints params, MACs, time, real-time factor and the measured speedup.
  --svg <file>    a bar chart of time and params, dense against pruned`,
  },
  web: {
    synopsis: 'slimwav web      [--port 8080] [--host 127.0.0.1] [--no-isolation]',
    details: `Serves the browser demo page (web/) of this install on http://<host>:<port>/web/ until Ctrl-C: read-only,
with the COOP/COEP headers that let the page use threads, and the kernels as application/wasm.
  --port N          the port (default 8080; 0 picks a free one)
  --host H          the address to listen on (default 127.0.0.1, this machine only)
  --no-isolation    leave out COOP/COEP: the page then runs on one thread and says so`,
  },
};

export const USAGE = `usage:\n${Object.values(HELP).map((h) => `  ${h.synopsis}`).join('\n')}
  slimwav --version
common options: --debug (stack traces), --help (slimwav <command> --help: that command's options)`;

export function commandHelp(cmd: string): string | undefined {
  const h = HELP[cmd];
  return h && `usage:\n  ${h.synopsis}\n\n${h.details}\ncommon options: --debug (stack traces), --help`;
}

/** An argument error: one line naming what is wrong, and where to look. */
export function usageError(cmd: string, message: string): never {
  return fail('E_ARGS', `${message}; see slimwav ${cmd} --help`);
}

export type Values = Record<string, string | boolean | undefined>;
type Options = NonNullable<ParseArgsConfig['options']>;

/** node's parseArgs messages, in one short line of our wording. */
function parseError(cmd: string, err: Error & { code?: string }, argv: string[]): never {
  const m = err.message.split('\n')[0];
  const unknown = /^Unknown option '([^']+)'/.exec(m);
  if (unknown) return usageError(cmd, `${cmd}: unknown option ${unknown[1]}`);
  const missing = /^Option '(-\w, )?(--[\w-]+) <value>' argument missing/.exec(m);
  if (missing) return usageError(cmd, `${cmd}: ${missing[2]} needs a value`);
  const ambiguous = /^Option '(-\w, )?(--[\w-]+) <value>' argument is ambiguous/.exec(m);
  if (ambiguous) {
    const v = argv[argv.indexOf(ambiguous[2]) + 1];
    return usageError(cmd, `${cmd}: ${ambiguous[2]} needs a value, found the option-like "${v}" (write ${ambiguous[2]}=${v} if you mean it)`);
  }
  const positional = /^Unexpected argument '([^']+)'/.exec(m);
  if (positional) return usageError(cmd, `${cmd}: unexpected argument "${positional[1]}"`);
  return usageError(cmd, `${cmd}: ${m}`);
}

/**
 * Parse `argv` for `cmd`. `positionals` names the required positional arguments; `more` allows extra ones (lists of
 * inputs). A negative number after a string option (`--threads -1`) is taken as its value, so that the option's own
 * check says what is wrong with it rather than node's "argument is ambiguous".
 */
export function parseCommand(cmd: string, argv: string[], options: Options, positionals: string[], more = false): { values: Values; pos: string[] } {
  const all: Options = { ...options, debug: { type: 'boolean' } };
  const fixed: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = argv[i + 1];
    const opt = a.startsWith('--') ? all[a.slice(2)] : undefined;
    if (opt?.type === 'string' && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      fixed.push(`${a}=${next}`);
      i++;
    } else {
      fixed.push(a);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: fixed, options: all, allowPositionals: true, strict: true });
  } catch (err) {
    return parseError(cmd, err as Error, fixed);
  }
  const n = parsed.positionals.length;
  if (n < positionals.length || (!more && n > positionals.length)) {
    const want = positionals.map((p) => `<${p}>`).join(' ') + (more ? '...' : '');
    if (n < positionals.length) usageError(cmd, `${cmd} expected ${want}, missing <${positionals[n]}>`);
    usageError(cmd, `${cmd} expected ${want || 'no arguments'}, got the extra argument "${parsed.positionals[positionals.length]}"`);
  }
  return { values: parsed.values as Values, pos: parsed.positionals };
}

/** `--threads N` checked as the API checks it (checkThreads), in one usage line; undefined (every core) when absent. */
export function threadsOpt(cmd: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return checkThreads(/^\s*-?\d+\s*$/.test(String(v)) ? Number(v) : NaN, '--threads', `"${v}"`);
  } catch (err) {
    return usageError(cmd, (err as Error).message);
  }
}
