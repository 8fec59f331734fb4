import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";

/**
 * Fused layers on the native pack, as tf.customGrad ops: one native pass forward and one
 * backward instead of 6-15 tfjs kernels (and their gradients) each. ../ops.ts picks these or
 * the plain tfjs formulation; tests compare the two.
 */

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

function f32(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

export function fusedRmsNorm(addon: NativeAddon, x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const d = weight.size;
  const op = tf.customGrad(((xs: tf.Tensor, ws: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = new Float32Array(xs.size);
    const rstd = new Float32Array(xs.size / d);
    addon.rmsNorm(f32(xs), f32(ws), out, rstd, d, eps);
    const rstdT = tf.tensor1d(rstd);
    save([xs, ws, rstdT]);
    return {
      value: tf.tensor(out, xs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, sr] = saved;
        const dx = new Float32Array(sx.size);
        const dw = new Float32Array(sw.size);
        addon.rmsNormGrad(f32(dy), f32(sx), f32(sw), f32(sr), dx, dw, d);
        return [tf.tensor(dx, sx.shape), tf.tensor(dw, sw.shape)];
      },
    };
  }) as unknown as CustomGradFn);
  return op(x, weight);
}

export function fusedGelu(addon: NativeAddon, x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = new Float32Array(xs.size);
    addon.gelu(f32(xs), out);
    save([xs]);
    return {
      value: tf.tensor(out, xs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dx = new Float32Array(saved[0].size);
        addon.geluGrad(f32(dy), f32(saved[0]), dx);
        return tf.tensor(dx, saved[0].shape);
      },
    };
  }) as unknown as CustomGradFn);
  return op(x);
}

/** silu(g) * u, the SwiGLU activation. */
export function fusedSwigluAct(addon: NativeAddon, g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((gs: tf.Tensor, us: tf.Tensor, save: tf.GradSaveFunc) => {
    const out = new Float32Array(gs.size);
    addon.swiglu(f32(gs), f32(us), out);
    save([gs, us]);
    return {
      value: tf.tensor(out, gs.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dg = new Float32Array(saved[0].size);
        const du = new Float32Array(saved[0].size);
        addon.swigluGrad(f32(dy), f32(saved[0]), f32(saved[1]), dg, du);
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
    const out = new Float32Array(v.length);
    addon.rotary(v, cos, sin, out, t, hd, backward, group);
    return out;
  };
  const op = tf.customGrad(((xs: tf.Tensor) => ({
    value: tf.tensor(apply(f32(xs), false), xs.shape),
    gradFunc: (dy: tf.Tensor) => tf.tensor(apply(f32(dy), true), dy.shape),
  })) as unknown as CustomGradFn);
  return op(x) as tf.Tensor4D;
}
