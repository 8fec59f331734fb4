import { beforeAll, describe, expect, it } from "vitest";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { groundTruthPatches } from "../../src/data/ground-truth.js";
import { compose, patchCoverage } from "../../src/data/render.js";
import type { SceneContext } from "../../src/data/scene.js";
import { MaskCache } from "../../src/data/shapes.js";
import { steerFractions, steerTarget } from "../../src/eval/steer.js";
import { tinyDataset } from "../helpers/tiny.js";

describe("steerTarget", () => {
  let data: LoadedSplit;
  let ctx: SceneContext;
  beforeAll(async () => {
    data = loadSplit(await tinyDataset({ teacherTrain: 0, train: 0, test: 40 }), "test-ood");
    ctx = { size: data.info.size, patch: data.info.patch, masks: new MaskCache(data.info.size) };
  });

  it("sends an attribute question to another object with another answer, the largest visible one, over its ground-truth patches", () => {
    const attribute = data.samples.filter((s) => s.family === "attribute");
    expect(attribute.length).toBeGreaterThan(0);
    let found = 0;
    for (const s of attribute) {
      const t = steerTarget(s, ctx);
      if (!t) continue;
      found++;
      const key = s.template!.startsWith("attr_color/") ? "colour" : "shape";
      const target = s.rationale[0].objects![0];
      const objects = s.objects!;
      const coverage = patchCoverage(compose(objects, ctx), objects.length, ctx.patch);
      const candidates = objects
        .map((o, j) => ({ j, value: o[key], patches: coverage[j].size ? groundTruthPatches(coverage[j]) : [] }))
        .filter((c) => c.j !== target && c.value !== s.answer && c.patches.length);
      const best = Math.max(...candidates.map((c) => c.patches.length));
      const chosen = candidates.find((c) => c.patches.length === best)!;
      expect(t.answer).toBe(chosen.value);
      expect(t.answer).not.toBe(s.answer);
      expect(t.patches).toEqual([...chosen.patches].sort((a, b) => a - b));
      expect(s.choices).toContain(t.answer);
    }
    expect(found).toBeGreaterThan(0);
  });

  it("has no target for the other families", () => {
    for (const s of data.samples.filter((x) => x.family !== "attribute")) expect(steerTarget(s, ctx)).toBeNull();
  });
});

describe("steerFractions", () => {
  it("counts answers that changed, and those that changed to the other object's", () => {
    const targets = [{ answer: "red" }, { answer: "blue" }, { answer: "green" }, { answer: "red" }];
    // 0: changed to the other's; 1: unchanged, already the other's; 2: changed elsewhere; 3: unchanged.
    expect(steerFractions(targets, ["blue", "blue", "red", "red"], ["red", "blue", "yellow", "red"])).toEqual({ changed: 0.5, to_other: 0.25 });
    expect(steerFractions([], [], [])).toEqual({ changed: 0, to_other: 0 });
  });
});
