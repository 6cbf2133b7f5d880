// Atomic outputs: exclusive temp files that a planted symlink cannot redirect, stale temps of killed writers removed
// by the next write, no-replace final steps, model folders in one rename, Ctrl-C during a write leaves nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectsCode } from '../ref/assert.js';
import { removeStaleTemps, tempPathFor, writeFileAtomic, writeModelFolderAtomic } from '../../src/format/fsutil.js';

const work = mkdtempSync(join(tmpdir(), 'slimwav-fsutil-'));
let n = 0;
const fresh = () => {
  const d = join(work, `d${n++}`);
  mkdirSync(d);
  return d;
};
const bytes = (s: string) => new TextEncoder().encode(s);
const temps = (dir: string) => readdirSync(dir).filter((f) => f.includes('.tmp-'));

const rejects = rejectsCode;

/** make the next random temp suffix predictable: what an attacker would need to plant a link in advance */
function withFixedRandom<T>(fn: () => Promise<T>): Promise<T> {
  const real = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
  (globalThis.crypto as { getRandomValues: unknown }).getRandomValues = <A extends ArrayBufferView>(a: A): A => {
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength).fill(0xab);
    return a;
  };
  return fn().finally(() => { (globalThis.crypto as { getRandomValues: unknown }).getRandomValues = real; });
}

test('temp names: beside the target, hidden, with the pid and 64 random bits, different every time', () => {
  const a = tempPathFor('/x/y/out.npy'), b = tempPathFor('/x/y/out.npy');
  assert.match(a, new RegExp(`^/x/y/\\.out\\.npy\\.tmp-slimwav-${process.pid}-[0-9a-f]{16}$`));
  assert.is.not(a, b);
  assert.match(tempPathFor('rel.npy'), /^\.\/\.rel\.npy\.tmp-slimwav-/);
});

test('writeFileAtomic writes the bytes, replaces an old file, leaves no temp', async () => {
  const d = fresh(), p = join(d, 'o.bin');
  await writeFileAtomic(p, bytes('one'));
  await writeFileAtomic(p, bytes('two'));
  assert.is(readFileSync(p, 'utf8'), 'two');
  assert.equal(temps(d), []);
});

test('a symlink planted at the temp name cannot redirect the write (CWE-59)', async () => {
  const d = fresh(), victim = join(d, 'victim.txt'), p = join(d, 'out.npy');
  writeFileSync(victim, 'precious');
  const planted = withFixedRandom(async () => tempPathFor(p));
  symlinkSync(victim, await planted);
  await withFixedRandom(() => rejects(writeFileAtomic(p, bytes('evil')), 'E_IO', p, 'already exists'));
  assert.is(readFileSync(victim, 'utf8'), 'precious', 'the link target is untouched');
  assert.not.ok(existsSync(p));
  assert.ok(lstatSync(await planted).isSymbolicLink(), 'a link of a running pid is not ours to remove');
  // a symlink at the target itself is replaced (rename replaces the link), never written through
  const p2 = join(d, 'out2.npy');
  symlinkSync(victim, p2);
  await writeFileAtomic(p2, bytes('new'));
  assert.is(readFileSync(victim, 'utf8'), 'precious');
  assert.not.ok(lstatSync(p2).isSymbolicLink());
  assert.is(readFileSync(p2, 'utf8'), 'new');
});

test('stale temps of dead writers are removed by the next write of the same target, nothing else', async () => {
  const d = fresh(), p = join(d, 'out.npy');
  const dead = join(d, '.out.npy.tmp-slimwav-999999999-0123456789abcdef'); // above Linux's pid_max: never running
  const deadDir = join(d, '.out.npy.tmp-slimwav-999999998-0123456789abcdef');
  const deadLink = join(d, '.out.npy.tmp-slimwav-999999997-0123456789abcdef');
  const alive = join(d, `.out.npy.tmp-slimwav-${process.pid}-0123456789abcdef`);
  const other = join(d, '.other.npy.tmp-slimwav-999999999-0123456789abcdef');
  const unrelated = join(d, '.out.npy.tmp-slimwav-notes');
  writeFileSync(dead, new Uint8Array(1000));
  mkdirSync(deadDir);
  writeFileSync(join(deadDir, 'model.safetensors'), 'x');
  writeFileSync(join(d, 'victim'), 'keep');
  symlinkSync(join(d, 'victim'), deadLink);
  for (const f of [alive, other, unrelated]) writeFileSync(f, 'x');
  await writeFileAtomic(p, bytes('ok'));
  assert.equal(temps(d).sort(), [alive, other, unrelated].map((f) => f.slice(d.length + 1)).sort());
  assert.is(readFileSync(join(d, 'victim'), 'utf8'), 'keep', 'a stale symlink is removed, not followed');
  assert.equal(await removeStaleTemps(p), []);
});

test('noReplace: an existing file, folder or dangling symlink is E_IO and stays as it was', async () => {
  const d = fresh(), p = join(d, 'm.safetensors');
  writeFileSync(p, 'old');
  await rejects(writeFileAtomic(p, bytes('new'), { noReplace: true }), 'E_IO', p, 'exists');
  assert.is(readFileSync(p, 'utf8'), 'old');
  const link = join(d, 'dangling.safetensors');
  symlinkSync(join(d, 'nowhere'), link);
  await rejects(writeFileAtomic(link, bytes('new'), { noReplace: true }), 'E_IO', 'exists');
  assert.not.ok(existsSync(join(d, 'nowhere')));
  await writeFileAtomic(join(d, 'new.safetensors'), bytes('fresh'), { noReplace: true });
  assert.is(readFileSync(join(d, 'new.safetensors'), 'utf8'), 'fresh');
  assert.equal(temps(d), []);
});

test('failures are one E_IO line naming the path, with no temp left', async () => {
  const d = fresh();
  await rejects(writeFileAtomic(join(d, 'missing', 'o.npy'), bytes('x')), 'E_IO', join(d, 'missing', 'o.npy'), 'no such file');
  mkdirSync(join(d, 'isdir'));
  await rejects(writeFileAtomic(join(d, 'isdir'), bytes('x')), 'E_IO', join(d, 'isdir'));
  assert.equal(temps(d), []);
});

test('writeModelFolderAtomic: one rename of a complete folder; never over an existing one', async () => {
  const d = fresh(), out = join(d, 'model');
  const stale = join(d, '.model.tmp-slimwav-999999999-0123456789abcdef');
  mkdirSync(stale);
  writeFileSync(join(stale, 'model.safetensors'), new Uint8Array(100));
  await writeModelFolderAtomic(out, [['config.json', bytes('{}')], ['model.safetensors', bytes('w')]]);
  assert.equal(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  assert.equal(temps(d), [], 'the stale temp folder of a killed run is gone');
  await rejects(writeModelFolderAtomic(out, [['config.json', bytes('{"x":1}')]]), 'E_IO', out, 'exists');
  assert.is(readFileSync(join(out, 'config.json'), 'utf8'), '{}');
  const file = join(d, 'afile');
  writeFileSync(file, 'f');
  await rejects(writeModelFolderAtomic(file, [['config.json', bytes('{}')]]), 'E_IO', file, 'exists');
  assert.is(readFileSync(file, 'utf8'), 'f');
  await rejects(writeModelFolderAtomic(join(d, 'no', 'such'), [['config.json', bytes('{}')]]), 'E_IO', join(d, 'no', 'such'));
  assert.equal(temps(d), []);
});

test('writeModelFolderAtomic into a run folder: other files kept, config.json replaced last, no temps', async () => {
  const d = fresh(), out = join(d, 'run');
  mkdirSync(out);
  writeFileSync(join(out, 'checkpoint.safetensors'), 'ckpt');
  writeFileSync(join(out, 'config.json'), 'old config');
  writeFileSync(join(out, '.model.safetensors.tmp-slimwav-999999999-0123456789abcdef'), 'stale half');
  await writeModelFolderAtomic(out, [['config.json', bytes('{"new":1}')], ['model.safetensors', bytes('w')]], { into: true });
  assert.equal(readdirSync(out).sort(), ['checkpoint.safetensors', 'config.json', 'model.safetensors']);
  assert.is(readFileSync(join(out, 'config.json'), 'utf8'), '{"new":1}');
  assert.is(readFileSync(join(out, 'checkpoint.safetensors'), 'utf8'), 'ckpt');
});

test('Ctrl-C during a write removes the temp file and ends the process as SIGINT would', () => {
  const d = fresh(), out = join(d, 'big.npy');
  // the child interrupts itself once its temp file has bytes, i.e. in the middle of writing 256 MB (a Ctrl-C in the
  // instant between the temp's creation and its first bytes leaves it to the next run's stale-temp cleanup)
  const script = `
    import { writeFileAtomic } from ${JSON.stringify(new URL('../../src/format/fsutil.ts', import.meta.url).href)};
    import { readdirSync, statSync } from 'node:fs';
    const poll = setInterval(() => {
      const t = readdirSync(${JSON.stringify(d)}).find((f) => f.includes('.tmp-slimwav-'));
      if (t && statSync(${JSON.stringify(d)} + '/' + t).size > 0) { clearInterval(poll); process.kill(process.pid, 'SIGINT'); }
    }, 1);
    await writeFileAtomic(${JSON.stringify(out)}, new Uint8Array(256 << 20));
    clearInterval(poll);
    console.log('finished');
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.stdout.includes('finished')) {
    // the write outran the poll: nothing to clean, but the result must be whole
    assert.is(readFileSync(out).byteLength, 256 << 20);
  } else {
    assert.is(r.signal, 'SIGINT', `${r.status} ${r.stderr}`);
    assert.not.ok(existsSync(out), 'no output');
  }
  assert.equal(temps(d), [], 'no temp file left');
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
