// Per-instance scratch for kernels that repack an operand (f32_gemm_packed packs row blocks of A), placed by the
// module itself so the ABI needs no scratch argument.
// Layout, from the first 64-byte boundary at or above __heap_base (the end of the static data):
//   [64 bytes: slot counter (i32)] [slot 0] [slot 1] … [slot WS_SLOTS − 1]      each slot WS_SLOT_BYTES
// meta.ts's HEAP_BASE is the end of the last slot, so the host never allocates over it. Memory above __heap_base
// is not covered by any data segment: instantiating the module again (a worker thread over the same shared memory)
// does not reset the counter.
// Each instance takes one slot the first time it needs one and keeps it (a module global is per instance, and one
// instance runs on one thread). Private-memory builds have one slot: a non-shared memory is only ever used by one
// thread, so instances over it never run at the same time. Shared-memory builds (ASC_FEATURE_THREADS) have
// WS_SLOTS slots handed out by an atomic counter; an instance that finds none left gets 0 and its kernels take their
// unpacked path (same results, lower speed).
// Sizes: 1 MB per slot holds ~200 rows of A at K = 768 (measured: 3–5% faster than 256 KB on 499×3072×768, where
// every row block streams all of B again; equal elsewhere). Slots nobody claims are never touched, so the 32 of a
// shared build reserve address space, not RAM.

// @ts-ignore: decorator
@inline export const WS_SLOT_BYTES: usize = 1 << 20;
// @ts-ignore: decorator
@inline const WS_SLOTS: usize = ASC_FEATURE_THREADS ? 32 : 1;

const WS_START: usize = (__heap_base + 63) & ~63;
/** First byte after the workspace (the host's HEAP_BASE). */
export const WS_END: usize = WS_START + 64 + WS_SLOTS * WS_SLOT_BYTES;

/** This instance's slot: −1 not yet claimed, −2 none left. */
let slot: i32 = -1;

/** Byte offset of this instance's WS_SLOT_BYTES of scratch, or 0 when it has none. */
export function workspace(): usize {
  if (slot == -1) {
    if (ASC_FEATURE_THREADS) {
      const s = atomic.add<i32>(WS_START, 1);
      slot = <usize>s < WS_SLOTS ? s : -2;
    } else {
      slot = 0;
    }
  }
  return slot >= 0 ? WS_START + 64 + <usize>slot * WS_SLOT_BYTES : 0;
}
