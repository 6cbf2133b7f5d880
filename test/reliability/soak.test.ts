// Short soak (the long one is `npm run soak`, 1,000 extracts): a long-lived model serving 200 mixed-length extracts
// from 16 concurrent callers returns the solo results bit for bit, and its RSS stays within 10% after warm-up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/soak.ts', import.meta.url));

for (const threads of [1, 2]) {
  test(`soak: 200 extracts, 16 callers, ${threads} thread(s): exact results, flat RSS`, () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', SCRIPT, '--extracts', '200', '--callers', '16', '--threads', String(threads), '--json'],
      { encoding: 'utf8', timeout: 300_000 });
    assert.is(r.signal, null, 'no hang');
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.is(res.extracts, 200);
    assert.is(res.mismatches, 0, 'every concurrent result equals the solo run');
    assert.ok(res.growth_percent <= 10, `RSS grew ${res.growth_percent}% after warm-up (${res.warm_rss_mb} → ${res.end_rss_mb} MB)`);
    assert.is(r.status, 0, r.stderr);
  });
}

test.run();
