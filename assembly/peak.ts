// Peak f32x4 multiply-add throughput of this machine, measured in registers (no memory traffic), for benchmarks.
// Both probes go through simd.ts madd, so in the relaxed builds they measure fused multiply-adds.
//   f32_peak_madd:     12 chains a = a·x + y, each step depending on the last through the multiply AND the add.
//                      With FMA (one 4-cycle op) 12 chains saturate the FMA ports; with mul + add the chain is
//                      mul→add latency long, so this is the latency-bound rate of dependent multiply-adds.
//   f32_peak_madd_acc: 12 accumulators c = x·y + c, the pattern of a GEMM tile: only the add is on the chain, so
//                      mul + add reaches the ports' throughput (on Zen 4 under V8 ~15% above f32_peak_madd).
// Each iteration does 12 f32x4 multiplies and 12 adds = 96 flops. Returns a lane sum so nothing is optimised away.
import { madd } from './simd';

/** Dependent f32x4 multiply-add chains: iters × 96 flops in registers (benchmarks only; see the header). */
export function f32_peak_madd(iters: i32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  let a8 = f32x4.splat(0.8), a9 = f32x4.splat(0.9), a10 = f32x4.splat(1.0), a11 = f32x4.splat(1.1);
  const x = f32x4.splat(0.999), y = f32x4.splat(0.001);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, x, y); a1 = madd(a1, x, y); a2 = madd(a2, x, y); a3 = madd(a3, x, y);
    a4 = madd(a4, x, y); a5 = madd(a5, x, y); a6 = madd(a6, x, y); a7 = madd(a7, x, y);
    a8 = madd(a8, x, y); a9 = madd(a9, x, y); a10 = madd(a10, x, y); a11 = madd(a11, x, y);
  }
  return sum12(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
}

/** Independent accumulators, a GEMM tile's pattern: iters × 96 flops (benchmarks only; see the header). */
export function f32_peak_madd_acc(iters: i32): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  let a8 = f32x4.splat(0.8), a9 = f32x4.splat(0.9), a10 = f32x4.splat(1.0), a11 = f32x4.splat(1.1);
  const x = f32x4.splat(0.999), y = f32x4.splat(0.001);
  for (let i = 0; i < iters; i++) {
    a0 = madd(x, y, a0); a1 = madd(x, y, a1); a2 = madd(x, y, a2); a3 = madd(x, y, a3);
    a4 = madd(x, y, a4); a5 = madd(x, y, a5); a6 = madd(x, y, a6); a7 = madd(x, y, a7);
    a8 = madd(x, y, a8); a9 = madd(x, y, a9); a10 = madd(x, y, a10); a11 = madd(x, y, a11);
  }
  return sum12(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
}

// @ts-ignore: decorator
@inline function sum12(a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128, a8: v128,
                       a9: v128, a10: v128, a11: v128): f32 {
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11));
  const u = f32x4.add(s, t);
  return f32x4.extract_lane(u, 0) + f32x4.extract_lane(u, 1) + f32x4.extract_lane(u, 2) + f32x4.extract_lane(u, 3);
}
