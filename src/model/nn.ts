import { tf } from "../engine/index.js";
import { attention, attentionHeads, attentionWithMean, gelu, nll, rmsNorm, rotary, silu, swigluAct } from "../engine/ops.js";
import type { ParamStore } from "./params.js";

/**
 * Transformer building blocks shared by the benchmark LM, the ViT encoder and the VLM
 * decoder. Written for the kernels that are fast here: everything heavy is a matrix product
 * (2-D where possible, so no batch broadcasting), and the few element-wise ops are the
 * engine's fused ones (../engine/ops.ts), re-exported here for the layers that use them.
 */
export { gelu, rmsNorm, silu, swigluAct };

export interface LinearSpec {
  bias: boolean;
}

export function initLinear(store: ParamStore, prefix: string, inDim: number, outDim: number, spec: LinearSpec, std = 0.02): void {
  store.normal(`${prefix}.weight`, [outDim, inDim], std);
  if (spec.bias) store.zeros(`${prefix}.bias`, [outDim]);
}

/** y = x W^T (+ b) over the last axis; W is [out, in]. */
export function linear(x: tf.Tensor, store: ParamStore, prefix: string): tf.Tensor {
  const w = store.get(`${prefix}.weight`);
  const bias = store.vars.get(`${prefix}.bias`);
  const inDim = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]);
  const y = bias
    ? tf.fused.matMul({ a: x2 as tf.Tensor2D, b: w as tf.Tensor2D, transposeB: true, bias })
    : tf.matMul(x2 as tf.Tensor2D, w as tf.Tensor2D, false, true);
  return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[0]]);
}

/** LayerNorm over the last axis with learned scale and shift. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-6): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/**
 * Rotary position tables (rotate-half convention, as Qwen2/Llama) for positions
 * [offset, offset + length): cos and sin [length, headDim].
 */
export interface Rotary {
  /** cos and sin of each position's angles, [T, hd] row-major: plain arrays, because the fused
   * kernel reads them directly and the tfjs path makes its tensors in the caller's scope. */
  cos: Float32Array;
  sin: Float32Array;
}

export function makeRotary(length: number, headDim: number, base = 10000, offset = 0): Rotary {
  if (headDim % 2 !== 0) throw new Error(`rotary head size must be even, got ${headDim}`);
  const half = headDim / 2;
  const cos = new Float32Array(length * headDim);
  const sin = new Float32Array(length * headDim);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const invFreq = 1 / Math.pow(base, (2 * i) / headDim);
      const ang = (p + offset) * invFreq;
      cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(ang);
      sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(ang);
    }
  }
  return { cos, sin };
}

/** Additive causal bias [T, T]: 0 on and below the diagonal, a large negative number above. */
export function causalBias(t: number, pastLength = 0): tf.Tensor2D {
  const total = t + pastLength;
  const v = new Float32Array(t * total);
  for (let i = 0; i < t; i++) for (let j = i + pastLength + 1; j < total; j++) v[i * total + j] = NEG_INF;
  return tf.tensor2d(v, [t, total]);
}

/** Large enough to zero a softmax weight, finite so a fully masked row gives no NaN. */
export const NEG_INF = -1e9;

export interface AttentionOptions {
  numHeads: number;
  numKvHeads?: number;
  /** Additive bias broadcastable to [B, H, Tq, Tk] (causal, padding and gating masks); a constant, it gets no gradient. */
  bias?: tf.Tensor;
  rotary?: Rotary;
  /** Return the attention probabilities [B, H, Tq, Tk]. */
  returnProbs?: boolean;
  /** Return the attention probabilities averaged over heads [B, Tq, Tk] (the fused kernel makes them, with the gradient). */
  returnMeanProbs?: boolean;
  /** Keys/values of earlier positions [B, Hkv, Tpast, hd], for cached decoding. */
  past?: { k: tf.Tensor4D; v: tf.Tensor4D };
  /** Return this call's keys/values (`present`) for later decoding steps. */
  cache?: boolean;
}

export interface AttentionResult {
  out: tf.Tensor3D;
  probs?: tf.Tensor4D;
  /** The probabilities averaged over heads [B, Tq, Tk], when asked for. */
  meanProbs?: tf.Tensor3D;
  /** Keys/values including this call's positions, for the next decoding step (when asked for, or given a past). */
  present?: { k: tf.Tensor4D; v: tf.Tensor4D };
}

function headMajor(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 1, 3]);
}

/**
 * Multi-head self-attention (grouped-query when numKvHeads < numHeads) on x [B, T, D] with
 * projections `${prefix}.{q,k,v,o}_proj`. Heads stay token-major ([B, T, H, hd], as the
 * projections write them): the engine's attention reads them in place, also when the caller
 * wants the probabilities averaged over heads. Only a caller that wants every head's
 * probabilities or a KV cache gets the head-major formulation.
 */
export function selfAttention(x: tf.Tensor3D, store: ParamStore, prefix: string, opts: AttentionOptions): AttentionResult {
  const [b, t, d] = x.shape;
  const heads = opts.numHeads;
  const kvHeads = opts.numKvHeads ?? heads;
  const hd = d / heads;
  const project = (name: string, n: number) => tf.reshape(linear(x, store, `${prefix}.${name}`), [b, t, n, hd]) as tf.Tensor4D;
  let q = project("q_proj", heads);
  let k = project("k_proj", kvHeads);
  const v = project("v_proj", kvHeads);
  if (opts.rotary) {
    q = rotary(q, opts.rotary.cos, opts.rotary.sin, true);
    k = rotary(k, opts.rotary.cos, opts.rotary.sin, true);
  }
  const oProj = (merged: tf.Tensor3D) => linear(merged, store, `${prefix}.o_proj`) as tf.Tensor3D;
  if (!opts.past && !opts.returnProbs && !opts.cache) {
    if (!opts.returnMeanProbs) return { out: oProj(attention(q, k, v, opts.bias)) };
    const r = attentionWithMean(q, k, v, opts.bias);
    return { out: oProj(r.out), meanProbs: r.meanProbs };
  }
  let kAll = headMajor(k);
  let vAll = headMajor(v);
  if (opts.past) {
    kAll = tf.concat([opts.past.k, kAll], 2) as tf.Tensor4D;
    vAll = tf.concat([opts.past.v, vAll], 2) as tf.Tensor4D;
  }
  const { ctx, probs } = attentionHeads(headMajor(q), kAll, vAll, opts.bias);
  const out = oProj(tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, t, d]) as tf.Tensor3D);
  return {
    out,
    probs: opts.returnProbs ? probs : undefined,
    meanProbs: opts.returnMeanProbs ? (tf.mean(probs, 1) as tf.Tensor3D) : undefined,
    present: { k: kAll, v: vAll },
  };
}

export function initAttention(store: ParamStore, prefix: string, d: number, heads: number, kvHeads: number, qkvBias: boolean): void {
  const kvDim = (d / heads) * kvHeads;
  initLinear(store, `${prefix}.q_proj`, d, d, { bias: qkvBias });
  initLinear(store, `${prefix}.k_proj`, d, kvDim, { bias: qkvBias });
  initLinear(store, `${prefix}.v_proj`, d, kvDim, { bias: qkvBias });
  initLinear(store, `${prefix}.o_proj`, d, d, { bias: false });
}

/** SwiGLU MLP: down(silu(gate(x)) * up(x)). */
export function swiglu(x: tf.Tensor, store: ParamStore, prefix: string): tf.Tensor {
  const g = linear(x, store, `${prefix}.gate_proj`);
  const u = linear(x, store, `${prefix}.up_proj`);
  return linear(swigluAct(g, u), store, `${prefix}.down_proj`);
}

export function initSwiglu(store: ParamStore, prefix: string, d: number, ffn: number): void {
  initLinear(store, `${prefix}.gate_proj`, d, ffn, { bias: false });
  initLinear(store, `${prefix}.up_proj`, d, ffn, { bias: false });
  initLinear(store, `${prefix}.down_proj`, ffn, d, { bias: false });
}

export interface DecoderBlockOptions extends AttentionOptions {
  eps?: number;
}

/**
 * Pre-norm decoder block (Qwen2/Llama): x + attn(RMSNorm(x)), then + SwiGLU(RMSNorm(x)).
 * Parameter names follow Hugging Face's Qwen2 layout under `prefix`.
 */
export function decoderBlock(x: tf.Tensor3D, store: ParamStore, prefix: string, opts: DecoderBlockOptions): AttentionResult {
  const eps = opts.eps ?? 1e-6;
  const a = rmsNorm(x, store.get(`${prefix}.input_layernorm.weight`), eps) as tf.Tensor3D;
  const attn = selfAttention(a, store, `${prefix}.self_attn`, opts);
  const h = tf.add(x, attn.out) as tf.Tensor3D;
  const m = rmsNorm(h, store.get(`${prefix}.post_attention_layernorm.weight`), eps);
  const out = tf.add(h, swiglu(m, store, `${prefix}.mlp`)) as tf.Tensor3D;
  return { out, probs: attn.probs, meanProbs: attn.meanProbs, present: attn.present };
}

export function initDecoderBlock(store: ParamStore, prefix: string, d: number, heads: number, kvHeads: number, ffn: number): void {
  store.ones(`${prefix}.input_layernorm.weight`, [d]);
  initAttention(store, `${prefix}.self_attn`, d, heads, kvHeads, true);
  store.ones(`${prefix}.post_attention_layernorm.weight`, [d]);
  initSwiglu(store, `${prefix}.mlp`, d, ffn);
}

/**
 * Token embedding lookup. For small vocabularies a one-hot product is much faster here than
 * gather + its scatter-add gradient (both are JS kernels; the product is BLAS).
 */
export function embed(ids: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = ids.shape;
  const [vocab, d] = table.shape;
  if (vocab <= 4096) {
    const oh = tf.oneHot(tf.reshape(ids, [b * t]) as tf.Tensor1D, vocab, 1, 0, "float32") as tf.Tensor2D;
    return tf.reshape(tf.matMul(oh, table), [b, t, d]);
  }
  return tf.reshape(tf.gather(table, tf.reshape(ids, [b * t])), [b, t, d]);
}

/** Mean token cross-entropy of logits [N, V] against integer targets [N]; weights [N] optional. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  const losses = nll(logits, targets);
  if (!weights) return tf.mean(losses) as tf.Scalar;
  return tf.div(tf.sum(tf.mul(losses, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}
