import { tf } from "./index.js";
import { activeAddon } from "./addon.js";
import { fusedGelu, fusedRmsNorm, fusedRotary, fusedSwigluAct } from "./kernels/fused.js";

/**
 * The engine's fused operations. Each picks the native kernel when initEngine() has loaded
 * the addon and the plain tfjs formulation otherwise (the JS tier, or before initialisation),
 * so model/ and train/ call one function and never see the addon. The *Ops functions are
 * the tfjs formulations, exported as the reference the fused kernels are tested against.
 */

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  const addon = activeAddon();
  return addon && x.dtype === "float32" ? fusedRmsNorm(addon, x, weight, eps) : rmsNormOps(x, weight, eps);
}

export function rmsNormOps(x: tf.Tensor, weight: tf.Tensor, eps = 1e-6): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

/** GELU, tanh approximation (as in GPT-2 / many ViTs). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const addon = activeAddon();
  return addon && x.dtype === "float32" ? fusedGelu(addon, x) : geluOps(x);
}

export function geluOps(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI);
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), c);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** silu(g) * u, the SwiGLU activation. */
export function swigluAct(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  const addon = activeAddon();
  return addon && g.dtype === "float32" ? fusedSwigluAct(addon, g, u) : tf.mul(silu(g), u);
}

/**
 * Rotate-half rotary positions on x [B, H, T, hd] with cos and sin tables [T, hd] (row-major
 * plain arrays: the fused kernel reads them directly, the tfjs path makes its tensors in the
 * caller's scope).
 */
export function rotary(x: tf.Tensor4D, cos: Float32Array, sin: Float32Array): tf.Tensor4D {
  const addon = activeAddon();
  if (addon && x.dtype === "float32" && x.shape[2] === cos.length / x.shape[3]) return fusedRotary(addon, x, cos, sin);
  return rotaryOps(x, cos, sin);
}

export function rotaryOps(x: tf.Tensor4D, cos: Float32Array, sin: Float32Array): tf.Tensor4D {
  const [, , t, hd] = x.shape;
  const [x1, x2] = tf.split(x, 2, 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, tf.tensor2d(cos, [t, hd])), tf.mul(rotated, tf.tensor2d(sin, [t, hd]))) as tf.Tensor4D;
}

/** One AdamW step's hyper-parameters, bias corrections included (see train/optim.ts). */
export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 - beta1^t and 1 - beta2^t. */
  bc1: number;
  bc2: number;
  /** Multiplies every gradient first (clip-by-global-norm folds into it). */
  gradScale: number;
}

/** torch.optim.AdamW's update of one parameter in place: p, and the moments m and v. */
export function adamwUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWStep): void {
  const addon = activeAddon();
  if (addon) addon.adamw(p, g, m, v, s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.bc1, s.bc2, s.gradScale);
  else adamwUpdateJs(p, g, m, v, s);
}

/** The update in JS (float64 arithmetic), for the JS tier. */
export function adamwUpdateJs(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamWStep): void {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, gradScale } = s;
  const stepSize = lr / s.bc1;
  const sqrtBc2 = Math.sqrt(s.bc2);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * gradScale;
    const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
    p[i] = p[i] * (1 - lr * wd) - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

/** Sum of squares over several arrays, accumulated in float64 (for clip-by-global-norm). */
export function sumOfSquares(arrays: Iterable<Float32Array>): number {
  const addon = activeAddon();
  let s = 0;
  for (const v of arrays) {
    if (addon) s += addon.sumSquares(v);
    else for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  }
  return s;
}
