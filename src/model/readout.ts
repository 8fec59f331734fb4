import type { LayerSpec } from "./layer-spec.js";
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

export type { LayerSpec } from "./layer-spec.js";

export const OFFICIAL_LAST_LAYERS = 8;

/** Parses a --layers value; null when it is not one of the forms above. */
export function parseLayerSpec(value: string): LayerSpec | null {
  if (value === "all" || value === "official") return value;
  const m = /^last:(\d+)$/.exec(value.trim());
  return m ? (`last:${Number(m[1])}` as LayerSpec) : null;
}

/** The layer indices a spec selects on a model of `numLayers` layers; null when last:N asks for none or more than it has. */
export function layersUsed(spec: LayerSpec, numLayers: number): number[] | null {
  const all = [...Array(numLayers).keys()];
  if (spec === "all") return all;
  if (spec === "official") return all.slice(-Math.min(OFFICIAL_LAST_LAYERS, numLayers));
  const n = Number(spec.slice("last:".length));
  if (!Number.isInteger(n) || n < 1 || n > numLayers) return null;
  return all.slice(numLayers - n);
}

/** [b, T, n]: every query row's attention to the n image tokens, mean over heads and over the given layers. */
export function imageAttentionAllRows(probs: readonly tf.Tensor4D[], layers: readonly number[], n: number): tf.Tensor3D {
  const [b, , t] = probs[0].shape;
  return tf.mean(tf.stack(layers.map((l) => tf.mean(tf.slice(probs[l], [0, 0, 0, IMAGE_START], [b, -1, t, n]), 1))), 0) as tf.Tensor3D;
}
