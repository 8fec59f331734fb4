import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { evaluateForced } from "../../src/eval/forced.js";
import { buildVlm } from "../../src/model/vlm.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";

describe("teacher-forced evaluation", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 30, train: 4, test: 4 });
  });

  it("does not depend on how samples are batched (padding), and counts every sample and family", async () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size), 5);
    const before = tf.memory().numTensors;
    const one = await evaluateForced(vlm, data, { batchSize: 1, quiet: true });
    const many = await evaluateForced(vlm, data, { batchSize: 7, quiet: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(many).toEqual(one);
    expect(one.count).toBe(30);
    expect(Object.values(one.families).reduce((a, g) => a + g.count, 0)).toBe(30);
    for (const g of [one, ...Object.values(one.families)])
      for (const v of [g.answer_accuracy, g.rationale_token_accuracy, g.step_accuracy, g.last_step_accuracy, ...g.step_accuracy_by_index]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    // Rationales run 1-4 steps, so there is a first step's accuracy and at most a fourth's.
    expect(one.step_accuracy_by_index.length).toBeGreaterThanOrEqual(1);
    expect(one.step_accuracy_by_index.length).toBeLessThanOrEqual(4);
    vlm.dispose();
  });

  it("scores 0 for a model that only ever predicts padding: padded positions never count", async () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size), 5);
    expect(data.tokenizer.id("<pad>")).toBe(0);
    // A zero LM head ties every logit; argmax takes the first id, the padding token.
    vlm.store.get("lm_head.weight").assign(tf.zerosLike(vlm.store.get("lm_head.weight")));
    const r = await evaluateForced(vlm, data, { quiet: true });
    expect([r.answer_accuracy, r.rationale_token_accuracy, r.step_accuracy, r.last_step_accuracy]).toEqual([0, 0, 0, 0]);
    expect(r.step_accuracy_by_index.every((a) => a === 0)).toBe(true);
    vlm.dispose();
  });
});
