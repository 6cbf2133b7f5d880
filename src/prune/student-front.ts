/**
 * The gated student's front as a forward–backward pair: waveform → conv stack (each channel gated after GELU, the
 * last layer's gate times DPHuBERT's dummy_weight) → feature-projection LayerNorm (over virtual zero channels when the
 * last conv layer was compacted) → projection.
 */
import { fail } from '../errors.js';
import { convFrames, receptiveField } from '../arch/config.js';
import { CONV_NORM_EPS } from '../arch/binding.js';
import { normalizeInPlace } from '../runtime/engine.js';
import type { StudentContext } from './student-layer.js';
import type { GateValues } from './student.js';

export interface ConvW {
  w: number; // time-major [C][K][Cin]
  b: number;
  norm: [number, number] | null;
  gw: number; // grads
  gb: number;
  gnorm: [number, number] | null;
  z: number; // effective column gate [C] (× dummy_weight on the last layer)
}

export interface FrontAct {
  samples: number; // capacity
  n: number; // samples of the saved forward
  wave: number;
  yc: number[];
  yn: number[];
  u: number[];
  x: number[];
  lnIn: number;
  lnOut: number;
  proj: number;
}

/** The front's parameter pointers (laid out by the student). */
export interface FrontW {
  conv: ConvW[];
  dummy: { w: number; g: number } | null;
  projLn: { g: number; b: number; gg: number; gb: number } | null;
  proj: { w: number; b: number; gw: number; gb: number };
  /** stored channels of the last conv layer, and the LayerNorm width (≥ cIn: virtual zero channels) */
  cIn: number;
  cTot: number;
}

export class FrontRoom {
  act: FrontAct | null = null;

  constructor(private readonly ctx: StudentContext, private readonly w: FrontW) {}

  /** Buffers for crops of up to `samples` samples (planned again, larger, when the crop grows). */
  buffers(samples: number): FrontAct {
    if (this.act && this.act.samples >= samples) return this.act;
    const cfg = this.ctx.config;
    const frames = convFrames(cfg, samples);
    const T = frames[frames.length - 1];
    const sizes: Record<string, number> = { wave: samples, proj: T * this.ctx.D };
    cfg.conv.forEach((l, i) => {
      const n = frames[i] * l.dim;
      Object.assign(sizes, { [`yc${i}`]: n, [`yn${i}`]: this.w.conv[i].norm ? n : 0, [`u${i}`]: n, [`x${i}`]: n });
    });
    sizes.lnIn = this.w.cTot > this.w.cIn ? T * this.w.cTot : 0;
    sizes.lnOut = this.w.projLn ? T * this.w.cTot : 0;
    const b = this.ctx.planBuffers(sizes);
    const f: FrontAct = {
      samples, n: 0, wave: b.wave, proj: b.proj,
      yc: cfg.conv.map((_, i) => b[`yc${i}`]), yn: cfg.conv.map((_, i) => b[`yn${i}`] || b[`yc${i}`]),
      u: cfg.conv.map((_, i) => b[`u${i}`]), x: cfg.conv.map((_, i) => b[`x${i}`]), lnIn: 0, lnOut: 0,
    };
    f.lnIn = b.lnIn || f.x[f.x.length - 1];
    f.lnOut = b.lnOut || f.lnIn;
    let mx = 0;
    cfg.conv.forEach((l, i) => { mx = Math.max(mx, frames[i] * l.dim); });
    this.ctx.scratch.fA = this.ctx.buf('fA', Math.max(mx, T * this.w.cTot));
    this.ctx.scratch.fB = this.ctx.buf('fB', Math.max(mx, T * this.w.cTot));
    this.act = f;
    this.ctx.ensureScratch(T);
    return f;
  }

  private setConvGates(g: GateValues): void {
    const n = this.ctx.config.conv.length;
    this.ctx.config.conv.forEach((l, i) => {
      const z = this.ctx.mem.f32(this.w.conv[i].z, l.dim);
      z.set(g.conv[i]);
      if (i === n - 1 && this.w.dummy) {
        const d = this.ctx.mem.f32(this.w.dummy.w, l.dim);
        for (let c = 0; c < l.dim; c++) z[c] *= d[c];
      }
    });
  }

  /** waveform → conv stack (gated channels) → feature projection; returns the frames T (output in act.proj). */
  forward(wave: Float32Array, gates: GateValues): number {
    const cfg = this.ctx.config, ops = this.ctx.ops, mem = this.ctx.mem;
    if (!(wave instanceof Float32Array)) fail('E_ARGS', 'student: the waveform must be a Float32Array');
    const need = receptiveField(cfg);
    if (wave.length < need) fail('E_AUDIO', `student: ${wave.length} samples is shorter than the receptive field (${need})`);
    const f = this.buffers(wave.length);
    const frames = convFrames(cfg, wave.length);
    const T = frames[frames.length - 1];
    this.ctx.ensureScratch(T);
    const w = mem.f32(f.wave, wave.length);
    w.set(wave);
    if (cfg.doNormalize) normalizeInPlace(w);
    this.setConvGates(gates);
    let src = f.wave, cin = 1;
    cfg.conv.forEach((l, i) => {
      const c = this.w.conv[i], Ti = frames[i], n = Ti * l.dim;
      ops.conv1dForward(Ti, l.dim, cin, l.kernel, l.stride, src, c.w, c.b, f.yc[i]);
      if (c.norm) {
        if (cfg.featExtractNorm === 'group') ops.groupNormTimeForward(Ti, l.dim, f.yc[i], f.yn[i], c.norm[0], c.norm[1], CONV_NORM_EPS);
        else ops.layerNormForward(Ti, l.dim, f.yc[i], f.yn[i], c.norm[0], c.norm[1], CONV_NORM_EPS);
      }
      ops.geluForward(n, f.yn[i], f.u[i]);
      ops.mulColsForward(Ti, l.dim, f.u[i], l.dim, c.z, f.x[i], l.dim);
      src = f.x[i];
      cin = l.dim;
    });
    if (this.w.cTot > this.w.cIn) {
      ops.fill(T * this.w.cTot, f.lnIn);
      ops.copy2d(T, this.w.cIn, src, this.w.cIn, f.lnIn, this.w.cTot);
    }
    if (this.w.projLn) ops.layerNormForward(T, this.w.cTot, f.lnIn, f.lnOut, this.w.projLn.g, this.w.projLn.b, cfg.layerNormEps);
    ops.linearForward(T, this.ctx.D, this.w.cTot, f.lnOut, this.w.cTot, this.w.proj.w, this.w.proj.b, f.proj, this.ctx.D);
    f.n = wave.length;
    this.lastConvGate = Float32Array.from(gates.conv[cfg.conv.length - 1]);
    return T;
  }

  /** dProj [T][D] pointer → weight and conv-gate gradients. */
  backward(dProj: number, gateGrad: GateValues): void {
    const cfg = this.ctx.config, ops = this.ctx.ops, f = this.act;
    if (!f || f.n === 0) fail('E_ARGS', 'student: backwardFront without a forward');
    const frames = convFrames(cfg, f.n);
    const T = frames[frames.length - 1], s = this.ctx.scratch;
    const nl = cfg.conv.length;
    let dA = s.fA, dB = s.fB;
    // projection (+ LayerNorm)
    ops.linearBackward(T, this.ctx.D, this.w.cTot, f.lnOut, this.w.cTot, this.w.proj.w, dProj, this.ctx.D, dA, this.w.cTot, this.w.proj.gw, this.w.proj.gb);
    if (this.w.projLn) ops.layerNormBackward(T, this.w.cTot, f.lnIn, dA, this.w.projLn.g, dA, this.w.projLn.gg, this.w.projLn.gb, cfg.layerNormEps);
    if (this.w.cTot > this.w.cIn) {
      ops.copy2d(T, this.w.cIn, dA, this.w.cTot, dB, this.w.cIn);
      [dA, dB] = [dB, dA];
    }
    for (let i = nl - 1; i >= 0; i--) {
      const l = cfg.conv[i], c = this.w.conv[i], Ti = frames[i], C = l.dim;
      // gate (× dummy_weight on the last layer): dz_eff = Σ dX·U
      const dz = s.cvec;
      ops.fill(C, dz);
      ops.mulColsBackward(Ti, C, f.u[i], C, c.z, dA, C, dA, C, dz);
      {
        const dzv = this.ctx.mem.f32(dz, C), out = gateGrad.conv[i];
        if (i === nl - 1 && this.w.dummy) {
          // z_eff = gate·dummy: ∂/∂gate = dz_eff·dummy, ∂/∂dummy = dz_eff·gate
          const d = this.ctx.mem.f32(this.w.dummy.w, C), gd = this.ctx.mem.f32(this.w.dummy.g, C), gate = this.lastConvGate;
          for (let k = 0; k < C; k++) {
            out[k] += dzv[k] * d[k];
            gd[k] += dzv[k] * gate[k];
          }
        } else {
          for (let k = 0; k < C; k++) out[k] += dzv[k];
        }
      }
      ops.geluBackward(Ti * C, f.yn[i], dA, dA);
      if (c.norm) {
        if (cfg.featExtractNorm === 'group') ops.groupNormTimeBackward(Ti, C, f.yc[i], dA, c.norm[0], dA, c.gnorm![0], c.gnorm![1], CONV_NORM_EPS);
        else ops.layerNormBackward(Ti, C, f.yc[i], dA, c.norm[0], dA, c.gnorm![0], c.gnorm![1], CONV_NORM_EPS);
      }
      const cin = i === 0 ? 1 : cfg.conv[i - 1].dim;
      const Tin = i === 0 ? f.n : frames[i - 1];
      const src = i === 0 ? f.wave : f.x[i - 1];
      ops.conv1dBackward(Ti, Tin, C, cin, l.kernel, l.stride, src, c.w, dA, C, i === 0 ? 0 : dB, c.gw, c.gb);
      [dA, dB] = [dB, dA];
    }
  }

  /** the last conv layer's gate values of the last forward (for the dummy_weight gradient where dummy = 0) */
  private lastConvGate: Float32Array = new Float32Array(0);
}
