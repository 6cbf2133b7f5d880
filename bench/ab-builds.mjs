// A/B of two builds of slimwav on the same weights, interleaved in one process, best of N: for refactors that must
// not change speed or numbers. A and B are two checkouts, each built (npm run build), e.g. a worktree of the old
// commit:  git worktree add ../slimwav-old <commit> && (cd ../slimwav-old && npm ci)
//   node bench/ab-builds.mjs <dir A> <dir B> [threads=2] [plain|relaxed|auto] [N=8]
// Prints best ms of each, B/A, and the largest difference between their last hidden states.
import { readFileSync } from 'node:fs';
const [A, B] = process.argv.slice(2, 4);
if (!A || !B) { console.error('usage: node bench/ab-builds.mjs <dir A> <dir B> [threads] [simd] [N]'); process.exit(2); }
const a = await import(A + '/dist/src/index.js'), b = await import(B + '/dist/src/index.js');
const { randomTensors } = await import(B + '/dist/src/arch/random-model.js');
const { readAudioFile } = b;
const cfg = JSON.parse(readFileSync(B + '/models/wav2vec2-base-random/config.json', 'utf8'));
const pcm = await readAudioFile(B + '/models/speech.wav');
const threads = Number(process.argv[4] ?? 2), simd = process.argv[5] ?? 'auto', N = Number(process.argv[6] ?? 8);
const tensors = randomTensors(b.parseConfig(cfg, 'cfg'), cfg.slimwav_init_seed);
const ma = await a.buildModel(cfg, tensors, 'A', [], { threads, simd });
const mb = await b.buildModel(cfg, tensors, 'B', [], { threads, simd });
const best = { A: Infinity, B: Infinity };
let maxdiff = 0;
for (let i = 0; i < N; i++) {
  for (const [k, m] of [['A', ma], ['B', mb]]) {
    const t = performance.now(); const r = await m.extract(pcm, { layers: 'last' }); const dt = performance.now() - t;
    best[k] = Math.min(best[k], dt);
    if (k === 'A') globalThis.ra = r.layers[0]; else { const x = globalThis.ra, y = r.layers[0]; for (let j = 0; j < x.length; j++) maxdiff = Math.max(maxdiff, Math.abs(x[j] - y[j])); }
  }
}
console.log(JSON.stringify({ threads, simd, N, A_ms: +best.A.toFixed(1), B_ms: +best.B.toFixed(1), B_over_A: +(best.B / best.A).toFixed(3), maxdiff }));
ma.dispose(); mb.dispose();
