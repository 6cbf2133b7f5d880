/**
 * The slimwav command line (README "Command line"): a `switch` over the commands, each parsing its own options
 * (args.ts). Every failure becomes one line on stderr and a non-zero exit; `--debug` adds the stack. Output files are
 * written atomically, so a failed run leaves nothing behind.
 */
import { SlimwavError, fail } from '../errors.js';
import { stat } from 'node:fs/promises';
import { loadFiles, type Model } from '../model.js';
import { openModelFiles } from '../arch/model-files.js';
import { countMacs, storageDType } from '../arch/tensors.js';
import { writeFileAtomic } from '../format/fsutil.js';
import { USAGE, commandHelp, parseCommand, threadsOpt, usageError } from './args.js';
import { resolveUnits, type PruneInput } from '../prune/options.js';
import type { ConvertDType } from './convert.js';

/** How the weights are stored: dtype of the tensors (arch/tensors.ts storageDType) and the weights file's bytes. */
interface Storage { dtype: string; fileBytes: number }

function layoutJson(model: Model, storage: Storage) {
  const c = model.config;
  const macs = countMacs(c, 16000);
  return {
    model_type: c.modelType,
    source: model.info.source,
    params: model.info.params,
    dtype: storage.dtype,
    file_bytes: storage.fileBytes,
    macs_per_second: macs.total,
    frames_per_second: macs.frames,
    hidden_size: c.hidden,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    head_dim: c.headDim,
    pruned: c.pruned,
    feat_extract_norm: c.featExtractNorm,
    do_stable_layer_norm: c.preLayerNorm,
    conv: c.conv.map((l) => ({ channels: l.dim, kernel: l.kernel, stride: l.stride })),
    layers: c.layers.map((L, i) => ({
      heads: L.heads,
      qk_dims: L.qkDims,
      v_dims: L.vDims,
      ffn: L.ffn,
      macs_per_second: macs.layers[i].attention + macs.layers[i].ffn,
    })),
    macs_breakdown: { conv: macs.conv, projection: macs.projection, pos_conv: macs.posConv },
    preprocessor: model.info.preprocessor
      ? { do_normalize: model.info.preprocessor.doNormalize, sampling_rate: model.info.preprocessor.samplingRate, source: model.info.preprocessor.source }
      : null,
    notes: model.info.notes,
  };
}

const fmtInt = (n: number) => n.toLocaleString('en-US');

async function inspect(argv: string[]): Promise<void> {
  const { values, pos } = parseCommand('inspect', argv, { json: { type: 'boolean' }, svg: { type: 'string' } }, ['model']);
  const files = await openModelFiles(pos[0]);
  const model = await loadFiles(files, { threads: 1 });
  try {
    const storage = { dtype: storageDType(model.config, files.tensors), fileBytes: (await stat(files.source)).size };
    const j = layoutJson(model, storage);
    if (values.svg !== undefined) {
      const svg = values.svg as string;
      if (!svg.endsWith('.svg')) usageError('inspect', `--svg must name a .svg file, found "${svg}"`);
      const { structureSvg, layoutOf } = await import('../viz/structure-svg.js');
      await writeFileAtomic(svg, new TextEncoder().encode(structureSvg(layoutOf(model.config), { title: pos[0] })));
      process.stderr.write(`wrote ${svg}\n`);
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(j) + '\n');
      return;
    }
    const c = model.config;
    const lines = [
      `${pos[0]}: ${c.modelType}, ${c.numLayers} layers, hidden ${c.hidden}, ${c.numHeads} heads × ${c.headDim}${c.pruned ? ' (pruned layout)' : ''}`,
      `  params            ${fmtInt(j.params)}${j.dtype === 'q8' || j.dtype === 'mixed' ? ' (an int8 weight counts once; its per-row scales are not counted)' : ''}`,
      `  weights           ${j.dtype}, ${(j.file_bytes / 1e6).toFixed(1)} MB (${fmtInt(j.file_bytes)} bytes of ${model.info.source})`,
      `  MACs / s audio    ${fmtInt(j.macs_per_second)} (${(j.macs_per_second / 1e9).toFixed(3)} G; conv ${(j.macs_breakdown.conv / 1e9).toFixed(3)} G)`,
      `  frames / s        ${j.frames_per_second}`,
      `  conv stack        ${c.featExtractNorm}-norm${c.convBias ? ', bias' : ''}: ` + c.conv.map((l) => `${l.dim}/k${l.kernel}/s${l.stride}`).join(' '),
      `  encoder           ${c.preLayerNorm ? 'pre-LN' : 'post-LN'}, pos-conv k${c.posConvKernel} g${c.posConvGroups}`,
      '  layer  heads(orig:qk/v)' + ' '.repeat(30) + 'ffn    MMACs/s',
    ];
    c.layers.forEach((L, i) => {
      const dense = L.heads.length === c.numHeads && L.qkDims.every((d) => d === c.headDim) && L.vDims.every((d) => d === c.headDim);
      const heads = L.heads.length === 0 ? '(attention removed)'
        : dense ? `${L.heads.length} × ${c.headDim}/${c.headDim}`
        : L.heads.map((h, k) => `${h}:${L.qkDims[k]}/${L.vDims[k]}`).join(' ');
      lines.push(`  ${String(i).padStart(5)}  ${heads.padEnd(46)} ${String(L.ffn || '-').padStart(5)}  ${(j.layers[i].macs_per_second / 1e6).toFixed(1).padStart(8)}`);
    });
    const pre = model.info.preprocessor;
    lines.push(pre
      ? `  preprocessor      do_normalize ${pre.doNormalize}${pre.doNormalize ? ' (each waveform scaled to zero mean, unit variance first)' : ''}, ${pre.samplingRate} Hz, from ${pre.source}`
      : '  preprocessor      none (no preprocessor_config.json: the waveform is used as it is)');
    for (const n of model.info.notes) lines.push(`  note: ${n}`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    model.dispose();
  }
}

async function convert(argv: string[]): Promise<void> {
  const { values, pos } = parseCommand('convert', argv, {
    out: { type: 'string' }, dtype: { type: 'string' }, 'single-file': { type: 'boolean' },
  }, ['checkpoint-or-folder']);
  const out = values.out as string | undefined;
  if (!out) usageError('convert', 'convert needs --out <folder> (or --out <file.safetensors> --single-file)');
  const dtype = (values.dtype as string | undefined) ?? 'f32';
  const { convertModel, CONVERT_DTYPES } = await import('./convert.js');
  if (!CONVERT_DTYPES.includes(dtype as ConvertDType)) usageError('convert', `--dtype must be f32, f16 or q8, found "${dtype}"`);
  const single = !!values['single-file'];
  const res = await convertModel(pos[0], out, { dtype: dtype as ConvertDType, singleFile: single });
  const what = single ? out : `${out} (config.json + model.safetensors)`;
  const notes = res.notes.length ? `; notes: ${res.notes.join('; ')}` : '';
  process.stderr.write(`wrote ${what}: ${dtype.toUpperCase()}, ${fmtInt(res.params)} params${notes}\n`);
}

/**
 * `prune`'s flags as the API's options: only the options given, so that every default comes from the one resolver
 * the API uses too (resolvePruneOptions, src/prune/options.ts).
 */
export function pruneInput(argv: string[]): PruneInput {
  const { values } = parseCommand('prune', argv, {
    teacher: { type: 'string' }, data: { type: 'string' }, 'target-sparsity': { type: 'string' }, out: { type: 'string' },
    steps: { type: 'string' }, 'final-steps': { type: 'string' }, mode: { type: 'string' }, resume: { type: 'boolean' },
    threads: { type: 'string' }, 'target-macs': { type: 'string' }, units: { type: 'string' }, seed: { type: 'string' },
    lr: { type: 'string' }, 'crop-seconds': { type: 'string' }, 'batch-seconds': { type: 'string' }, 'checkpoint-every': { type: 'string' },
    'log-every': { type: 'string' }, 'valid-every': { type: 'string' }, 'gate-lr': { type: 'string' }, student: { type: 'string' },
    'lambda-lr': { type: 'string' }, 'sparsity-warmup': { type: 'string' }, 'target-speedup': { type: 'string' },
    'no-ste': { type: 'boolean' }, init: { type: 'string' },
  }, []);
  const student = values.student as string | undefined;
  if (student !== undefined) {
    // --student distils a given model without gates: every option about gates or the pruning target is an error
    const gated = ['target-sparsity', 'target-macs', 'target-speedup', 'units', 'gate-lr', 'lambda-lr', 'sparsity-warmup', 'final-steps', 'mode', 'no-ste'].find((k) => values[k] !== undefined);
    if (gated) usageError('prune', `--${gated} cannot be combined with --student (it distils the given model without gates; --steps sets the number of distillation steps)`);
  }
  if (student === undefined && values['target-speedup'] !== undefined && values['target-sparsity'] !== undefined) {
    usageError('prune', '--target-speedup and --target-sparsity cannot be combined: choose a speed or a size');
  }
  if (student === undefined && values.init !== undefined) usageError('prune', '--init needs --student (the layout to train from scratch); a gated run starts from the teacher');
  if (values.init !== undefined && values.init !== 'given' && values.init !== 'random') usageError('prune', `--init must be given or random, found "${values.init}"`);
  const needTarget = student === undefined && values['target-speedup'] === undefined;
  for (const k of ['teacher', 'data', ...(needTarget ? ['target-sparsity'] : []), 'out']) {
    if (values[k] === undefined) usageError('prune', k === 'target-sparsity' ? 'prune needs --target-sparsity (or --target-speedup)' : `prune needs --${k}`);
  }
  const num = (k: string): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) usageError('prune', `--${k} must be a number, found "${v}"`);
    return n;
  };
  return {
    teacher: values.teacher as string, data: values.data as string, out: values.out as string, student,
    targetSparsity: num('target-sparsity'), targetMacs: num('target-macs'), targetSpeedup: num('target-speedup'),
    ste: values['no-ste'] ? false : undefined, init: values.init as 'given' | 'random' | undefined,
    steps: num('steps'), finalSteps: num('final-steps'), mode: values.mode as 'full' | 'layerwise' | undefined,
    resume: values.resume === undefined ? undefined : Boolean(values.resume), threads: threadsOpt('prune', values.threads),
    units: values.units === undefined ? undefined : resolveUnits(String(values.units)),
    lr: num('lr'), gateLr: num('gate-lr'), lambdaLr: num('lambda-lr'), sparsityWarmup: num('sparsity-warmup'),
    cropSeconds: num('crop-seconds'), batchSeconds: num('batch-seconds'), seed: num('seed'),
    checkpointEvery: num('checkpoint-every'), logEvery: num('log-every'), validEvery: num('valid-every'),
  };
}

async function pruneCommand(argv: string[]): Promise<number> {
  const input = pruneInput(argv);
  const { prune } = await import('../prune/train.js');
  const res = await prune(input);
  return res.interrupted ? 130 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write((commandHelp(cmd) ?? USAGE) + '\n');
    return 0;
  }
  switch (cmd) {
    case 'features': { const { features } = await import('./features.js'); return features(rest); }
    case 'inspect': await inspect(rest); return 0;
    case 'convert': await convert(rest); return 0;
    case 'export-onnx': { const { exportOnnxCommand } = await import('./export-onnx.js'); await exportOnnxCommand(rest); return 0; }
    case 'bench': {
      const { bench } = await import('./bench.js');
      await bench(rest);
      return 0;
    }
    case 'prune': return pruneCommand(rest);
    case 'demo': { const { demo } = await import('./demo.js'); await demo(rest); return 0; }
    case 'web': { const { web } = await import('./serve.js'); await web(rest); return 0; }
    case '--version': case '-v': case 'version': {
      const { packageVersion } = await import('./bundled.js');
      process.stdout.write(packageVersion() + '\n');
      return 0;
    }
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(USAGE + '\n');
      return cmd === undefined ? 2 : 0;
    default:
      return fail('E_ARGS', `unknown command "${cmd}"; see slimwav --help`);
  }
}

export async function run(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (debug) process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
    if (err instanceof SlimwavError) {
      const [first, ...more] = err.message.split('\n');
      process.stderr.write(`slimwav: ${first}\n${more.length ? more.join('\n') + '\n' : ''}`);
      process.exitCode = err.code === 'E_ARGS' ? 2 : 1;
    } else {
      const msg = (err as Error)?.message ?? String(err);
      process.stderr.write(`slimwav: internal error: ${msg.split('\n')[0]} (run with --debug for details; please report this)\n`);
      process.exitCode = 70;
    }
  }
}
