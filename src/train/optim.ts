import { tf } from "../engine/index.js";
import { adamwUpdate, sumOfSquares } from "../engine/ops.js";

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay; no default here: the trainer's options hold the one default. */
  weightDecay: number;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

type CpuData = { data: { get(id: object): { values?: unknown } } };

/**
 * The variable's own storage on the cpu backend. The optimiser updates parameters in place:
 * one pass over memory and no tensor churn, which keeps the live-tensor count flat for free.
 */
function storageOf(v: tf.Variable, name: string): Float32Array {
  const values = (tf.backend() as unknown as CpuData).data.get(v.dataId).values;
  if (!(values instanceof Float32Array)) throw new Error(`parameter ${name} is not float32 on the cpu backend`);
  return values;
}

/**
 * torch.optim.AdamW: decoupled weight decay (p -= lr*wd*p) then the bias-corrected Adam
 * step. Moments live in plain Float32Arrays, so the state is trivially checkpointed.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  state: AdamWState = { step: 0, m: new Map(), v: new Map() };

  constructor(opts: AdamWOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay;
  }

  /** Forgets the moments and the step count, as a new training job starts (a curriculum's next stage). */
  reset(): void {
    this.state = { step: 0, m: new Map(), v: new Map() };
  }

  /**
   * Applies one update. `gradScale` multiplies every gradient first (clip-by-global-norm
   * folds into it). Parameters without a gradient are left alone, as in PyTorch.
   */
  step(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, gradScale = 1): void {
    this.state.step += 1;
    const t = this.state.step;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    for (const [name, variable] of vars) {
      const g = grads.get(name);
      if (!g) continue;
      const p = storageOf(variable, name);
      const gv = g.dataSync() as Float32Array;
      let m = this.state.m.get(name);
      let v = this.state.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.state.m.set(name, m);
        this.state.v.set(name, v);
      }
      adamwUpdate(p, gv, m, v, { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, bc1, bc2, gradScale });
    }
  }
}

/** Global L2 norm of the gradients (float64 accumulation). */
export function globalNorm(grads: Map<string, tf.Tensor>): number {
  return Math.sqrt(sumOfSquares([...grads.values()].map((g) => g.dataSync() as Float32Array)));
}

/** torch.nn.utils.clip_grad_norm_'s factor: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
