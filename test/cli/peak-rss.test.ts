// peakRssMB (src/util/peak-rss.ts), the figure `slimwav bench --memory` and bench/load.ts print for a child process:
// a small child spawned by a parent holding ~300 MB reports its own peak, not the parent's (process.resourceUsage()
// .maxRSS carries the parent's high-water mark across fork + exec on Linux, which inflated those tables).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { peakRssMB } from '../../src/util/peak-rss.js';

const s = suite('peak RSS');

s('a child spawned by a large parent reports its own peak', () => {
  const big = new Uint8Array(300e6).fill(1); // touched: resident in this process
  const mod = fileURLToPath(new URL('../../src/util/peak-rss.ts', import.meta.url));
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const { peakRssMB } = await import(${JSON.stringify(mod)}); process.stdout.write(String(peakRssMB()))`], { encoding: 'utf8' });
  assert.is(out.status, 0, out.stderr);
  const child = Number(out.stdout.trim().split('\n').pop());
  assert.ok(peakRssMB() > 300, `parent ${peakRssMB()} MB`);
  if (process.platform === 'linux') assert.ok(child > 10 && child < 250, `child reported ${child} MB (the parent holds ${big.length / 1e6} MB): ${out.stdout} ${out.stderr}`);
  else assert.ok(child > 10);
});

s.run();
