// Data movement: fill, strided 2-D copy, transpose.
//   f32_fill:      dst [n] = value
//   f32_copy2d:    dst[r·ldd + c] = src[r·lds + c]   for r < R, c < Cc (row strides in floats; no overlap)
//   f32_transpose: dst[c·ldd + r] = src[r·lds + c]   e.g. a head's keys K [T][D] (stride 3C in a fused QKV
//                  buffer) into Kt [D][T] for attention. 4×4 blocks are transposed in registers with two rounds of
//                  lane shuffles; the R%4 and Cc%4 edges are copied element by element.

/** dst[i] = value for i < n. */
export function f32_fill(n: i32, dst: usize, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}

/** dst[r·ldd + c] = src[r·lds + c] for r < R, c < Cc (no overlap). */
export function f32_copy2d(R: i32, Cc: i32, src: usize, lds: i32, dst: usize, ldd: i32): void {
  for (let r = 0; r < R; r++) {
    const s = src + (<usize>r * <usize>lds << 2);
    const d = dst + (<usize>r * <usize>ldd << 2);
    let c = 0;
    for (; c + 16 <= Cc; c += 16) {
      const o = <usize>c << 2;
      const v0 = v128.load(s + o), v1 = v128.load(s + o, 16), v2 = v128.load(s + o, 32), v3 = v128.load(s + o, 48);
      v128.store(d + o, v0);
      v128.store(d + o, v1, 16);
      v128.store(d + o, v2, 32);
      v128.store(d + o, v3, 48);
    }
    for (; c + 4 <= Cc; c += 4) v128.store(d + (<usize>c << 2), v128.load(s + (<usize>c << 2)));
    for (; c < Cc; c++) store<f32>(d + (<usize>c << 2), load<f32>(s + (<usize>c << 2)));
  }
}

/** dst[c·ldd + r] = src[r·lds + c] for r < R, c < Cc. */
export function f32_transpose(R: i32, Cc: i32, src: usize, lds: i32, dst: usize, ldd: i32): void {
  const lds4 = <usize>lds << 2, ldd4 = <usize>ldd << 2;
  let r = 0;
  for (; r + 4 <= R; r += 4) {
    const s = src + <usize>r * lds4;
    const d = dst + (<usize>r << 2);
    let c = 0;
    for (; c + 4 <= Cc; c += 4) {
      const sp = s + (<usize>c << 2);
      const v0 = v128.load(sp), v1 = v128.load(sp + lds4), v2 = v128.load(sp + (lds4 << 1)), v3 = v128.load(sp + lds4 * 3);
      const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5); // a0 b0 a1 b1
      const t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7); // a2 b2 a3 b3
      const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5); // c0 d0 c1 d1
      const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7); // c2 d2 c3 d3
      const dp = d + <usize>c * ldd4;
      v128.store(dp, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(dp + ldd4, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(dp + (ldd4 << 1), v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(dp + ldd4 * 3, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (; c < Cc; c++) {
      for (let i = 0; i < 4; i++) {
        store<f32>(d + <usize>c * ldd4 + (<usize>i << 2), load<f32>(s + <usize>i * lds4 + (<usize>c << 2)));
      }
    }
  }
  for (; r < R; r++) {
    const s = src + <usize>r * lds4;
    const d = dst + (<usize>r << 2);
    for (let c = 0; c < Cc; c++) store<f32>(d + <usize>c * ldd4, load<f32>(s + (<usize>c << 2)));
  }
}

/**
 * Faults in the pages of [ptr, ptr + bytes) on this thread, from the last page back to the first, by an atomic add of
 * 0 to one byte of each 4 KiB: no value changes, so another thread may be writing the same pages meanwhile (the
 * engine packs weights forward from the start of the region while a worker runs this from its end; the first touch
 * of fresh memory is most of a load's cost, and two threads take it in about 60% of the time). In the builds without
 * threads there is no second thread to overlap with, and it does nothing.
 */
export function mem_prefault(ptr: usize, bytes: usize): void {
  if (ASC_FEATURE_THREADS) {
    if (bytes == 0) return;
    let p = ptr + ((bytes - 1) & ~(<usize>4095));
    for (;;) {
      atomic.add<u8>(p, 0);
      if (p < ptr + 4096) break;
      p -= 4096;
    }
  }
}
