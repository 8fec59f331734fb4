import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32, storageOf } from "./buffers.js";

/**
 * Fused layers on the native pack, as tf.customGrad ops: one native pass forward and one
 * backward instead of 6-15 tfjs kernels (and their gradients) each. ../ops.ts picks these or
 * the plain tfjs formulation; tests compare the two.
 */

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

export function fusedRmsNorm(addon: NativeAddon, x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const d = weight.size;
  const op = tf.customGrad(((xs: tf.Tensor, ws: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = allocF32(xs.size);
    const rstd = allocF32(xs.size / d);
    addon.rmsNorm(storageOf(xs), storageOf(ws), out, rstd, d, eps);
    const rstdT = tf.tensor1d(rstd);
    save([xs, ws, rstdT]);
    return {
      value: tf.tensor(out, xs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sr] = saved;
        const dx = allocF32(sx.size);
        const dw = allocF32(sw.size);
        addon.rmsNormGrad(storageOf(dy), storageOf(sx), storageOf(sw), storageOf(sr), dx, dw, d);
        return [tf.tensor(dx, sx.shape), tf.tensor(dw, sw.shape)];
      },
    };
  }) as unknown as CustomGradFn);
  return op(x, weight);
}

/** GELU (tanh approximation); the forward pass keeps each tanh for the backward pass, which then needs none of its own. */
export function fusedGelu(addon: NativeAddon, x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = allocF32(xs.size);
    const tanh = allocF32(xs.size);
    addon.gelu(storageOf(xs), out, tanh);
    save([xs, tf.tensor(tanh, xs.shape)]);
    return {
      value: tf.tensor(out, xs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dx = allocF32(saved[0].size);
        addon.geluGrad(storageOf(dy), storageOf(saved[0]), dx, storageOf(saved[1]));
        return tf.tensor(dx, saved[0].shape);
      },
    };
  }) as unknown as CustomGradFn);
  return op(x);
}

/** silu(g) * u, the SwiGLU activation. */
export function fusedSwigluAct(addon: NativeAddon, g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((gs: tf.Tensor, us: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = allocF32(gs.size);
    const sig = allocF32(gs.size);
    addon.swiglu(storageOf(gs), storageOf(us), out, sig);
    save([gs, us, tf.tensor(sig, gs.shape)]);
    return {
      value: tf.tensor(out, gs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dg = allocF32(saved[0].size);
        const du = allocF32(saved[0].size);
        addon.swigluGrad(storageOf(dy), storageOf(saved[0]), storageOf(saved[1]), storageOf(saved[2]), dg, du);
        return [tf.tensor(dg, saved[0].shape), tf.tensor(du, saved[1].shape)];
      },
    };
  }) as unknown as CustomGradFn);
  return op(g, u);
}

/**
 * Rotary positions on x [B, H, T, hd], or token-major [B, T, H, hd], with tables [T, hd]; the
 * backward pass is the transposed rotation.
 */
export function fusedRotary(addon: NativeAddon, x: tf.Tensor4D, cos: Float32Array, sin: Float32Array, tokenMajor = false): tf.Tensor4D {
  const [, a1, a2, hd] = x.shape;
  const [t, group] = tokenMajor ? [a1, a2] : [a2, 1];
  const apply = (v: Float32Array, backward: boolean) => {
    const out = allocF32(v.length);
    addon.rotary(v, cos, sin, out, t, hd, backward, group);
    return out;
  };
  const op = tf.customGrad(((xs: tf.Tensor) => ({
    value: tf.tensor(apply(storageOf(xs), false), xs.shape),
    gradFunc: (dy: tf.Tensor) => tf.tensor(apply(storageOf(dy), true), dy.shape),
  })) as unknown as CustomGradFn);
  return op(x) as tf.Tensor4D;
}
