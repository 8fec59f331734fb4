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

/**
 * Scaled-dot-product attention on the pack, one native pass forward and one backward, as a
 * tf.customGrad op: q [B, T, H, hd], k and v [B, Tk, Hkv, hd] (token-major, as the
 * projections write them) to [B, T, H*hd]. The [B, H, T, Tk] probabilities are made once and
 * kept for the backward pass. The bias is a constant (masks and gates): it gets no gradient.
 */
export function fusedAttention(addon: NativeAddon, q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor | undefined, scale: number): tf.Tensor3D {
  const [b, t, h, hd] = q.shape;
  const [, tk, hkv] = k.shape;
  const dims = Int32Array.from([b, t, tk, h, hkv, hd]);
  const strides = bias ? biasStrides(bias.shape, [b, h, t, tk]) : new Int32Array(4);
  if (!strides) throw new Error(`attention bias of shape [${bias!.shape.join(", ")}] does not broadcast to [${[b, h, t, tk].join(", ")}]`);
  const biasValues = bias ? storageOf(bias) : null;
  const op = tf.customGrad(((qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = allocF32(b * t * h * hd);
    const probs = allocF32(b * h * t * tk);
    addon.attention(storageOf(qs), storageOf(ks), storageOf(vs), biasValues, strides, out, probs, dims, scale);
    save([qs, ks, vs, tf.tensor(probs, [b, h, t, tk])]);
    return {
      value: tf.tensor(out, [b, t, h * hd]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved;
        const dq = allocF32(sq.size);
        const dk = allocF32(sk.size);
        const dv = allocF32(sv.size);
        addon.attentionGrad(storageOf(dy), storageOf(sq), storageOf(sk), storageOf(sv), storageOf(sp), dq, dk, dv, dims, scale);
        return [tf.tensor(dq, sq.shape), tf.tensor(dk, sk.shape), tf.tensor(dv, sv.shape)];
      },
    };
  }) as unknown as CustomGradFn);
  return op(q, k, v) as tf.Tensor3D;
}
