import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32, storageOf } from "./buffers.js";
import type { CpuBackend } from "./registry.js";

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** An int32 tensor's values, copied (the loss keeps them for its backward pass), or null for any other dtype. */
export function int32Values(t: tf.Tensor): Int32Array | null {
  const v = (tf.backend() as unknown as CpuBackend).data.get(t.dataId).values;
  return v instanceof Int32Array ? Int32Array.from(v) : null;
}

/**
 * Per-row negative log-likelihood of integer targets [N] under logits [N, V], on the pack, as
 * a tf.customGrad op (the gradient goes to the logits only): one pass forward and one backward
 * instead of log-softmax's and the one-hot product's dozen kernels. The log-probabilities are
 * kept for the backward pass.
 */
export function fusedNll(addon: NativeAddon, logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const [n, v] = logits.shape;
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const logp = allocF32(n * v);
    const out = allocF32(n);
    addon.nll(storageOf(x), targets, logp, out, n, v);
    save([tf.tensor(logp, [n, v])]);
    return {
      value: tf.tensor(out, [n]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dx = allocF32(n * v);
        addon.nllGrad(storageOf(dy), targets, storageOf(saved[0]), dx, n, v);
        return tf.tensor(dx, [n, v]);
      },
    };
  }) as unknown as CustomGradFn);
  return op(logits) as tf.Tensor1D;
}
