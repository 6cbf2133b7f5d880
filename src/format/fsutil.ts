/**
 * File reading and writing with every failure turned into one E_IO line that names the path.
 *
 * Outputs are never written in place. A file goes to a temp file beside its target, created exclusively (O_EXCL:
 * a file or symlink already at that name is an error, never followed) under a name with the writer's pid and 64
 * random bits, `.<name>.tmp-slimwav-<pid>-<hex>`; it is fsync'ed, renamed over the target, and the folder is
 * fsync'ed, so after a crash the target holds either the old or the new bytes. A model folder is written the same
 * way as a whole (writeModelFolderAtomic). Temp entries of writers that are gone (killed: their pid no longer runs)
 * are removed by the next write of the same target, and a Ctrl-C during a write removes this process's temps
 * before the process ends as it would have.
 * node:fs comes through src/util/host.ts, never an import, so modules that import this one (safetensors.ts) still
 * load and bundle for browsers.
 */
import { SlimwavError, fail } from '../errors.js';
import { isNode, nodeModules, NO_NODE_HOST } from '../util/host.js';

/** Where there is no node:fs: a browser, or an old Node before the Node entry was imported. */
function noFs(path: string): never {
  return fail('E_IO', isNode() ? `${path}: ${NO_NODE_HOST}` : `${path}: there is no file system here (not Node); pass the bytes instead`);
}

/** node:fs/promises, or E_IO where there is no file system (a browser). */
function fsp(path: string): NonNullable<ReturnType<typeof nodeModules>>['fs'] {
  return nodeModules()?.fs ?? noFs(path);
}

/** node:fs (the synchronous calls), or E_IO where there is no file system. */
function fss(path: string): NonNullable<ReturnType<typeof nodeModules>>['fsSync'] {
  return nodeModules()?.fsSync ?? noFs(path);
}

/** Why an fs call failed, in words, from its errno code. */
function reason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EISDIR': return 'is a directory, expected a file';
    case 'ENOTDIR': return 'a parent of this path is not a directory';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOSPC': return 'no space left on the device';
    case 'EROFS': return 'read-only file system';
    case 'EEXIST': case 'ENOTEMPTY': return 'it already exists (it appeared while writing)';
    case 'ERR_FS_FILE_TOO_LARGE': return 'file is too large to read into memory (over 2 GB)';
    default: return typeof code === 'string' ? code : String((err as Error)?.message ?? err).split('\n')[0];
  }
}

/** The whole file as a plain Uint8Array (not a Node Buffer). */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const { readFile } = fsp(path);
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    return fail('E_IO', `${path}: cannot read: ${reason(err)}`);
  }
}

/** Size and modification time of a file as read by fileStamp: a file that changes between reads is noticed. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** The file's size and modification time (E_IO naming the path when it cannot be read). */
export function fileStamp(path: string): FileStamp {
  try {
    const s = fss(path).statSync(path);
    if (s.isDirectory()) fail('E_IO', `${path}: cannot read: is a directory, expected a file`);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch (err) {
    if (err instanceof SlimwavError) throw err;
    return fail('E_IO', `${path}: cannot read: ${reason(err)}`);
  }
}

/**
 * Read bytes [position, position + dst.length) of a file into dst, synchronously (the loader reads a model's
 * tensors chunk by chunk while it packs them). `stamp`: the file must still have that size and modification time,
 * else E_FORMAT (it changed since its header was read); a file shorter than the range is E_FORMAT too. E_IO when it
 * cannot be opened or read. One line naming the path each time.
 */
export function readRangeSync(path: string, position: number, dst: Uint8Array, stamp: FileStamp): void {
  const fs = fss(path);
  let fd = -1;
  try {
    fd = fs.openSync(path, 'r');
    const s = fs.fstatSync(fd);
    if (s.size !== stamp.size || s.mtimeMs !== stamp.mtimeMs) {
      fail('E_FORMAT', `${path}: the file changed while it was being loaded (${stamp.size} bytes when its header was read, now ${s.size}${s.size === stamp.size ? ', modified' : ''}); load it again`);
    }
    let done = 0;
    while (done < dst.byteLength) {
      const n = fs.readSync(fd, dst, done, dst.byteLength - done, position + done);
      if (n === 0) fail('E_FORMAT', `${path}: the file ends at byte ${position + done}, before the ${position + dst.byteLength} bytes its header declares (file truncated?)`);
      done += n;
    }
  } catch (err) {
    if (err instanceof SlimwavError) throw err;
    fail('E_IO', `${path}: cannot read: ${reason(err)}`);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

const TAG = '.tmp-slimwav-';

/** Split a path into its folder ('.' for none) and last component, without node:path (browser-safe module). */
function splitPath(path: string): [string, string] {
  const p = path.replace(/[\\/]+$/, '') || path;
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i < 0 ? ['.', p] : [p.slice(0, i) || '/', p.slice(i + 1)];
}

/** `<dir>/.<name>.tmp-slimwav-<pid>-<16 hex>`: beside the target, unguessable, recognisable as ours. */
export function tempPathFor(path: string): string {
  const [dir, name] = splitPath(path);
  const r = new Uint8Array(8);
  globalThis.crypto.getRandomValues(r);
  const hex = Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${dir}/.${name}${TAG}${process.pid}-${hex}`;
}

/** temp paths this process is writing now (removed by a Ctrl-C during a write) */
const live = new Set<string>();
let sigintInstalled = false;

/** node:fs, loaded by the first write (the Ctrl-C handler must remove temps synchronously) */
let fsSync: typeof import('node:fs') | null = null;

function onSigint(): void {
  for (const p of live) {
    try {
      fsSync?.rmSync(p, { recursive: true, force: true });
    } catch { /* best effort: the next write of the target removes it */ }
  }
  live.clear();
  uninstall();
  process.kill(process.pid, 'SIGINT'); // end the way an unhandled Ctrl-C ends
}
function uninstall(): void {
  if (sigintInstalled) process.off('SIGINT', onSigint);
  sigintInstalled = false;
}
/**
 * Track a temp path. The Ctrl-C cleanup is installed only when nobody else listens for SIGINT (a program, or the
 * pruner, that handles Ctrl-C itself keeps control; its writes finish and it stops on its own).
 */
function track(p: string): void {
  live.add(p);
  if (!sigintInstalled && fsSync && process.listenerCount('SIGINT') === 0) {
    process.on('SIGINT', onSigint);
    sigintInstalled = true;
  }
}
function untrack(p: string): void {
  live.delete(p);
  if (live.size === 0) uninstall();
}

function pidRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Remove temp entries left beside `path` by earlier writers of the same target that no longer run (kill -9, power
 * loss). Entries of running writers, and anything not named like ours, are left alone. Best effort: never throws.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const [dir, name] = splitPath(path);
  const prefix = `.${name}${TAG}`;
  const removed: string[] = [];
  try {
    const { readdir, rm } = fsp(path);
    for (const e of await readdir(dir)) {
      if (!e.startsWith(prefix)) continue;
      const m = /^(\d+)-[0-9a-f]{16}$/.exec(e.slice(prefix.length));
      if (!m || pidRunning(Number(m[1]))) continue;
      const p = `${dir}/${e}`;
      await rm(p, { recursive: true, force: true }); // a symlink is removed itself, never followed
      removed.push(p);
    }
  } catch { /* an unreadable folder: the write itself will report it */ }
  return removed;
}

/** fsync a folder so that a rename in it is durable; file systems that cannot (some network ones) are skipped. */
async function syncDir(dir: string): Promise<void> {
  const { open } = fsp(dir);
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh?.close();
  }
}

/** Create `path` exclusively (O_CREAT|O_EXCL, so an existing file or symlink there is EEXIST), write, fsync. */
async function writeNew(path: string, bytes: Uint8Array, created?: () => void): Promise<void> {
  const { open } = fsp(path);
  const fh = await open(path, 'wx');
  created?.();
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface AtomicWriteOptions {
  /**
   * Refuse (E_IO) when `path` exists, checked atomically at the final step (a hard link, which never replaces),
   * so nothing that appears while writing is overwritten.
   */
  noReplace?: boolean;
}

/**
 * Write `bytes` to `path` atomically (see the file comment). On any failure the temp file is removed and an E_IO
 * naming `path` is thrown; `path` is then untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const { rename, unlink, link, lstat } = fsp(path);
  fsSync ??= fss(path);
  await removeStaleTemps(path);
  const tmp = tempPathFor(path);
  let created = false;
  try {
    await writeNew(tmp, bytes, () => { created = true; track(tmp); });
    if (opts.noReplace) {
      try {
        await link(tmp, path); // EEXIST whatever is there, a dangling symlink included
        await unlink(tmp);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EEXIST') fail('E_IO', `${path} exists; choose another output or remove it`);
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
        // no hard links here (some FAT/network mounts): check, then rename (a narrow race remains)
        if (await lstat(path).then(() => true, () => false)) fail('E_IO', `${path} exists; choose another output or remove it`);
        await rename(tmp, path);
      }
    } else {
      await rename(tmp, path);
    }
    await syncDir(splitPath(path)[0]);
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined); // only what this call made (never a planted entry)
    if (err instanceof SlimwavError) throw err;
    fail('E_IO', `${path}: cannot write: ${reason(err)}`);
  } finally {
    untrack(tmp);
  }
}

export interface ModelFolderOptions {
  /**
   * false (default): `out` must not exist; the folder is assembled under a temp name beside it and renamed into
   * place in one step (an empty folder at `out` is replaced, anything else there is E_IO).
   * true: `out` is an existing folder that holds other files (the pruner's run folder with its checkpoint); each
   * file is written to a temp name in it and fsync'ed first, then config.json is removed, the others renamed into
   * place, and config.json renamed last, so the folder is a loadable model only once every file is complete.
   */
  into?: boolean;
}

/**
 * Write a model folder (`files`: name → bytes, config.json among them) atomically (see ModelFolderOptions).
 * Failures are one E_IO line naming `out`; nothing half-written is left under `out`'s name.
 */
export async function writeModelFolderAtomic(out: string, files: [string, Uint8Array][], opts: ModelFolderOptions = {}): Promise<void> {
  const { mkdir, rename, rm, unlink } = fsp(out);
  fsSync ??= fss(out);
  const outPath = out.replace(/[\\/]+$/, '') || out;
  await removeStaleTemps(outPath);
  // the last entry renamed is config.json: it is what makes a folder a model
  const ordered = [...files.filter(([n]) => n !== 'config.json'), ...files.filter(([n]) => n === 'config.json')];
  if (opts.into) {
    const temps: [string, string][] = [];
    try {
      for (const [name] of ordered) await removeStaleTemps(`${outPath}/${name}`);
      for (const [name, bytes] of ordered) {
        const tmp = tempPathFor(`${outPath}/${name}`);
        await writeNew(tmp, bytes, () => { track(tmp); temps.push([tmp, `${outPath}/${name}`]); });
      }
      if (ordered.some(([n]) => n === 'config.json')) await unlink(`${outPath}/config.json`).catch(() => undefined);
      await syncDir(outPath);
      for (const [tmp, dst] of temps) await rename(tmp, dst);
      await syncDir(outPath);
    } catch (err) {
      for (const [tmp] of temps) await unlink(tmp).catch(() => undefined);
      if (err instanceof SlimwavError) throw err;
      fail('E_IO', `${outPath}: cannot write: ${reason(err)}`);
    } finally {
      for (const [tmp] of temps) untrack(tmp);
    }
    return;
  }
  const tmp = tempPathFor(outPath);
  let made = false;
  try {
    // mkdir (not mkdtemp) so that the folder gets the usual umask permissions, not 0700; EEXIST if anything is there
    await mkdir(tmp);
    made = true;
    track(tmp);
    for (const [name, bytes] of ordered) await writeNew(`${tmp}/${name}`, bytes);
    await syncDir(tmp);
    // renaming a folder never replaces a file, a symlink or a non-empty folder (ENOTDIR / EEXIST / ENOTEMPTY)
    await rename(tmp, outPath);
    made = false;
    await syncDir(splitPath(outPath)[0]);
  } catch (err) {
    if (made) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof SlimwavError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || (code === 'ENOTDIR' && made)) fail('E_IO', `${outPath} exists (it appeared while writing); choose another output or remove it`);
    fail('E_IO', `${outPath}: cannot write: ${reason(err)}`);
  } finally {
    untrack(tmp);
  }
}
