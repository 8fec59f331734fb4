import { tf } from "../engine/index.js";
import { splitSteps } from "../model/sequence.js";
import { IMAGE_START } from "../model/vlm.js";

/**
 * The teacher's grounding term: each rationale step's attention to the image, read exactly as
 * extraction reads it (the query rows that produce the step's words, averaged over layers and
 * heads, averaged over the step's words), renormalised over the image tokens, should fall on
 * the step's ground-truth patches. The loss is -log of the mass it puts there, averaged over
 * steps: zero when every step looks only at its objects. With a target mass below 1 the term is a
 * hinge, -log(mass / target) where the mass falls short and zero above it, so a teacher whose gaze
 * is already grounded enough keeps the rest of its attention for whatever else the answer needs.
 */

/** One rationale step of a teacher-forced sequence: where its words are predicted from, and where its objects are. */
export interface GroundStep {
  /** Positions (in prompt + target) of the queries whose outputs are the step's words. */
  positions: number[];
  /** Ground-truth image patches of the step. */
  patches: readonly number[];
}

/**
 * The steps of a target text (words as `splitSteps` splits generated text), paired in order
 * with the sample's rationale patches. A step without patches is left out (nothing to pull to).
 */
export function groundSteps(targetWords: readonly string[], promptLength: number, rationale: readonly { patches: readonly number[] }[]): GroundStep[] {
  const found = splitSteps(targetWords);
  // A target without "look" steps (an imported sample without rationale) is one step: all of it, as extraction reads it.
  const spans = found.length ? found : [{ start: 0, end: targetWords.length }];
  const out: GroundStep[] = [];
  spans.forEach(({ start, end }, k) => {
    const patches = rationale[k]?.patches ?? [];
    if (!patches.length) return;
    out.push({ positions: Array.from({ length: end - start }, (_, j) => promptLength - 1 + start + j), patches });
  });
  return out;
}

/** Dense tensors of a batch's steps: selection [B, S, T] (1/len at a step's positions), patch mask [B, S, n], step weights [B, S]. */
export interface GroundBatch {
  select: tf.Tensor3D;
  mask: tf.Tensor3D;
  weights: tf.Tensor2D;
}

export function groundBatch(steps: readonly (readonly GroundStep[])[], length: number, n: number): GroundBatch {
  const b = steps.length;
  const s = Math.max(1, ...steps.map((x) => x.length));
  const select = new Float32Array(b * s * length);
  const mask = new Float32Array(b * s * n);
  const weights = new Float32Array(b * s);
  steps.forEach((rows, i) =>
    rows.forEach((step, k) => {
      const inside = step.positions.filter((q) => q < length);
      if (!inside.length) return;
      for (const q of inside) select[(i * s + k) * length + q] = 1 / inside.length;
      for (const p of step.patches) if (p >= 0 && p < n) mask[(i * s + k) * n + p] = 1;
      weights[i * s + k] = 1;
    }),
  );
  return { select: tf.tensor3d(select, [b, s, length]), mask: tf.tensor3d(mask, [b, s, n]), weights: tf.tensor2d(weights, [b, s]) };
}

/**
 * Per step, the image map [B, S, n] (sum 1) of the decoder's attention probabilities, given per
 * layer averaged over heads ([B, T, T]: the fused attention's `meanProbs`, or headMeans of every
 * head's probabilities).
 */
export function stepImageMaps(meanProbs: readonly tf.Tensor3D[], select: tf.Tensor3D, n: number): tf.Tensor3D {
  const mean = tf.div(tf.addN([...meanProbs]), meanProbs.length) as tf.Tensor3D; // [B, T, T]
  const [b, s] = select.shape;
  const rows = tf.slice(tf.matMul(select, mean), [0, 0, IMAGE_START], [b, s, n]);
  return tf.div(rows, tf.maximum(tf.sum(rows, -1, true), 1e-12)) as tf.Tensor3D;
}

/** Each layer's probabilities [B, H, T, T] averaged over heads, as the fused attention averages them. */
export function headMeans(probs: readonly tf.Tensor4D[]): tf.Tensor3D[] {
  return probs.map((p) => tf.mean(p, 1) as tf.Tensor3D);
}

/** Mean over weighted steps of max(0, -log(mass on the step's patches / target)), from each layer's head-averaged probabilities. */
export function groundingLoss(meanProbs: readonly tf.Tensor3D[], batch: GroundBatch, n: number, target = 1): tf.Scalar {
  const maps = stepImageMaps(meanProbs, batch.select, n);
  const mass = tf.sum(tf.mul(maps, batch.mask), -1); // [B, S]
  const nll = tf.relu(tf.sub(Math.log(target), tf.log(tf.maximum(mass, 1e-6))));
  return tf.div(tf.sum(tf.mul(nll, batch.weights)), tf.maximum(tf.sum(batch.weights), 1)) as tf.Scalar;
}
