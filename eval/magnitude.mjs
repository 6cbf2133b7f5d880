#!/usr/bin/env node
// Magnitude-pruning baseline for the quality evaluation, at the same parameter budget as slimwav's pruned model.
//
//   node eval/magnitude.mjs --teacher <dense model> --out <folder>
//        (--target-sparsity S | --match <pruned model> | --params N) [--units conv,qk,v,ffn] [--match-macs <model>]
//
// Every structure the runtime can drop is scored by the L2 norm of the weights it owns (in and out):
//   conv channel c of layer i   ‖W_i[c,:,:]‖ (its filter) with ‖W_{i+1}[:,c,:]‖ (or the projection's column c)
//   query/key dim j of head h   q_proj and k_proj row h·d+j
//   value dim j of head h       v_proj row h·d+j with out_proj column h·d+j
//   FFN unit u                  intermediate_dense row u with output_dense column u
// One keep ratio r is applied to every layer and head alike (uniform structured magnitude pruning: per conv layer,
// per head and per FFN the highest-scoring round(r·n) units stay, at least one conv channel and value dim), r is
// searched so the compacted model meets the budget, then single FFN units (highest score anywhere first) are
// added until it is within one unit of it. With --match-macs the conv channels get their own keep ratio,
// searched (outside the encoder's) so the model also does no more multiply-adds per second of audio than the given
// one: the same size in parameters and in compute. The masks go through slimwav's compact() (the same code the
// pruner ends with), and the folder is written in slimwav's format. Parameter counts are slimwav's countParams.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { parseConfig, countParams, countMacs } = await import(join(root, 'dist/src/index.js'));
const { compact } = await import(join(root, 'dist/src/prune/index.js'));
const { openModelFiles } = await import(join(root, 'dist/src/format/model-files.js'));
const { serializeSafetensors } = await import(join(root, 'dist/src/format/safetensors.js'));
const { toFloat32 } = await import(join(root, 'dist/src/format/tensor.js'));

const argv = process.argv.slice(2);
const opt = {};
for (let i = 0; i < argv.length; i++) {
  if (!argv[i].startsWith('--')) { opt._bad = argv[i]; break; }
  opt[argv[i].slice(2)] = argv[i + 1];
  i++;
}
const die = (m) => { process.stderr.write(`magnitude: ${m}\n`); process.exit(2); };
if (opt._bad || !opt.teacher || !opt.out) die('usage: node eval/magnitude.mjs --teacher <model> --out <folder> (--target-sparsity S | --match <model> | --params N) [--units conv,qk,v,ffn] [--match-macs <model>]');
const units = new Set((opt.units ?? 'conv,qk,v,ffn').split(','));
for (const u of units) if (!['conv', 'qk', 'v', 'ffn'].includes(u)) die(`unknown unit kind ${u}`);

const teacher = await openModelFiles(opt.teacher);
const cfg = parseConfig(teacher.config, opt.teacher);
if (cfg.pruned) die(`${opt.teacher}: expected a dense teacher`);
const N0 = countParams(cfg, teacher.tensors);
let target;
if (opt['target-sparsity'] !== undefined) {
  const s = Number(opt['target-sparsity']);
  if (!(s >= 0 && s < 1)) die('--target-sparsity must be in [0, 1)');
  target = Math.round((1 - s) * N0);
} else if (opt.match !== undefined) {
  const m = await openModelFiles(opt.match);
  target = countParams(parseConfig(m.config, opt.match), m.tensors);
} else if (opt.params !== undefined) target = Number(opt.params);
else die('give --target-sparsity, --match or --params');
let targetMacs;
if (opt['match-macs'] !== undefined) {
  if (!units.has('conv')) die('--match-macs needs conv in --units (the conv keep ratio is what it searches)');
  const m = await openModelFiles(opt['match-macs']);
  targetMacs = countMacs(parseConfig(m.config, opt['match-macs'])).total;
}

const W = (n) => toFloat32(teacher.tensors.get(n), n);
const rowNorm2 = (M, cols, r) => { let s = 0; for (let c = 0; c < cols; c++) s += M[r * cols + c] ** 2; return s; };
const colNorm2 = (M, rows, cols, c) => { let s = 0; for (let r = 0; r < rows; r++) s += M[r * cols + c] ** 2; return s; };
const D = cfg.hidden, hd = cfg.headDim;

// ---- scores
const convScores = cfg.conv.map((l, i) => {
  const cin = i === 0 ? 1 : cfg.conv[i - 1].dim;
  const Wi = W(`feature_extractor.conv_layers.${i}.conv.weight`);
  const s = new Float64Array(l.dim);
  for (let c = 0; c < l.dim; c++) s[c] = rowNorm2(Wi, cin * l.kernel, c);
  if (i + 1 < cfg.conv.length) {
    const nx = cfg.conv[i + 1], Wn = W(`feature_extractor.conv_layers.${i + 1}.conv.weight`);
    for (let o = 0; o < nx.dim; o++) for (let c = 0; c < l.dim; c++) for (let k = 0; k < nx.kernel; k++) s[c] += Wn[(o * l.dim + c) * nx.kernel + k] ** 2;
  } else {
    const P = W('feature_projection.projection.weight');
    for (let c = 0; c < l.dim; c++) s[c] += colNorm2(P, D, l.dim, c);
  }
  return s;
});
const attnScores = cfg.layers.map((L, l) => {
  const p = `encoder.layers.${l}.attention`;
  const q = W(`${p}.q_proj.weight`), k = W(`${p}.k_proj.weight`), v = W(`${p}.v_proj.weight`), o = W(`${p}.out_proj.weight`);
  return L.heads.map((h, j) => ({
    qk: Float64Array.from({ length: hd }, (_, d) => rowNorm2(q, D, j * hd + d) + rowNorm2(k, D, j * hd + d)),
    v: Float64Array.from({ length: hd }, (_, d) => rowNorm2(v, D, j * hd + d) + colNorm2(o, D, L.heads.length * hd, j * hd + d)),
  }));
});
const ffnScores = cfg.layers.map((L, l) => {
  const f = `encoder.layers.${l}.feed_forward`;
  const a = W(`${f}.intermediate_dense.weight`), b = W(`${f}.output_dense.weight`);
  return Float64Array.from({ length: L.ffn }, (_, u) => rowNorm2(a, D, u) + colNorm2(b, D, L.ffn, u));
});

/** keep flags for the top `n` scores (ties: lower index first) */
function topMask(s, n) {
  const order = Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b);
  const m = new Array(s.length).fill(false);
  for (let i = 0; i < n; i++) m[order[i]] = true;
  return m;
}
const keepN = (r, n, min) => Math.max(min, Math.min(n, Math.round(r * n)));

function masksFor(r, rc = r) {
  return {
    conv: units.has('conv') ? convScores.map((s) => topMask(s, keepN(rc, s.length, 1))) : undefined,
    qk: units.has('qk') ? attnScores.map((hs) => hs.map((h) => topMask(h.qk, keepN(r, hd, 0)))) : undefined,
    v: units.has('v') ? attnScores.map((hs) => hs.map((h) => topMask(h.v, keepN(r, hd, 1)))) : undefined,
    ffn: units.has('ffn') ? ffnScores.map((s) => topMask(s, keepN(r, s.length, 0))) : undefined,
  };
}
const sizeOf = (masks) => {
  const c = compact(teacher.config, teacher.tensors, masks);
  const cfgC = parseConfig(c.config, 'compacted');
  return { res: c, params: countParams(cfgC, c.tensors), macs: countMacs(cfgC).total };
};

// ---- uniform ratio: the largest r whose model fits the budget (conv channels at their own ratio rc if given), then
// single FFN units by score across all layers (cost 2·D + 1 parameters each) until the next would not fit
const ffnCost = 2 * D + 1;
const ffnCand = [];
ffnScores.forEach((s, l) => s.forEach((v, u) => ffnCand.push({ l, u, v })));
ffnCand.sort((a, b) => b.v - a.v);
function build(rc) {
  let lo = 0, hi = 1;
  for (let it = 0; it < 30; it++) {
    const mid = (lo + hi) / 2;
    if (sizeOf(masksFor(mid, rc)).params <= target) lo = mid; else hi = mid;
  }
  const masks = masksFor(lo, rc);
  let { params } = sizeOf(masks);
  if (units.has('ffn')) {
    for (const c of ffnCand) {
      if (params + ffnCost > target) break;
      if (!masks.ffn[c.l][c.u]) { masks.ffn[c.l][c.u] = true; params += ffnCost; }
    }
  }
  return { r: lo, masks, params };
}
let rc;
if (targetMacs !== undefined) {
  // the largest conv ratio whose budget-filled model stays within the MACs (more conv channels: more MACs, and fewer
  // encoder units for the same parameters, which cost far fewer MACs per parameter)
  let lo = 0, hi = 1;
  for (let it = 0; it < 16; it++) {
    const mid = (lo + hi) / 2;
    if (sizeOf(build(mid).masks).macs <= targetMacs) lo = mid; else hi = mid;
  }
  rc = lo;
}
const { r, masks, params } = build(rc);
const final = sizeOf(masks);
if (final.params !== params) die(`internal: FFN unit cost assumption wrong (${final.params} vs ${params})`);

const out = resolve(opt.out);
mkdirSync(out, { recursive: true });
const config = { ...final.res.config, slimwav_note: `magnitude-pruned baseline of ${opt.teacher} (eval/magnitude.mjs, keep ratio ${r.toFixed(4)}${rc === undefined ? '' : `, conv keep ratio ${rc.toFixed(4)}`}, units ${[...units].join(',')})` };
writeFileSync(join(out, 'model.safetensors.tmp'), serializeSafetensors({ tensors: final.res.tensors, metadata: { format: 'pt' } }));
renameSync(join(out, 'model.safetensors.tmp'), join(out, 'model.safetensors'));
writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
const summary = { teacher_params: N0, target_params: target, params: final.params, sparsity: +(1 - final.params / N0).toFixed(4), keep_ratio: +r.toFixed(4), ...(rc === undefined ? {} : { conv_keep_ratio: +rc.toFixed(4), target_macs: targetMacs }), macs: final.macs, units: [...units], conv_dim: config.conv_dim, ffn: config.layer_intermediate_sizes };
process.stdout.write(JSON.stringify(summary) + '\n');
