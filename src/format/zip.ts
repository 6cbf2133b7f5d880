/**
 * A read-only zip directory reader for PyTorch checkpoints (torch.save since 1.6 writes a zip of *stored* entries,
 * each aligned to 64 bytes, with a ZIP64 end record and data descriptors).
 *
 * Layout read here (all integers little-endian; APPNOTE.TXT 4.3):
 *   … local file header (30 bytes + name + extra) + entry bytes, repeated …
 *   central directory: one 46-byte header (+ name + extra + comment) per entry
 *   [ZIP64 end of central directory record, ZIP64 locator (20 bytes)]   when counts/offsets overflow 16/32 bits
 *   end of central directory record (22 bytes + comment ≤ 65535)
 *
 * Nothing is trusted: every offset and size is checked against the file before it is used, nothing is allocated
 * from a size read in the file, and entry bytes are returned as views into the input (no copy). Only method 0
 * (stored) can be read; compressed entries are listed but refused by `read`. All problems are E_FORMAT.
 */
import { fail } from '../errors.js';

export interface ZipEntry {
  /** byte offset of the entry's data in the file (after its local header) */
  offset: number;
  /** stored size in bytes (compressed size for a compressed entry) */
  size: number;
  /** 0 = stored; anything else is compressed and cannot be read */
  method: number;
}

export interface ZipArchive {
  entries: Map<string, ZipEntry>;
  /** The bytes of a stored entry, as a view into the file. */
  read(name: string): Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_LEN = 22;
const CENTRAL_LEN = 46;
const LOCAL_LEN = 30;
const MAX_COMMENT = 0xffff;

const METHOD_NAMES: Record<number, string> = { 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz' };

/** True when `bytes` starts like a zip file (a local file header, or an empty archive's end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 4) return false;
  const sig = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

export function openZip(bytes: Uint8Array, fileName: string): ZipArchive {
  const bad = (msg: string): never => fail('E_FORMAT', `${fileName}: ${msg}`);
  const size = bytes.byteLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  const u16 = (at: number) => dv.getUint16(at, true);
  const u32 = (at: number) => dv.getUint32(at, true);
  /** u64 as a number; refuses values that cannot be a position in this file */
  const u64 = (at: number, what: string): number => {
    const lo = u32(at), hi = u32(at + 4);
    if (hi > 0x1fffff) bad(`zip: ${what} ${hi * 2 ** 32 + lo} is beyond any file size`);
    return hi * 2 ** 32 + lo;
  };

  // 1. End of central directory: the last signature whose comment length ends exactly at the end of the file,
  //    searched only in the last 64 KiB + 22 bytes (the most a comment allows).
  if (size < EOCD_LEN) bad(`file is ${size} bytes, too short to be a zip archive (a PyTorch checkpoint is a zip)`);
  let eocd = -1;
  const lowest = Math.max(0, size - EOCD_LEN - MAX_COMMENT);
  for (let p = size - EOCD_LEN; p >= lowest; p--) {
    if (u32(p) === SIG_EOCD && p + EOCD_LEN + u16(p + 20) === size) { eocd = p; break; }
  }
  if (eocd < 0) bad('zip: no end-of-central-directory record (the file is truncated or not a zip archive)');

  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) bad('zip: multi-disk (split) archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  let cdLimit = eocd; // the central directory must end before this

  // 2. ZIP64: used when any 32-bit field holds its "see ZIP64" sentinel.
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_ZIP64_LOCATOR) bad('zip: the end record points to a ZIP64 record, but the ZIP64 locator is missing');
    if (u32(loc + 4) !== 0 || u32(loc + 16) > 1) bad('zip: multi-disk (split) ZIP64 archives are not supported');
    const rec = u64(loc + 8, 'ZIP64 end record offset');
    if (rec + 56 > loc) bad(`zip: ZIP64 end record offset ${rec} is out of range (the locator is at ${loc})`);
    if (u32(rec) !== SIG_ZIP64_EOCD) bad(`zip: no ZIP64 end record at offset ${rec}`);
    if (u32(rec + 16) !== 0 || u32(rec + 20) !== 0) bad('zip: multi-disk (split) ZIP64 archives are not supported');
    if (count === 0xffff) count = u64(rec + 32, 'entry count');
    if (cdSize === 0xffffffff) cdSize = u64(rec + 40, 'central directory size');
    if (cdOffset === 0xffffffff) cdOffset = u64(rec + 48, 'central directory offset');
    cdLimit = rec;
  }
  if (cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
    bad(`zip: central directory (offset ${cdOffset}, ${cdSize} bytes) lies outside the file (its end record is at ${cdLimit})`);
  }
  if (count > Math.floor(cdSize / CENTRAL_LEN)) bad(`zip: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  // 3. Central directory headers.
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_LEN > cdEnd) bad(`zip: central directory entry ${i} runs past the end of the directory`);
    if (u32(p) !== SIG_CENTRAL) bad(`zip: bad signature for central directory entry ${i} at offset ${p}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    let csize = u32(p + 20);
    let usize = u32(p + 24);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    let disk = u16(p + 34);
    let local = u32(p + 42);
    const nameAt = p + CENTRAL_LEN, extraAt = nameAt + nameLen, next = extraAt + extraLen + commentLen;
    if (next > cdEnd) bad(`zip: central directory entry ${i} (name, extra and comment) runs past the end of the directory`);
    const name = decoder.decode(bytes.subarray(nameAt, extraAt));
    if (/[\u0000-\u001f\u007f]/.test(name)) bad(`zip: entry ${i} has a name with control characters (${JSON.stringify(name).slice(0, 200)})`);

    // ZIP64 extended information (header id 1): the 64-bit values, in this order, for each sentinel field only.
    for (let e = extraAt; e + 4 <= extraAt + extraLen;) {
      const id = u16(e), len = u16(e + 2);
      const body = e + 4;
      if (body + len > extraAt + extraLen) bad(`zip: extra field of ${name} runs past its header`);
      if (id === 0x0001) {
        let q = body;
        const take = (what: string): number => {
          if (q + 8 > body + len) bad(`zip: ZIP64 extra field of ${name} is too short for its ${what}`);
          const v = u64(q, `${what} of ${name}`);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take('size');
        if (csize === 0xffffffff) csize = take('compressed size');
        if (local === 0xffffffff) local = take('offset');
        if (disk === 0xffff) {
          if (q + 4 > body + len) bad(`zip: ZIP64 extra field of ${name} is too short for its disk number`);
          disk = u32(q);
        }
      }
      e = body + len;
    }
    if (usize === 0xffffffff || csize === 0xffffffff || local === 0xffffffff) bad(`zip: ${name} needs a ZIP64 extra field, which is missing`);
    if (disk !== 0) bad(`zip: ${name} is on disk ${disk}; split archives are not supported`);
    if (flags & 0x1) bad(`zip: ${name} is encrypted`);
    if (method === 0 && csize !== usize) bad(`zip: stored entry ${name} has size ${usize} but ${csize} stored bytes`);
    if (entries.has(name)) bad(`zip: duplicate entry ${name}`);

    // The local header: in range, same name; its sizes (unless deferred to a data descriptor) must agree.
    if (local + LOCAL_LEN > cdOffset) bad(`zip: local header of ${name} (offset ${local}) lies outside the entry area`);
    if (u32(local) !== SIG_LOCAL) bad(`zip: no local header for ${name} at offset ${local}`);
    const lNameLen = u16(local + 26), lExtraLen = u16(local + 28);
    const dataAt = local + LOCAL_LEN + lNameLen + lExtraLen;
    if (dataAt > cdOffset || csize > cdOffset - dataAt) {
      bad(`zip: data of ${name} (offset ${dataAt}, ${csize} bytes) runs past the entry area (the directory starts at ${cdOffset})`);
    }
    const lName = decoder.decode(bytes.subarray(local + LOCAL_LEN, local + LOCAL_LEN + lNameLen));
    if (lName !== name) bad(`zip: local header name ${JSON.stringify(lName.slice(0, 200))} does not match directory name ${JSON.stringify(name)}`);
    if (u16(local + 8) !== method) bad(`zip: ${name}: local header and directory disagree on the compression method`);
    const lFlags = u16(local + 6);
    const lc = u32(local + 18), lu = u32(local + 22);
    if (!(lFlags & 0x8) && lc !== 0xffffffff && lu !== 0xffffffff && (lc !== csize || lu !== usize)) {
      bad(`zip: ${name}: local header says ${lu} bytes, the directory says ${usize}`);
    }
    entries.set(name, { offset: dataAt, size: csize, method });
    p = next;
  }

  return {
    entries,
    read(name: string): Uint8Array {
      const e = entries.get(name);
      if (!e) return bad(`zip: no entry ${name}`);
      if (e.method !== 0) {
        const m = METHOD_NAMES[e.method] ?? `method ${e.method}`;
        bad(`compressed entry ${name} not supported (${m}); torch.save writes uncompressed entries, so re-save the checkpoint with torch.save instead of re-zipping it`);
      }
      return bytes.subarray(e.offset, e.offset + e.size);
    },
  };
}
