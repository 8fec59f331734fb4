import { scoped, tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { numPatches } from "../model/config.js";
import { patchBatch, visionForward, type Vlm } from "../model/vlm.js";

/** The vision tower's output for a batch of a split's samples, by index: [B, N, Hv]. */
export interface ImageFeatures {
  batch(indices: readonly number[]): tf.Tensor3D;
  /** Work done once before the first step (outside any gradient tape), after a resume has loaded the weights. */
  prepare?(): void;
}

/** Features computed in the step, so gradients reach the tower. */
export function liveFeatures(vlm: Vlm, data: LoadedSplit): ImageFeatures {
  return {
    batch: (indices) =>
      visionForward(
        vlm,
        patchBatch(
          indices.map((i) => data.images[i]),
          data.info.size,
          data.info.patch,
        ),
      ),
  };
}

/**
 * Features of a frozen tower, computed for every image once before training (after any resume
 * has loaded the weights; in fixed chunks, so a resumed run reads the same numbers) and read
 * back per batch. Why: a frozen tower's output never changes, and its forward pass was about
 * a fifth of a student's step. Costs N x Hv floats per sample (32 KB at the built-in size).
 */
export function cachedFeatures(vlm: Vlm, data: LoadedSplit, chunk = 32): ImageFeatures {
  const n = numPatches(vlm.config.vision);
  const hv = vlm.config.vision.hidden_size;
  const per = n * hv;
  const live = liveFeatures(vlm, data);
  let all: Float32Array | null = null;
  const prepare = (): void => {
    all = new Float32Array(data.images.length * per);
    for (let start = 0; start < data.images.length; start += chunk) {
      const indices = [...Array(Math.min(chunk, data.images.length - start)).keys()].map((k) => start + k);
      // scoped, not tf.tidy: tidy walks a returned typed array element by element, which is slow.
      all.set(
        scoped(() => live.batch(indices).dataSync() as Float32Array),
        start * per,
      );
    }
  };
  return {
    prepare,
    batch: (indices) => {
      if (!all) throw new Error("cachedFeatures: prepare() must run before the first batch");
      const out = new Float32Array(indices.length * per);
      indices.forEach((i, b) => out.set(all!.subarray(i * per, (i + 1) * per), b * per));
      return tf.tensor3d(out, [indices.length, n, hv]);
    },
  };
}
