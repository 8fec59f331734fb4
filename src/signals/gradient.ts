import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { decoderForward, embedWithImage, lmLogits, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { patchBatch } from "../model/vlm.js";
import type { ReadoutRow } from "../eval/gaze.js";
import { minMax, softmaxTemp } from "./maps.js";
import type { GradientRecipe } from "./extract-summary.js";

export type { GradientRecipe } from "./extract-summary.js";

export const OFFICIAL_GRADIENT_TAU = 0.01;
export const OFFICIAL_TOKENS_PER_STEP = 10;

/** The lavit recipe on one step's saliency. */
export function lavitGradientMap(saliency: Float32Array, tau: number): Float32Array {
  return softmaxTemp(minMax(saliency), tau);
}

/**
 * The official recipe on one step's per-token saliencies: each token's map is softmax(g / tau);
 * its strength is max(g) / sum(g); the step's map is the strength-weighted mean of the maps.
 */
export function officialGradientMap(perToken: readonly Float32Array[], tau: number): Float32Array {
  const maps = perToken.map((g) => softmaxTemp(g, tau));
  const strength = perToken.map((g) => {
    let hi = -Infinity;
    let sum = 0;
    for (const x of g) {
      hi = Math.max(hi, x);
      sum += x;
    }
    return hi / (sum + 1e-10);
  });
  const total = strength.reduce((a, b) => a + b, 0) + 1e-10;
  const out = new Float32Array(perToken[0].length);
  maps.forEach((m, j) => {
    for (let i = 0; i < out.length; i++) out[i] += (strength[j] / total) * m[i];
  });
  return out;
}

/**
 * The positions (each predicting one of the step's words) the official recipe takes a gradient at:
 * the step's first tokens, markup (< or >) skipped, at most `max`; the last one when none is left.
 */
export function officialTokenPositions(row: ReadoutRow, k: number, max = OFFICIAL_TOKENS_PER_STEP): number[] {
  const { start } = row.spans[k];
  const all = row.stepPositions[k];
  const kept = all.filter((_, j) => !/[<>]/.test(row.words[start + j] ?? "")).slice(0, max);
  return kept.length ? kept : all.slice(-1);
}

/**
 * |d NLL / d image embeddings| averaged over the feature axis, [b * n] per pass: pass p sums the
 * NLL of the tokens predicted at `passes(row)[p]` (rows without a pass p get zeros).
 */
export function saliency(teacher: Vlm, data: LoadedSplit, chunk: readonly ReadoutRow[], tok: Tokenizer, passes: (r: ReadoutRow) => number[][]): Float32Array[] {
  const vocab = tok.size;
  const b = chunk.length;
  const t = Math.max(...chunk.map((r) => r.ids.length));
  const idsFlat = new Int32Array(b * t).fill(tok.id("<pad>"));
  chunk.forEach((r, i) => idsFlat.set(r.ids, i * t));
  const ids = tf.tensor2d(idsFlat, [b, t], "int32");
  const patches = patchBatch(
    chunk.map((r) => data.images[r.index]),
    data.info.size,
    data.info.patch,
  );
  const rowPasses = chunk.map(passes);
  const count = Math.max(...rowPasses.map((p) => p.length));
  const image = tf.tidy(() => projectVision(teacher, visionForward(teacher, patches)));
  const n = image.shape[1];
  const labels = new Int32Array(b * t);
  chunk.forEach((r, i) => r.ids.forEach((id, j) => j > 0 && (labels[i * t + j - 1] = id)));
  const out: Float32Array[] = [];
  for (let p = 0; p < count; p++) {
    const weights = new Float32Array(b * t);
    rowPasses.forEach((rp, i) => rp[p]?.forEach((q) => (weights[i * t + q] = 1)));
    const g = tf.tidy(() => {
      const lab = tf.tensor1d(labels, "int32");
      const w = tf.tensor1d(weights);
      const f = (img: tf.Tensor) => {
        const dec = decoderForward(teacher, embedWithImage(teacher, ids, img as tf.Tensor3D));
        const logp = tf.logSoftmax(tf.reshape(lmLogits(teacher, dec.hidden), [-1, vocab]));
        return tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(logp, tf.oneHot(lab, vocab)), -1), w))) as tf.Scalar;
      };
      const grad = tf.grad(f)(image);
      return tf.reshape(tf.mean(tf.abs(grad), -1), [b * n]);
    });
    out.push(g.dataSync() as Float32Array);
    g.dispose();
  }
  tf.dispose([image, ids, patches]);
  return out;
}

/** Per row of the chunk, per rationale step, the step's map under the recipe. */
export function gradientStepMaps(
  teacher: Vlm,
  data: LoadedSplit,
  chunk: readonly ReadoutRow[],
  tok: Tokenizer,
  recipe: GradientRecipe,
  tau: number,
): Float32Array[][] {
  const n = (data.info.size / data.info.patch) ** 2;
  if (recipe === "lavit") {
    const g = saliency(teacher, data, chunk, tok, (r) => r.stepPositions);
    return chunk.map((r, i) => r.stepPositions.map((_, k) => lavitGradientMap(g[k].subarray(i * n, (i + 1) * n), tau)));
  }
  // One pass per (step, token): pass k * max + j is step k's j-th chosen token.
  const max = OFFICIAL_TOKENS_PER_STEP;
  const chosen = chunk.map((r) => r.stepPositions.map((_, k) => officialTokenPositions(r, k, max)));
  const g = saliency(teacher, data, chunk, tok, (r) => {
    const i = chunk.indexOf(r);
    const passes: number[][] = [];
    chosen[i].forEach((positions, k) => positions.forEach((q, j) => (passes[k * max + j] = [q])));
    return Array.from(passes, (p) => p ?? []);
  });
  return chunk.map((_, i) =>
    chosen[i].map((positions, k) =>
      officialGradientMap(
        positions.map((__, j) => g[k * max + j].subarray(i * n, (i + 1) * n)),
        tau,
      ),
    ),
  );
}
