/**
 * The gated student's front as a forward–backward pair: the front end's block plan (arch/binding.ts frontSteps) up
 * to the feature projection, walked forwards in forward() and backwards in backward(): waveform → conv stack (each
 * channel gated after GELU, the last layer's gate times DPHuBERT's dummy_weight: the plan's `scale` step folded into
 * that gate) → feature-projection LayerNorm (over virtual zero channels when the last conv layer was compacted) →
 * projection. The plan's later steps are the positional room's (student-pos.ts).
 */
import { fail } from '../errors.js';
import { convFrames, receptiveField } from '../arch/config.js';
import { CONV_NORM_EPS, unknownStep, type FrontStep } from '../arch/binding.js';
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
  /** the backward's two gradient buffers (ping-pong down the conv stack) */
  fA: number;
  fB: number;
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
  /** the front end's block plan up to the feature projection */
  steps: FrontStep[];
}

/** A step of the front end's plan that the other room (positional conv, encoder norm, hidden state 0) walks. */
export function notInRoom(room: string, st: FrontStep): never {
  return fail('E_CONFIG', `student ${room}: block-plan step ${st.op} belongs to another part of the student`);
}

export class FrontRoom {
  act: FrontAct | null = null;

  constructor(private readonly ctx: StudentContext, private readonly w: FrontW) {}

  /** Sizes (floats) of the saved activations and the backward's two gradient buffers for crops of `samples` samples. */
  sizes(samples: number): Record<string, number> {
    const cfg = this.ctx.config;
    const frames = convFrames(cfg, samples);
    const T = frames[frames.length - 1];
    const sizes: Record<string, number> = { wave: samples, proj: T * this.ctx.D };
    let mx = 0;
    cfg.conv.forEach((l, i) => {
      const n = frames[i] * l.dim;
      Object.assign(sizes, { [`yc${i}`]: n, [`yn${i}`]: this.w.conv[i].norm ? n : 0, [`u${i}`]: n, [`x${i}`]: n });
      mx = Math.max(mx, n);
    });
    sizes.lnIn = this.w.cTot > this.w.cIn ? T * this.w.cTot : 0;
    sizes.lnOut = this.w.projLn ? T * this.w.cTot : 0;
    sizes.fA = sizes.fB = Math.max(mx, T * this.w.cTot);
    return sizes;
  }

  /** Buffers for crops of up to `samples` samples (planned again, larger, when the crop grows). */
  buffers(samples: number): FrontAct {
    if (this.act && this.act.samples >= samples) return this.act;
    const cfg = this.ctx.config;
    const b = this.ctx.planBuffers('front', this.sizes(samples));
    const f: FrontAct = {
      samples, n: 0, wave: b.wave, proj: b.proj,
      yc: cfg.conv.map((_, i) => b[`yc${i}`]), yn: cfg.conv.map((_, i) => b[`yn${i}`] || b[`yc${i}`]),
      u: cfg.conv.map((_, i) => b[`u${i}`]), x: cfg.conv.map((_, i) => b[`x${i}`]), lnIn: 0, lnOut: 0, fA: b.fA, fB: b.fB,
    };
    f.lnIn = b.lnIn || f.x[f.x.length - 1];
    f.lnOut = b.lnOut || f.lnIn;
    this.act = f;
    this.ctx.ensureScratch(this.ctx.frames(samples));
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
    this.setConvGates(gates);
    let src = f.wave, cin = 1;
    const { cIn, cTot } = this.w;
    for (const st of this.w.steps) {
      switch (st.op) {
        case 'normalize': normalizeInPlace(w); break;
        case 'conv': {
          const i = st.layer, l = cfg.conv[i], c = this.w.conv[i], Ti = frames[i], n = Ti * l.dim;
          ops.conv1dForward(Ti, l.dim, cin, l.kernel, l.stride, src, c.w, c.b, f.yc[i]);
          if (st.norm === 'group') ops.groupNormTimeForward(Ti, l.dim, f.yc[i], f.yn[i], c.norm![0], c.norm![1], CONV_NORM_EPS);
          else if (st.norm === 'layer') ops.layerNormForward(Ti, l.dim, f.yc[i], f.yn[i], c.norm![0], c.norm![1], CONV_NORM_EPS);
          ops.geluForward(n, f.yn[i], f.u[i]);
          ops.mulColsForward(Ti, l.dim, f.u[i], l.dim, c.z, f.x[i], l.dim); // the channel gate
          src = f.x[i];
          cin = l.dim;
          break;
        }
        case 'scale': break; // folded into the last conv layer's gate (setConvGates)
        case 'projNorm':
          if (st.virtualZeros) {
            ops.fill(T * cTot, f.lnIn);
            ops.copy2d(T, cIn, src, cIn, f.lnIn, cTot);
          }
          ops.layerNormForward(T, cTot, f.lnIn, f.lnOut, this.w.projLn!.g, this.w.projLn!.b, cfg.layerNormEps);
          break;
        // the padded projection's extra columns carry pruned_channel_weight (student.ts), so prunedChannels is in it
        case 'proj': ops.linearForward(T, this.ctx.D, cTot, f.lnOut, cTot, this.w.proj.w, this.w.proj.b, f.proj, this.ctx.D); break;
        case 'posConv': case 'norm': case 'emit': notInRoom('front', st); break;
        default: unknownStep('student front', st);
      }
    }
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
    let dA = f.fA, dB = f.fB;
    const { cIn, cTot } = this.w;
    for (let j = this.w.steps.length - 1; j >= 0; j--) {
      const st = this.w.steps[j];
      switch (st.op) {
        case 'proj':
          ops.linearBackward(T, this.ctx.D, cTot, f.lnOut, cTot, this.w.proj.w, dProj, this.ctx.D, dA, cTot, this.w.proj.gw, this.w.proj.gb);
          break;
        case 'projNorm':
          ops.layerNormBackward(T, cTot, f.lnIn, dA, this.w.projLn!.g, dA, this.w.projLn!.gg, this.w.projLn!.gb, cfg.layerNormEps);
          if (st.virtualZeros) {
            ops.copy2d(T, cIn, dA, cTot, dB, cIn);
            [dA, dB] = [dB, dA];
          }
          break;
        case 'scale': break; // its gradient is taken with the last conv layer's gate (below)
        case 'conv': {
          const i = st.layer, l = cfg.conv[i], c = this.w.conv[i], Ti = frames[i], C = l.dim;
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
          if (st.norm === 'group') ops.groupNormTimeBackward(Ti, C, f.yc[i], dA, c.norm![0], dA, c.gnorm![0], c.gnorm![1], CONV_NORM_EPS);
          else if (st.norm === 'layer') ops.layerNormBackward(Ti, C, f.yc[i], dA, c.norm![0], dA, c.gnorm![0], c.gnorm![1], CONV_NORM_EPS);
          const cin = i === 0 ? 1 : cfg.conv[i - 1].dim;
          const Tin = i === 0 ? f.n : frames[i - 1];
          const src = i === 0 ? f.wave : f.x[i - 1];
          ops.conv1dBackward(Ti, Tin, C, cin, l.kernel, l.stride, src, c.w, dA, C, i === 0 ? 0 : dB, c.gw, c.gb);
          [dA, dB] = [dB, dA];
          break;
        }
        case 'normalize': break; // nothing trainable before it
        case 'posConv': case 'norm': case 'emit': notInRoom('front', st); break;
        default: unknownStep('student front', st);
      }
    }
  }

  /** the last conv layer's gate values of the last forward (for the dummy_weight gradient where dummy = 0) */
  private lastConvGate: Float32Array = new Float32Array(0);
}
