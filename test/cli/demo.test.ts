// slimwav demo: dense and the 28% layout, f32 and q8, on the bundled clip, the figures printed, the chart written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slimwav, fails } from '../ref/cli.js';

test('demo prints params, weight bytes, MACs, ms, RTF and the speedup for dense and pruned in f32 and q8, and writes the chart', () => {
  const work = mkdtempSync(join(tmpdir(), 'slimwav-demo-'));
  try {
    const svg = join(work, 'demo.svg');
    const r = slimwav('demo', '--runs', '1', '--svg', svg);
    assert.is(r.code, 0, r.err);
    const row = (name: string) => {
      const m = new RegExp(`^${name}\\s+([\\d.]+) M\\s+(\\d+) MB\\s+([\\d.]+)\\s+(\\d+)\\s+([\\d.]+)\\s+([\\d.]+)×$`, 'm').exec(r.out);
      assert.ok(m, `a ${name} row in:\n${r.out}`);
      return { params: Number(m![1]), mb: Number(m![2]), gmacs: Number(m![3]), ms: Number(m![4]), rtf: Number(m![5]) };
    };
    const d = row('dense'), p = row('pruned'), dq = row('dense q8'), pq = row('pruned q8');
    assert.ok(Math.abs(d.mb - d.params * 4) <= 1, `f32: 4 bytes per parameter (${d.mb} MB for ${d.params} M, both rounded)`);
    assert.ok(dq.mb / d.mb > 0.24 && dq.mb / d.mb < 0.26, `q8 weights ~0.25× f32 (${dq.mb} vs ${d.mb} MB)`);
    assert.ok(pq.mb < p.mb && dq.params === d.params && pq.gmacs === p.gmacs);
    assert.is(d.params, 94.4, 'the wav2vec2-base shape');
    assert.ok(Math.abs(p.params / d.params - 0.28) < 0.02, `pruned keeps ~28% of the params (${p.params} M)`);
    assert.ok(p.gmacs < d.gmacs);
    const seconds = Number(/models\/speech\.wav: ([\d.]+) s/.exec(r.out)![1]);
    for (const x of [d, p, dq, pq]) assert.ok(Math.abs(x.rtf - x.ms / 1000 / seconds) < 0.002, 'RTF = time / audio length');
    const speedup = Number(/measured speedup ([\d.]+)×/.exec(r.out)![1]);
    assert.ok(Math.abs(speedup - d.ms / p.ms) < 0.02 * speedup, 'speedup = dense ms / pruned ms');
    const chart = readFileSync(svg, 'utf8');
    const bars = chart.match(/<rect [^>]*class="bar"[^>]*>/g) ?? [];
    assert.is(bars.length, 12);
    assert.ok(Math.abs(Number(/data-value="([\d.]+)"/.exec(bars[0]!)![1]) - d.ms) < 1, 'the first bar is the dense time');
    fails(slimwav('demo', '--svg', join(work, 'x.txt')), '--svg');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
