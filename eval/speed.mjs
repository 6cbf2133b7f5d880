// Measured speed of models on slimwav's runtime, and pruning to a requested speedup.
//
//   node eval/speed.mjs time --teacher T [--jsonl F] [--threads 1] [--seconds 10] [--rounds 7] NAME=MODEL…
//       each model's time against the teacher's on the same clip: load() with --threads, one extract of all hidden
//       states per call, calls interleaved round-robin (teacher, model, teacher, …), the fastest of --rounds each;
//       prints and (with --jsonl) appends {name, model, params, macs_per_second, ms, teacher_ms, speedup, threads}
//   node eval/speed.mjs prune-to X --teacher T --data D --out O [--steps N] [--threads 1] [prune options as JSON]
//       slimwav prune --target-speedup X (the cost model), then measures the written model as `time` does and
//       prints the requested, predicted (the run's log) and measured speedups
//
// Timings are only meaningful on a quiet machine (nothing else running); the run prints the load average.
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { load } from '../dist/src/index.js';

function clip(seconds) {
  // deterministic speech-like noise: two chirps and noise (the time does not depend on the values)
  let s = 12345;
  return Float32Array.from({ length: Math.round(seconds * 16000) }, (_, i) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return 0.2 * Math.sin(i * (0.02 + 1e-7 * i)) + 0.1 * Math.sin(i * 0.31) + 0.05 * ((s >>> 8) / 16777216 - 0.5);
  });
}

/** Fastest of `rounds` interleaved calls of the teacher and each model (ms). */
export async function timeModels(teacherDir, models, { threads = 1, seconds = 10, rounds = 7 } = {}) {
  const wave = clip(seconds);
  const all = [await load(teacherDir, { threads }), ...(await Promise.all(models.map((m) => load(m, { threads }))))];
  try {
    for (const m of all) await m.extract(wave, { layers: 'all' }); // warm-up
    const best = all.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < all.length; i++) {
        const t0 = performance.now();
        await all[i].extract(wave, { layers: 'all' });
        best[i] = Math.min(best[i], performance.now() - t0);
      }
    }
    return { teacherMs: best[0], ms: best.slice(1), info: all.slice(1).map((m) => m.info) };
  } finally {
    for (const m of all) m.dispose();
  }
}

async function timeCommand(argv) {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    teacher: { type: 'string' }, jsonl: { type: 'string' }, threads: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '7' } } });
  if (!values.teacher || positionals.length === 0) throw new Error('usage: speed.mjs time --teacher T NAME=MODEL…');
  const named = positionals.map((p) => { const i = p.indexOf('='); return i > 0 ? [p.slice(0, i), p.slice(i + 1)] : [p, p]; });
  const threads = Number(values.threads);
  process.stderr.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  const r = await timeModels(values.teacher, named.map(([, m]) => m), { threads, seconds: Number(values.seconds), rounds: Number(values.rounds) });
  named.forEach(([name, model], i) => {
    const row = { name, model, params: r.info[i].params, macs_per_second: r.info[i].macsPerSecond, ms: r.ms[i], teacher_ms: r.teacherMs,
      speedup: r.teacherMs / r.ms[i], threads, seconds: Number(values.seconds) };
    console.log(`${name}: ${row.ms.toFixed(1)} ms vs teacher ${row.teacher_ms.toFixed(1)} ms → ${row.speedup.toFixed(3)}×`);
    if (values.jsonl) appendFileSync(values.jsonl, JSON.stringify(row) + '\n');
  });
}

async function pruneToCommand(argv) {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    teacher: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, steps: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' }, options: { type: 'string', default: '{}' }, rounds: { type: 'string', default: '7' } } });
  const X = Number(positionals[0]);
  if (!(X > 1) || !values.teacher || !values.data || !values.out) throw new Error('usage: speed.mjs prune-to X --teacher T --data D --out O');
  const { prune } = await import('../dist/src/prune/index.js');
  const lines = [];
  await prune({ teacher: values.teacher, data: values.data, out: values.out, targetSpeedup: X, steps: Number(values.steps),
    threads: Number(values.threads), ...JSON.parse(values.options),
    log: (l) => { lines.push(l); process.stderr.write(l + '\n'); } });
  const predicted = Number(/predicted speedup of ([\d.]+)/.exec(lines.join('\n'))?.[1]);
  process.stderr.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  // the cost model is calibrated on one thread and its reference clip: measure the same way
  const { COST_SECONDS } = await import('../dist/src/prune/cost.js');
  const r = await timeModels(values.teacher, [values.out], { threads: 1, seconds: COST_SECONDS, rounds: Number(values.rounds) });
  const measured = r.teacherMs / r.ms[0];
  console.log(JSON.stringify({ requested: X, predicted, measured, error: measured / X - 1, teacher_ms: r.teacherMs, ms: r.ms[0] }));
}

async function predictCommand(argv) {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    teacher: { type: 'string' }, jsonl: { type: 'string' }, rounds: { type: 'string', default: '7' } } });
  if (!values.teacher || positionals.length === 0) throw new Error('usage: speed.mjs predict --teacher T NAME=MODEL…');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parseConfig } = await import('../dist/src/arch/config.js');
  const { openModelFiles } = await import('../dist/src/arch/model-files.js');
  const { costTable, calibrateOnModel, layoutTime, COST_SECONDS } = await import('../dist/src/prune/cost.js');
  const named = positionals.map((p) => { const i = p.indexOf('='); return i > 0 ? [p.slice(0, i), p.slice(i + 1)] : [p, p]; });
  const cfgOf = (dir) => parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const tcfg = cfgOf(values.teacher);
  process.stderr.write(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  // the table as `prune --target-speedup` makes it (kernel timings, then the teacher and a reduced layout of it),
  // the models timed in the same interleaved rounds as those two
  const files = await openModelFiles(values.teacher);
  const table0 = await costTable(tcfg, { cacheDir: null });
  const models = await Promise.all(named.map(([, m]) => load(m, { threads: 1 })));
  let cal;
  try {
    cal = await calibrateOnModel(table0, files, { others: models, minRounds: Number(values.rounds) });
  } finally {
    for (const m of models) m.dispose();
  }
  const { table, ms: teacherMs, othersMs } = cal;
  const ms0 = layoutTime(tcfg, table);
  process.stderr.write(`teacher ${teacherMs.toFixed(1)} ms (predicted ${ms0.toFixed(1)}); table scale ${cal.scale.toFixed(3)}, fixed ${table.fixed.toFixed(1)} ms\n`);
  named.forEach(([name, model], i) => {
    const predicted = ms0 / layoutTime(cfgOf(model), table), measured = teacherMs / othersMs[i];
    const row = { name, model, seconds: COST_SECONDS, predicted, measured, error: measured / predicted - 1, ms: othersMs[i], teacher_ms: teacherMs };
    console.log(`${name}: predicted ${predicted.toFixed(3)}×, measured ${measured.toFixed(3)}× (${(100 * row.error).toFixed(1)}%)`);
    if (values.jsonl) appendFileSync(values.jsonl, JSON.stringify(row) + '\n');
  });
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'time') await timeCommand(rest);
  else if (cmd === 'predict') await predictCommand(rest);
  else if (cmd === 'prune-to') await pruneToCommand(rest);
  else throw new Error('usage: node eval/speed.mjs time|prune-to|predict …');
} catch (e) {
  process.stderr.write(`speed.mjs: ${e.message}\n`);
  process.exit(1);
}
