/**
 * File reading and writing with every failure turned into one E_IO line that names the path.
 * Writes are atomic (temp file + rename) so that a failed command never leaves a partial output behind.
 * node:fs is imported on first use, so modules that import this one (safetensors.ts) still load in browsers.
 */
import { SlimwavError, fail } from '../errors.js';

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
    case 'ERR_FS_FILE_TOO_LARGE': return 'file is too large to read into memory (over 2 GB)';
    default: return typeof code === 'string' ? code : String((err as Error)?.message ?? err).split('\n')[0];
  }
}

/** The whole file as a plain Uint8Array (not a Node Buffer). */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const { readFile } = await import('node:fs/promises');
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    return fail('E_IO', `${path}: cannot read: ${reason(err)}`);
  }
}

/**
 * Write `bytes` to `path` atomically: into `path.tmp-<pid>` first, then rename over `path`.
 * On any failure the temp file is removed and an E_IO naming `path` is thrown.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const { writeFile, rename, unlink } = await import('node:fs/promises');
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (err instanceof SlimwavError) throw err;
    fail('E_IO', `${path}: cannot write: ${reason(err)}`);
  }
}
