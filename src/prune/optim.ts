/**
 * Optimiser state as objects: AdamW over a contiguous f32 region of linear memory (the student's flat parameters,
 * the distillation heads), stepped by the wasm kernel, and a small f64 Adam for the JS-side vectors (gate log α, the
 * Lagrange multipliers). Each knows how to put itself into a checkpoint and take itself back.
 */
import type { LinearMemory } from '../runtime/memory.js';
import type { Ops } from './ops.js';

/** AdamW (β 0.9 / 0.98, ε 1e-6, no decay unless given) over `size` floats at `ptr` with gradients at `grad`. */
export class AdamRegion {
  readonly m: number;
  readonly v: number;

  constructor(private readonly mem: LinearMemory, readonly ptr: number, readonly grad: number, readonly size: number) {
    this.m = mem.allocWeights(Math.max(1, size));
    this.v = mem.allocWeights(Math.max(1, size));
    mem.f32(this.m, Math.max(1, size)).fill(0);
    mem.f32(this.v, Math.max(1, size)).fill(0);
  }

  /** One step; `t` is the 1-based step counter. */
  step(ops: Ops, t: number, lr: number, b1 = 0.9, b2 = 0.98, eps = 1e-6, decay = 0): void {
    if (this.size) ops.adamw(this.size, this.ptr, this.grad, this.m, this.v, t, lr, b1, b2, eps, decay);
  }

  zeroGrad(): void {
    this.mem.f32(this.grad, Math.max(1, this.size)).fill(0);
  }

  /** The values and both moments as checkpoint entries `name`, `name.m`, `name.v` (views: serialise before reuse). */
  state(name: string): Record<string, Float32Array> {
    const f = (p: number) => this.mem.f32(p, this.size);
    return { [name]: f(this.ptr), [`${name}.m`]: f(this.m), [`${name}.v`]: f(this.v) };
  }

  restore(name: string, get: (name: string) => Float32Array): void {
    for (const [n, view] of Object.entries(this.state(name))) view.set(get(n));
  }
}

/** Adam on a JS vector in f64 (sign −1: ascent, for Lagrange multipliers). */
export class SmallAdam {
  m: Float64Array;
  v: Float64Array;
  constructor(n: number) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }
  step(p: Float32Array | Float64Array, g: ArrayLike<number>, t: number, lr: number, sign = 1, b1 = 0.9, b2 = 0.98, eps = 1e-6): void {
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      this.m[i] = b1 * this.m[i] + (1 - b1) * g[i];
      this.v[i] = b2 * this.v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= sign * lr * (this.m[i] / bc1) / (Math.sqrt(this.v[i] / bc2) + eps);
    }
  }
}
