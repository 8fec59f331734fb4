import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { buildVlm } from "../../src/model/vlm.js";
import { loadModel, readModelFolder } from "../../src/eval/handle.js";
import { evaluate, evaluateLoaded } from "../../src/stages/evaluate.js";
import { UserError } from "../../src/errors.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";

describe("a model folder for a library user", () => {
  it("reads, loads, evaluates as `evaluate` does, and frees its tensors", async () => {
    await initEngine();
    const data = await tinyDataset({ teacherTrain: 0, train: 2, test: 3 });
    const split = loadSplit(data, "test-ood");
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-handle-")), "m");
    const cfg = tinyConfig(split.tokenizer.size, { layers: 1 });
    const vlm = buildVlm(cfg, 3);
    saveModel(dir, cfg, vlm.store, split.tokenizer, 0);
    const parameters = vlm.store.count();
    vlm.dispose();

    const folder = readModelFolder(dir);
    expect(folder.config).toEqual(cfg);
    expect(folder.tokenizer.vocab).toEqual(split.tokenizer.vocab);
    expect(folder.weights).toBe(join(dir, "model.safetensors"));

    const before = tf.memory().numTensors;
    const model = await loadModel(dir, split);
    expect(model).toMatchObject({ dir, latents: 0, parameters });
    const mine = await evaluateLoaded(model, split);
    const stage = await evaluate({ model: dir, data, split: "test-ood", quiet: true });
    expect(mine.result).toEqual(stage.result);
    expect(mine.predictions.map((p) => p.generated)).toEqual(stage.predictions.map((p) => p.generated));
    expect(mine.maps).toHaveLength(3);
    model.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(evaluateLoaded(model, split)).rejects.toThrow(/disposed/);
  }, 120_000);

  it("refuses a dataset of another vocabulary", async () => {
    const data = await tinyDataset({ teacherTrain: 0, train: 2, test: 2 });
    const split = loadSplit(data, "train");
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-handle-")), "m");
    const cfg = tinyConfig(split.tokenizer.size + 1, { layers: 1 });
    const vlm = buildVlm(cfg, 0);
    saveModel(dir, cfg, vlm.store, new Tokenizer([...split.tokenizer.vocab, "extra"]), 0);
    vlm.dispose();
    await expect(loadModel(dir, split)).rejects.toThrow(UserError);
  });
});
