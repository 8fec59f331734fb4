import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { patchLabels } from "../data/patch-labels.js";
import { MaskCache } from "../data/shapes.js";
import { linear } from "../model/nn.js";
import { patchBatch, visionForward, type Vlm } from "../model/vlm.js";
import { AUX_HEADS } from "../model/aux-heads.js";
import { progress } from "../util/progress.js";
import { breathe } from "../util/interrupt.js";
import type { VisionHeadsResult } from "./result.js";

export type { HeadAccuracy, VisionHeadsResult } from "./result.js";

/**
 * What a vision tower sees, read through the per-patch heads it was trained with
 * (`--aux-patch`): shape, colour and centre cell of the object in each patch, and the shape
 * and colour of the one it hides. Background dominates every patch grid, so the labelled
 * accuracy is the figure that says whether the tower sees objects. The model must already
 * hold the heads (`aux.*`).
 */
export async function evaluateVisionHeads(vlm: Vlm, data: LoadedSplit, opts: { batchSize?: number; quiet?: boolean } = {}): Promise<VisionHeadsResult> {
  const batchSize = opts.batchSize ?? 32;
  const masks = new MaskCache(data.info.size);
  const tally = AUX_HEADS.map(() => ({ all: 0, right: 0, labelled: 0, labelledRight: 0, saidNone: 0, empty: 0, falsePositive: 0 }));
  const bar = progress("vision heads", data.samples.length, { quiet: opts.quiet });
  for (let start = 0; start < data.samples.length; start += batchSize) {
    const samples = data.samples.slice(start, start + batchSize);
    const labels = samples.map((s) => patchLabels(s, data.info.size, data.info.patch, masks));
    const predicted = tf.tidy(() => {
      const features = visionForward(
        vlm,
        patchBatch(
          samples.map((_, i) => data.images[start + i]),
          data.info.size,
          data.info.patch,
        ),
      );
      const flat = tf.reshape(features, [-1, vlm.config.vision.hidden_size]);
      return AUX_HEADS.map(([name]) => tf.argMax(linear(flat, vlm.store, name), -1).dataSync() as Int32Array);
    });
    AUX_HEADS.forEach(([, , key], h) => {
      const t = tally[h];
      labels.forEach((l, b) => {
        const truth = l[key];
        for (let p = 0; p < truth.length; p++) {
          const y = truth[p];
          const q = predicted[h][b * truth.length + p];
          t.all++;
          if (q === y) t.right++;
          if (y > 0) {
            t.labelled++;
            if (q === y) t.labelledRight++;
            if (q === 0) t.saidNone++;
          } else {
            t.empty++;
            if (q !== 0) t.falsePositive++;
          }
        }
      });
    });
    bar.tick(samples.length);
    await breathe();
  }
  bar.stop();
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  const heads = Object.fromEntries(
    AUX_HEADS.map(([name], h) => {
      const t = tally[h];
      return [
        name,
        {
          accuracy: ratio(t.right, t.all),
          labelled_accuracy: ratio(t.labelledRight, t.labelled),
          labelled_patches: t.labelled,
          said_none: ratio(t.saidNone, t.labelled),
          false_positive: ratio(t.falsePositive, t.empty),
        },
      ];
    }),
  );
  return { split: data.split, count: data.samples.length, heads };
}
