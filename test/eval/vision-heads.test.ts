import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { patchLabels } from "../../src/data/patch-labels.js";
import { MaskCache } from "../../src/data/shapes.js";
import { evaluateVisionHeads } from "../../src/eval/vision-heads.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { buildVlm, type Vlm } from "../../src/model/vlm.js";
import { addAuxHeads } from "../../src/model/aux-heads.js";
import { runCli } from "../helpers/cli.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";

/** Makes a head answer `cls` on every patch whatever it sees: zero weights, a bias that picks the class. */
function constantHead(vlm: Vlm, name: string, cls: number): void {
  const w = vlm.store.get(`${name}.weight`);
  const b = vlm.store.get(`${name}.bias`);
  w.assign(tf.zerosLike(w));
  b.assign(tf.tidy(() => tf.cast(tf.reshape(tf.oneHot([cls], b.shape[0]), [b.shape[0]]), "float32")));
}

describe("vision-heads evaluation", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 12, train: 4, test: 4 });
  });

  it("scores constant heads exactly as counting the labels does", async () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size), 2);
    addAuxHeads(vlm);
    constantHead(vlm, "aux.patch_shape", 0);
    constantHead(vlm, "aux.patch_colour", 1);
    const before = tf.memory().numTensors;
    const r = await evaluateVisionHeads(vlm, data, { batchSize: 5, quiet: true });
    expect(tf.memory().numTensors).toBe(before);

    const masks = new MaskCache(data.info.size);
    const labels = data.samples.map((s) => patchLabels(s, data.info.size, data.info.patch, masks));
    const shape = labels.flatMap((l) => [...l.shape]);
    const colour = labels.flatMap((l) => [...l.colour]);
    const labelled = shape.filter((y) => y > 0).length;
    expect(labelled).toBeGreaterThan(0);
    expect(r.count).toBe(12);
    // Always "none": right exactly on the empty patches, never on a labelled one.
    expect(r.heads["aux.patch_shape"]).toEqual({
      accuracy: (shape.length - labelled) / shape.length,
      labelled_accuracy: 0,
      labelled_patches: labelled,
      said_none: 1,
      false_positive: 0,
    });
    // Always colour 1: right on the patches of that colour, wrong on every empty one.
    const colourLabelled = colour.filter((y) => y > 0);
    const c = r.heads["aux.patch_colour"];
    expect(c.labelled_accuracy).toBeCloseTo(colourLabelled.filter((y) => y === 1).length / colourLabelled.length, 10);
    expect(c.said_none).toBe(0);
    expect(c.false_positive).toBe(1);
    vlm.dispose();
  });

  it("lavit eval --vision-heads names the missing heads of a model trained without them", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-vh-"));
    const vlm = buildVlm(tinyConfig(data.tokenizer.size), 2);
    saveModel(dir, vlm.config, vlm.store, data.tokenizer, 0);
    vlm.dispose();
    const r = runCli(["eval", "--model", dir, "--data", data.dir, "--split", "teacher-train", "--vision-heads"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing tensor aux\.\w+\.weight: --vision-heads needs a teacher or student base trained with --aux-patch/);
  });
});
