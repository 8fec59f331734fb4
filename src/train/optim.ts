import { tf } from "../engine/index.js";
import type { NativeAddon } from "../engine/native.js";

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
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

  constructor(opts: AdamWOptions, private readonly addon: NativeAddon | null = null) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
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
      if (this.addon) {
        this.addon.adamw(p, gv, m, v, this.lr, this.beta1, this.beta2, this.eps, this.weightDecay, bc1, bc2, gradScale);
      } else {
        adamwUpdate(p, gv, m, v, this.lr, this.beta1, this.beta2, this.eps, this.weightDecay, bc1, bc2, gradScale);
      }
    }
  }
}

export function adamwUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number, gradScale: number): void {
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * gradScale;
    const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
    p[i] = p[i] * (1 - lr * wd) - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

/** Global L2 norm of the gradients (float64 accumulation). */
export function globalNorm(grads: Map<string, tf.Tensor>, addon: NativeAddon | null = null): number {
  let s = 0;
  for (const g of grads.values()) {
    const v = g.dataSync() as Float32Array;
    if (addon) s += addon.sumSquares(v);
    else for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  }
  return Math.sqrt(s);
}

/** torch.nn.utils.clip_grad_norm_'s factor: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
