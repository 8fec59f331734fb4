import { tf } from "../engine/index.js";
import { topkIndices } from "../signals/maps.js";

/** Mean over rows of 1 - cos(pred, target) along the last axis; rows with weight 0 ignored. */
export function cosineLoss(pred: tf.Tensor, target: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  const eps = 1e-8;
  const dot = tf.sum(tf.mul(pred, target), -1);
  const norms = tf.mul(tf.sqrt(tf.add(tf.sum(tf.square(pred), -1), eps)), tf.sqrt(tf.add(tf.sum(tf.square(target), -1), eps)));
  const loss = tf.sub(1, tf.div(dot, norms));
  if (!weights) return tf.mean(loss) as tf.Scalar;
  return tf.div(tf.sum(tf.mul(loss, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}

/**
 * KL(p || q) along the last axis with q given as log-probabilities, averaged over rows.
 * Zero entries of p contribute nothing (the sparsified teacher distributions have many).
 */
export function klLoss(p: tf.Tensor, logq: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  const logp = tf.log(tf.maximum(p, 1e-12));
  const kl = tf.sum(tf.mul(p, tf.sub(logp, logq)), -1);
  if (!weights) return tf.mean(kl) as tf.Scalar;
  return tf.div(tf.sum(tf.mul(kl, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}

/** Keeps the k largest entries of a distribution and renormalises them to sum to 1. */
export function sparsifyTopk(p: ArrayLike<number>, k: number): Float32Array {
  const idx = topkIndices(p, k);
  const out = new Float32Array(p.length);
  let s = 0;
  for (const i of idx) s += Math.max(0, p[i]);
  for (const i of idx) out[i] = s > 0 ? Math.max(0, p[i]) / s : 1 / idx.length;
  return out;
}
