import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32, storageOf } from "./buffers.js";

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * Element strides of a bias broadcastable to [B, H, T, Tk], one per axis (0 where it
 * broadcasts), or null when its shape does not broadcast there.
 */
export function biasStrides(shape: readonly number[], target: readonly [number, number, number, number]): Int32Array | null {
  if (shape.length > 4) return null;
  const full = [...new Array<number>(4 - shape.length).fill(1), ...shape];
  const strides = new Int32Array(4);
  let acc = 1;
  for (let a = 3; a >= 0; a--) {
    if (full[a] !== 1 && full[a] !== target[a]) return null;
    strides[a] = full[a] === 1 ? 0 : acc;
    acc *= full[a];
  }
  return strides;
}

/** The dims, strides and bias storage the native calls take, checked once per op. */
function nativeArgs(q: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor | undefined) {
  const [b, t, h, hd] = q.shape;
  const [, tk, hkv] = k.shape;
  const dims = Int32Array.from([b, t, tk, h, hkv, hd]);
  const strides = bias ? biasStrides(bias.shape, [b, h, t, tk]) : new Int32Array(4);
  if (!strides) throw new Error(`attention bias of shape [${bias!.shape.join(", ")}] does not broadcast to [${[b, h, t, tk].join(", ")}]`);
  return { b, t, tk, h, hd, dims, strides, biasValues: bias ? storageOf(bias) : null };
}

/**
 * Scaled-dot-product attention on the pack, one native pass forward and one backward, as a
 * tf.customGrad op: q [B, T, H, hd], k and v [B, Tk, Hkv, hd] (token-major, as the
 * projections write them) to [B, T, H*hd]. The [B, H, T, Tk] probabilities are made once and
 * kept for the backward pass. The bias is a constant (masks and gates): it gets no gradient.
 */
export function fusedAttention(addon: NativeAddon, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor | undefined, scale: number): tf.Tensor3D {
  const { b, t, tk, h, hd, dims, strides, biasValues } = nativeArgs(q, k, bias);
  const op = tf.customGrad(((qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = allocF32(b * t * h * hd);
    const probs = allocF32(b * h * t * tk);
    addon.attention(storageOf(qs), storageOf(ks), storageOf(vs), biasValues, strides, out, probs, dims, scale);
    save([qs, ks, vs, tf.tensor(probs, [b, h, t, tk])]);
    return {
      value: tf.tensor(out, [b, t, h * hd]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => attentionGrads(addon, dy, null, saved, dims, scale),
    };
  }) as unknown as CustomGradFn);
  return op(q, k, v) as tf.Tensor3D;
}

/** dq, dk and dv from the saved q, k, v and probabilities, for the output's cotangent (and the head mean's). */
function attentionGrads(addon: NativeAddon, dy: tf.Tensor, dMean: tf.Tensor | null, saved: tf.Tensor[], dims: Int32Array, scale: number): tf.Tensor[] {
  const [sq, sk, sv, sp] = saved;
  const dq = allocF32(sq.size);
  const dk = allocF32(sk.size);
  const dv = allocF32(sv.size);
  addon.attentionGrad(storageOf(dy), storageOf(sq), storageOf(sk), storageOf(sv), storageOf(sp), dq, dk, dv, dims, scale, dMean ? storageOf(dMean) : null);
  return [tf.tensor(dq, sq.shape), tf.tensor(dk, sk.shape), tf.tensor(dv, sv.shape)];
}

/**
 * The engine's way of running an op with hand-written forward and backward functions, which
 * tf.customGrad also goes through but limits to one output. tfjs-core is pinned to one
 * version; test/engine/attention.test.ts would fail if this entry point changed.
 */
interface CustomOpEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor[];
    backwardsFunc: (dys: tf.Tensor[], saved: tf.Tensor[]) => Record<number, () => tf.Tensor>;
    inputs: Record<number, tf.Tensor>;
  }): tf.Tensor[];
}

/**
 * fusedAttention that also returns the probabilities averaged over heads, [B, T, Tk], with the
 * same bits as the tfjs formulation's tf.mean(probs, 1) on the pack; their cotangent joins the
 * output's inside the backward kernel, before the softmax gradient, as tfjs adds the two.
 */
export function fusedAttentionWithMean(
  addon: NativeAddon,
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor | undefined,
  scale: number,
): { out: tf.Tensor3D; meanProbs: tf.Tensor3D } {
  const { b, t, tk, h, hd, dims, strides, biasValues } = nativeArgs(q, k, bias);
  const engine = tf.engine() as unknown as CustomOpEngine;
  const [out, meanProbs] = engine.runKernelFunc({
    inputs: { 0: q, 1: k, 2: v },
    forwardFunc: (_backend, save) => {
      const outV = allocF32(b * t * h * hd);
      const probs = allocF32(b * h * t * tk);
      const mean = allocF32(b * t * tk);
      if (addon.attention(storageOf(q), storageOf(k), storageOf(v), biasValues, strides, outV, probs, dims, scale, mean) !== true)
        throw new Error("the native kernel pack is older than this lavit (its attention makes no head means); rebuild it with `npm run build:native`");
      save([q, k, v, tf.tensor(probs, [b, h, t, tk])]);
      return [tf.tensor(outV, [b, t, h * hd]), tf.tensor(mean, [b, t, tk])];
    },
    backwardsFunc: ([dy, dMean], saved) => {
      const grads = attentionGrads(addon, dy, dMean, saved, dims, scale);
      return { 0: () => grads[0], 1: () => grads[1], 2: () => grads[2] };
    },
  });
  return { out: out as tf.Tensor3D, meanProbs: meanProbs as tf.Tensor3D };
}
