import { tf } from "../engine/index.js";
import { IMAGE_START } from "./vlm.js";

/**
 * Where a model looks: attention probabilities to the image tokens, averaged over layers and
 * heads. One home for the read-out, so extraction, evaluation, `ask` and the trajectory loss
 * read gaze the same way.
 */

/** [b, rows, n]: attention of query rows [rowStart, rowStart + rows) to the n image tokens, mean over layers and heads. */
export function imageRowsAttention(probs: readonly tf.Tensor4D[], rowStart: number, rows: number, n: number): tf.Tensor3D {
  const [b, h] = probs[0].shape;
  return tf.mean(tf.stack(probs.map((p) => tf.slice(p, [0, 0, rowStart, IMAGE_START], [b, h, rows, n]))), [0, 2]) as tf.Tensor3D;
}

/** [b, T, T]: the whole attention pattern, mean over heads, then over layers (differentiable; the trajectory loss reads it). */
export function layerHeadMean(probs: readonly tf.Tensor4D[]): tf.Tensor3D {
  return tf.mean(tf.stack(probs.map((p) => tf.mean(p, 1))), 0) as tf.Tensor3D;
}
