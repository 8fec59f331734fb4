import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { patchLabels, PATCH_COLOUR_CLASSES, PATCH_SHAPE_CLASSES } from "../../src/data/patch-labels.js";
import { MaskCache } from "../../src/data/shapes.js";
import { buildVlm } from "../../src/model/vlm.js";
import { HIDDEN_LABELLED_WEIGHT } from "../../src/model/aux-heads.js";
import { teacherTask } from "../../src/train/teacher.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";

describe("per-patch auxiliary loss", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 60, train: 4, test: 4 });
  });

  it("counts each occluded patch HIDDEN_LABELLED_WEIGHT times in the hidden-object heads", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size), 0);
    const task = teacherTask(vlm, data, { auxPatchWeight: 1 });
    // Zero heads predict uniformly (loss ln C), except that the hidden heads favour "nothing hidden" by `bias`.
    const bias = 3;
    for (const [name, v] of vlm.store.vars) {
      if (!name.startsWith("aux.")) continue;
      const favourNone = name.startsWith("aux.hidden_") && name.endsWith(".bias");
      v.assign(favourNone ? tf.reshape(tf.mul(tf.cast(tf.oneHot(tf.tensor1d([0], "int32"), v.shape[0]), "float32"), bias), v.shape) : tf.zerosLike(v));
    }
    const indices = data.samples.flatMap((s, i) => (s.family === "depth" ? [i] : []));
    const masks = new MaskCache(data.info.size);
    const labels = indices.map((i) => patchLabels(data.samples[i], data.info.size, data.info.patch, masks));
    const occluded = labels.reduce((n, l) => n + l.hiddenColour.filter((c) => c > 0).length, 0);
    const patches = labels.length * labels[0].hiddenColour.length;
    expect(occluded).toBeGreaterThan(0);

    const grid = data.info.size / data.info.patch;
    const hiddenLoss = (classes: number) => {
      const none = Math.log(1 + (classes - 1) * Math.exp(-bias));
      const w = HIDDEN_LABELLED_WEIGHT;
      return ((patches - occluded) * none + w * occluded * (bias + none)) / (patches - occluded + w * occluded);
    };
    const expected =
      Math.log(PATCH_SHAPE_CLASSES) +
      Math.log(PATCH_COLOUR_CLASSES) +
      2 * Math.log(1 + grid) +
      hiddenLoss(PATCH_SHAPE_CLASSES) +
      hiddenLoss(PATCH_COLOUR_CLASSES);
    const measured = tf.tidy(() => task.loss(indices, 1).parts.loss_aux.dataSync()[0]);
    expect(measured).toBeCloseTo(expected, 4);
    vlm.dispose();
  });
});
