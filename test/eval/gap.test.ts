import { describe, expect, it } from "vitest";
import { entropy, jensenShannon, mapGaze, meanGap, meanGaze, sampleGaze, topkIou, uniformGap, uniformGaze } from "../../src/eval/gap.js";
import { summarise, type Prediction } from "../../src/eval/evaluate.js";
import type { Sample } from "../../src/data/manifest.js";
import { verdict } from "../../src/demo/report.js";

describe("Perception-Gap metrics", () => {
  it("Jensen-Shannon, entropy and top-k IoU match hand computations", () => {
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(Math.LN2, 10);
    expect(jensenShannon([0.5, 0.5], [0.5, 0.5])).toBeCloseTo(0, 10);
    // p = (0.75, 0.25), q = (0.25, 0.75): m = (0.5, 0.5); JS = KL(p||m) = 0.75 ln 1.5 + 0.25 ln 0.5
    expect(jensenShannon([0.75, 0.25], [0.25, 0.75])).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 10);
    expect(entropy([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(Math.log(4), 10);
    expect(topkIou([0.4, 0.3, 0.2, 0.1], [0.1, 0.3, 0.4, 0.2], 2)).toBeCloseTo(1 / 3, 10); // {0,1} vs {2,1}
  });

  it("scores a sample step by step against its ground truth and the teacher", () => {
    const sample = {
      rationale: [
        { text: "look a", objects: [0], patches: [0] },
        { text: "look b", objects: [1], patches: [3] },
      ],
    } as unknown as Sample;
    const maps = [Float32Array.from([0.7, 0.1, 0.1, 0.1]), Float32Array.from([0.1, 0.1, 0.2, 0.6])];
    const g = sampleGaze(sample, maps, maps, 1);
    expect(g.grounding_mass).toBeCloseTo((0.7 + 0.6) / 2, 6);
    expect(g.js_to_teacher).toBeCloseTo(0, 6);
    expect(g.topk_iou).toBe(1);
    expect(meanGaze([g, { ...g, grounding_mass: 0 }]).grounding_mass).toBeCloseTo(0.325, 6);
  });

  it("without regions, reports no grounding mass; even gaze's line is the same function for the demo and lavit gap", () => {
    const teacher = [Float32Array.from([0.7, 0.1, 0.1, 0.1]), Float32Array.from([0.1, 0.1, 0.2, 0.6])];
    const g = mapGaze(teacher, undefined, teacher, 1);
    expect(g).not.toHaveProperty("grounding_mass");
    expect(g.js_to_teacher).toBeCloseTo(0, 10);
    expect(meanGap([g, { entropy: 1 }])).not.toHaveProperty("grounding_mass");
    const sample = {
      rationale: [
        { text: "look a", objects: [0], patches: [0] },
        { text: "look b", objects: [1], patches: [3] },
      ],
    } as unknown as Sample;
    const even = new Float32Array(4).fill(0.25);
    const u = uniformGaze([sample], [teacher]);
    // Even gaze puts a quarter on each one-patch region, and its JS is averaged over the two steps.
    expect(u.grounding_mass).toBeCloseTo(0.25, 10);
    expect(u.entropy).toBeCloseTo(Math.log(4), 10);
    expect(u.js_to_teacher).toBeCloseTo((jensenShannon(even, teacher[0]) + jensenShannon(even, teacher[1])) / 2, 10);
    expect(u).not.toHaveProperty("topk_iou");
    const noRegions = uniformGap([teacher]);
    expect(noRegions).not.toHaveProperty("grounding_mass");
    expect(noRegions.js_to_teacher).toBeCloseTo(u.js_to_teacher!, 12);
  });

  it("when the model writes more steps than the rationale or the teacher: JS over the steps both wrote, extra steps against the whole rationale, each patch once", () => {
    const sample = {
      rationale: [
        { text: "look a", objects: [0], patches: [0, 1] },
        { text: "look b", objects: [1], patches: [1, 2] },
      ],
    } as unknown as Sample;
    const teacher = [Float32Array.from([0.7, 0.1, 0.1, 0.1]), Float32Array.from([0.1, 0.1, 0.2, 0.6])];
    const model = [teacher[0], Float32Array.from([0.4, 0.3, 0.2, 0.1]), Float32Array.from([0.25, 0.25, 0.25, 0.25])];
    const g = sampleGaze(sample, model, teacher, 1);
    // Two steps compared with the teacher; the model's third has nothing to be compared with.
    expect(g.js_to_teacher).toBeCloseTo(jensenShannon(model[1], teacher[1]) / 2, 10);
    expect(g.topk_iou).toBeCloseTo((1 + 0) / 2, 10);
    // Step 3 is past the rationale: scored on its patches {0, 1, 2} (patch 1 once), not on step 2's {1, 2}.
    expect(g.grounding_mass).toBeCloseTo((0.8 + 0.5 + 0.75) / 3, 6);
    // A model that writes fewer steps than the teacher is compared over its own.
    expect(sampleGaze(sample, [teacher[0]], teacher, 1).js_to_teacher).toBeCloseTo(0, 10);
  });

  it("averages each metric over the samples that have it", () => {
    const m = meanGap([
      { entropy: 1, js_to_teacher: 0.2, grounding_mass: 0.5 },
      { entropy: 3, grounding_mass: 0.7 },
      { entropy: 2, js_to_teacher: 0.4 },
    ]);
    expect(m.entropy).toBeCloseTo(2, 10);
    expect(m.js_to_teacher).toBeCloseTo(0.3, 10);
    expect(m.grounding_mass).toBeCloseTo(0.6, 10);
    expect(m).not.toHaveProperty("topk_iou");
  });

  it("counts a pair only when both members are right", () => {
    const p = (id: string, pair: string, correct: boolean): Prediction => ({
      id,
      family: "depth",
      template: "depth/front",
      pair,
      answer: "yes",
      predicted: correct ? "yes" : "no",
      correct,
      generated: "",
    });
    const r = summarise("test-pairs", [p("0a", "0", true), p("0b", "0", false), p("1a", "1", true), p("1b", "1", true)]);
    expect(r.accuracy).toBe(0.75);
    expect(r.pair_accuracy).toBe(0.5);
    // all four answers are "yes"; three were answered "yes"
    expect(r.yes_truth).toBe(1);
    expect(r.yes_rate).toBe(0.75);
  });

  it("measures the yes bias over yes/no questions only, and the verdict names a bias gap", () => {
    const p = (answer: string, predicted: string | null): Prediction => ({
      id: `${answer}${predicted}`,
      family: "spatial",
      template: "spatial/left",
      answer,
      predicted,
      correct: answer === predicted,
      generated: "",
    });
    const r = summarise("test-ood", [p("yes", "yes"), p("no", "yes"), p("no", null), p("no", "no"), p("red", "yes")]);
    expect(r.yes_rate).toBe(0.5);
    expect(r.yes_truth).toBe(0.25);
    expect(summarise("test-ood", [p("red", "red")]).yes_rate).toBeUndefined();
    const row = (accuracy: number, yes_rate: number) => ({ accuracy, js_to_teacher: 0.04, yes_rate, yes_truth: 0.6 });
    const biased = verdict({ distill: { "test-ood": row(0.3, 0.37) }, lavit: { "test-ood": row(0.41, 0.93) } });
    expect(biased.statement).toMatch(/LaViT answers "yes" to 93% of test-ood's yes\/no questions, distill to 37% \(truth: 60%\)/);
    expect(verdict({ distill: { "test-ood": row(0.3, 0.5) }, lavit: { "test-ood": row(0.41, 0.55) } }).statement).not.toMatch(/answer bias/);
  });

  it("gives even gaze's js_to_teacher as the scale when the report has it", () => {
    const results = { distill: { "test-ood": { accuracy: 0.3, js_to_teacher: 0.04 } }, lavit: { "test-ood": { accuracy: 0.41, js_to_teacher: 0.03 } } };
    expect(verdict(results, { "test-ood": { js_to_teacher: 0.0128 } }).statement).toMatch(
      /attention spread evenly over the image scores js_to_teacher 0\.0128 on test-ood \(LaViT 0\.0300, distill 0\.0400\)/,
    );
    expect(verdict(results).statement).not.toMatch(/spread evenly/);
  });
});
