import { tf } from "./index.js";
import { activeAddon } from "./addon.js";
import { biasStrides, fusedAttention, fusedAttentionWithMean } from "./kernels/attention.js";
import { fusedGelu, fusedRmsNorm, fusedRotary, fusedSwigluAct } from "./kernels/fused.js";
import { fusedNll, int32Values } from "./kernels/loss.js";

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
 * Rotate-half rotary positions with cos and sin tables [T, hd] (row-major plain arrays: the
 * fused kernel reads them directly, the tfjs path makes its tensors in the caller's scope) on
 * x [B, H, T, hd], or on token-major x [B, T, H, hd] when `tokenMajor`.
 */
export function rotary(x: tf.Tensor4D, cos: Float32Array, sin: Float32Array, tokenMajor = false): tf.Tensor4D {
  const addon = activeAddon();
  const t = tokenMajor ? x.shape[1] : x.shape[2];
  if (addon && x.dtype === "float32" && t === cos.length / x.shape[3]) return fusedRotary(addon, x, cos, sin, tokenMajor);
  return rotaryOps(x, cos, sin, tokenMajor);
}

export function rotaryOps(x: tf.Tensor4D, cos: Float32Array, sin: Float32Array, tokenMajor = false): tf.Tensor4D {
  const hd = x.shape[3];
  const t = cos.length / hd;
  const table = (v: Float32Array) => (tokenMajor ? tf.tensor3d(v, [t, 1, hd]) : tf.tensor2d(v, [t, hd]));
  const [x1, x2] = tf.split(x, 2, 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, table(cos)), tf.mul(rotated, table(sin))) as tf.Tensor4D;
}

/**
 * Scaled-dot-product attention, softmax(q k^T / sqrt(hd) + bias) v, on token-major q
 * [B, T, H, hd] and k, v [B, Tk, Hkv, hd] (H a multiple of Hkv: grouped-query heads share
 * keys and values), to [B, T, H*hd]. `bias` broadcasts to [B, H, T, Tk] and is a constant
 * (causal, padding and gating masks; it gets no gradient).
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias?: tf.Tensor): tf.Tensor3D {
  const addon = fusedAddon(q, k, bias);
  if (addon) return fusedAttention(addon, q, k, v, bias, attentionScale(q.shape[3]));
  return tokenMajor(attentionHeads(headMajor(q), headMajor(k), headMajor(v), bias).ctx);
}

/**
 * attention() that also returns the probabilities averaged over heads, [B, T, Tk] (the grounding
 * term's and extraction's reading, before any average over layers). On the native tiers one
 * fused call makes both, with the formulation's bits (`tf.mean(probs, 1)` of attentionHeads);
 * elsewhere it is that formulation.
 */
export function attentionWithMean(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias?: tf.Tensor): { out: tf.Tensor3D; meanProbs: tf.Tensor3D } {
  const addon = fusedAddon(q, k, bias);
  if (addon) return fusedAttentionWithMean(addon, q, k, v, bias, attentionScale(q.shape[3]));
  const { ctx, probs } = attentionHeads(headMajor(q), headMajor(k), headMajor(v), bias);
  return { out: tokenMajor(ctx), meanProbs: tf.mean(probs, 1) as tf.Tensor3D };
}

/** The addon when the fused kernel serves these operands (float32, a bias that broadcasts), else null. */
function fusedAddon(q: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor | undefined) {
  const addon = activeAddon();
  const [b, t, h] = q.shape;
  const fits = !bias || (bias.dtype === "float32" && biasStrides(bias.shape, [b, h, t, k.shape[1]]) !== null);
  return addon && q.dtype === "float32" && fits ? addon : null;
}

/** Head-major context [B, H, T, hd] to token-major [B, T, H*hd]. */
function tokenMajor(ctx: tf.Tensor4D): tf.Tensor3D {
  const [b, h, t, hd] = ctx.shape;
  return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, t, h * hd]) as tf.Tensor3D;
}

/** 1/sqrt(hd), the attention scale. */
export function attentionScale(headDim: number): number {
  return 1 / Math.sqrt(headDim);
}

function headMajor(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 1, 3]);
}

/**
 * The tfjs formulation of attention on head-major q [B, H, T, hd] and k, v [B, Hkv, Tk, hd]:
 * the context [B, H, T, hd] and the probabilities [B, H, T, Tk]. The fused kernel is tested
 * against it, and the layers that need the probabilities or a KV cache run it.
 */
export function attentionHeads(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias?: tf.Tensor): { ctx: tf.Tensor4D; probs: tf.Tensor4D } {
  const groups = q.shape[1] / k.shape[1];
  // Scale q rather than the scores: T*hd multiplies instead of T*T.
  const qs = tf.mul(q, attentionScale(q.shape[3]));
  let scores = tf.matMul(qs, repeatKv(k, groups), false, true);
  if (bias) scores = tf.add(scores, bias);
  const probs = tf.softmax(scores) as tf.Tensor4D;
  return { ctx: tf.matMul(probs, repeatKv(v, groups)), probs };
}

/** Each kv head repeated for the `groups` query heads that share it (a rank-4 tile: tfjs has no rank-5 tile gradient). */
function repeatKv(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  if (groups === 1) return x;
  const [b, h, t, hd] = x.shape;
  return tf.reshape(tf.tile(tf.reshape(x, [b, h, 1, t * hd]), [1, 1, groups, 1]), [b, h * groups, t, hd]) as tf.Tensor4D;
}

/**
 * Negative log-likelihood of integer targets [N] under logits [N, V], per row: -log_softmax(logits)[i, targets[i]]
 * (0 for a target outside [0, V)). The gradient goes to the logits.
 */
export function nll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const addon = activeAddon();
  const ids = addon && logits.dtype === "float32" ? int32Values(targets) : null;
  return addon && ids ? fusedNll(addon, logits, ids) : nllOps(logits, targets);
}

export function nllOps(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logp = tf.logSoftmax(logits);
  const oh = tf.oneHot(targets, logits.shape[1], 1, 0, "float32");
  return tf.neg(tf.sum(tf.mul(logp, oh), -1)) as tf.Tensor1D;
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
