/** FNV-1a, 32-bit, over the UTF-8 bytes of `s`: a stable string hash for seeds and deterministic ordering. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
