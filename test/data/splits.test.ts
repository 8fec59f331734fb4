import { describe, expect, it } from "vitest";
import { generateSplit } from "../../src/data/generate.js";
import { templateByKey } from "../../src/data/families/index.js";
import type { Sample, Split } from "../../src/data/manifest.js";
import { priorAnswer } from "../../src/data/questions.js";
import { MaskCache } from "../../src/data/shapes.js";
import { GENERATE_DEFAULTS } from "../../src/stages/generate.js";

const opts = { ...GENERATE_DEFAULTS, seed: 5, size: 32, patch: 8, teacherTrain: 0, train: 0, test: 0, quiet: true };
const ctx = { size: 32, patch: 8, masks: new MaskCache(32) };

function split(name: Split, count: number): Sample[] {
  const out: Sample[] = [];
  for (const { record } of generateSplit(name, count, opts, ctx)) out.push(record);
  return out;
}

const prior = (s: Sample) => priorAnswer(templateByKey(s.template!)!);
const priorShare = (samples: readonly Sample[]) => samples.filter((s) => s.answer === prior(s)).length / samples.length;

describe("answers drawn per split", () => {
  it("test-ood never asks for a template's prior answer", () => {
    const ood = split("test-ood", 120);
    expect(ood).toHaveLength(120);
    for (const s of ood) expect(s.answer, `${s.id} (${s.template})`).not.toBe(prior(s));
  });

  it("test-pairs: the first member carries the prior answer, its partner another", () => {
    const pairs = split("test-pairs", 60);
    expect(pairs).toHaveLength(60);
    for (let i = 0; i < pairs.length; i += 2) {
      const [a, b] = [pairs[i], pairs[i + 1]];
      expect([a.id.endsWith("a"), b.id.endsWith("b"), a.pair === b.pair]).toEqual([true, true, true]);
      expect(a.answer, a.id).toBe(prior(a));
      expect(b.answer, b.id).not.toBe(prior(b));
    }
  });

  it("train and test-id favour the prior answer at the prior rate; teacher-train does not", () => {
    for (const name of ["train", "test-id"] as const) {
      const share = priorShare(split(name, 200));
      // 0.8 plus the answers drawn at random that happen to be the prior; 200 draws.
      expect(share, name).toBeGreaterThan(0.7);
    }
    // Balanced over the choices: about 1 / |choices| (1/2 for yes/no, less for colours and counts).
    expect(priorShare(split("teacher-train", 200))).toBeLessThan(0.6);
  });
});
