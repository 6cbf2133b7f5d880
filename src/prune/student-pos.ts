/**
 * The gated student's positional conv as a forward–backward pair: the front end's block plan (arch/binding.ts
 * frontSteps) from the positional conv on, walked forwards and backwards: projection output → x + GELU(grouped
 * conv(x)), then the encoder LayerNorm when the plan puts it before layer 0 (post-LN) → hidden state 0.
 */
import { fail } from '../errors.js';
import { unknownStep, type FrontStep } from '../arch/binding.js';
import { notInRoom } from './student-front.js';
import type { StudentContext } from './student-layer.js';

/** Parameter and gradient pointers of the positional conv (time-major weights [D][K][D/G]), K taps, padding K/2. */
export interface PosW { w: number; b: number; gw: number; gb: number; cg: number; K: number; pad: number }

export interface PosAct {
  cap: number;
  T: number;
  pad: number; // [G][(T + 2p)·cg]
  pre: number;
  y: number;
  h0: number;
}

export class PosRoom {
  act: PosAct | null = null;

  /** the plan has the encoder norm (post-LN), so hidden state 0 has a buffer of its own */
  private readonly encoderNorm: boolean;

  /** `steps`: the front end's block plan from the positional conv on */
  constructor(private readonly ctx: StudentContext, private readonly p: PosW, private readonly ones: number, private readonly steps: FrontStep[]) {
    this.encoderNorm = steps.some((st) => st.op === 'norm');
  }

  /** Sizes (floats) of the saved activations for T frames. */
  sizes(T: number): Record<'pad' | 'pre' | 'y' | 'h0', number> {
    const D = this.ctx.D, p = this.p, G = this.ctx.config.posConvGroups;
    return { pad: G * (T + 2 * p.pad) * p.cg, pre: T * D, y: T * D, h0: this.encoderNorm ? T * D : 0 };
  }

  /** Buffers for crops of up to T frames (planned again, larger, when T grows). */
  buffers(T: number): PosAct {
    if (this.act && this.act.cap >= T) return this.act;
    this.act = { ...this.ctx.planBuffers('pos', this.sizes(T)), cap: T, T: 0 };
    if (!this.act.h0) this.act.h0 = this.act.y;
    this.ctx.ensureScratch(T);
    return this.act;
  }

  /** projection output [T][D] → hidden state 0: x + GELU(conv(x)), then the encoder norm when the plan has it (post-LN). */
  forward(proj: number, T: number): number {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, p = this.p, G = cfg.posConvGroups;
    const a = this.buffers(T);
    let out = proj;
    for (const st of this.steps) {
      switch (st.op) {
        case 'posConv': {
          const rows = T + 2 * p.pad;
          for (let g = 0; g < G; g++) {
            const pad = a.pad + g * rows * p.cg * 4;
            ops.fill(rows * p.cg, pad);
            ops.copy2d(T, p.cg, proj + g * p.cg * 4, D, pad + p.pad * p.cg * 4, p.cg);
            ops.conv1dForward(T, p.cg, p.cg, p.K, 1, pad, p.w + g * p.cg * p.K * p.cg * 4, p.b + g * p.cg * 4, a.pre + g * p.cg * 4, D);
          }
          ops.geluForward(T * D, a.pre, a.y);
          ops.add(T * D, proj, a.y, a.y);
          out = a.y;
          break;
        }
        case 'norm': ops.layerNormForward(T, D, a.y, a.h0, this.ctx.encLn.g, this.ctx.encLn.b, cfg.layerNormEps); out = a.h0; break;
        case 'emit': break; // hidden state 0 is `out`
        case 'normalize': case 'conv': case 'scale': case 'projNorm': case 'proj': notInRoom('positional conv', st); break;
        default: unknownStep('student positional conv', st);
      }
    }
    a.T = T;
    return out;
  }

  /** d hidden0 → d proj (written into dProj). */
  backward(dH0: number, dProj: number): void {
    const cfg = this.ctx.config, ops = this.ctx.ops, D = this.ctx.D, p = this.p, G = cfg.posConvGroups, a = this.act;
    if (!a || a.T === 0) fail('E_ARGS', 'student: backwardPos without a forward');
    const T = a.T, s = this.ctx.scratch;
    let d = dH0;
    for (let j = this.steps.length - 1; j >= 0; j--) {
      const st = this.steps[j];
      switch (st.op) {
        case 'emit': break;
        case 'norm':
          ops.layerNormBackward(T, D, a.y, d, this.ctx.encLn.g, s.d3, this.ctx.encLn.gg, this.ctx.encLn.gb, cfg.layerNormEps);
          d = s.d3;
          break;
        case 'posConv': {
          ops.copy2d(1, T * D, d, T * D, dProj, T * D); // the residual
          const dpre = s.d4;
          ops.geluBackward(T * D, a.pre, d, dpre);
          const rows = T + 2 * p.pad;
          for (let g = 0; g < G; g++) {
            const pad = a.pad + g * rows * p.cg * 4;
            ops.conv1dBackward(T, rows, p.cg, p.cg, p.K, 1, pad, p.w + g * p.cg * p.K * p.cg * 4, dpre + g * p.cg * 4, D, s.dpad,
              p.gw + g * p.cg * p.K * p.cg * 4, p.gb + g * p.cg * 4);
            ops.mulColsBackward(T, p.cg, 0, 0, this.ones, s.dpad + p.pad * p.cg * 4, p.cg, dProj + g * p.cg * 4, D, 0, true);
          }
          break;
        }
        case 'normalize': case 'conv': case 'scale': case 'projNorm': case 'proj': notInRoom('positional conv', st); break;
        default: unknownStep('student positional conv', st);
      }
    }
  }
}
