import { describe, expect, it } from "vitest";
import { massOn, minMax, normalise, softmaxTemp, stepPatches, toDistribution, topkIndices } from "../../src/signals/maps.js";

describe("maps", () => {
  it("computes top-k (ties to the lower index) and min-max / softmax normalisations", () => {
    expect(topkIndices([0.1, 0.9, 0.5, 0.9], 2)).toEqual([1, 3]);
    expect([...minMax(Float32Array.from([2, 4, 3]))]).toEqual([0, 1, 0.5]);
    expect([...minMax(Float32Array.from([3, 3]))]).toEqual([1, 1]);
    const s = softmaxTemp(Float32Array.from([0, Math.log(3)]), 1);
    expect(s[0]).toBeCloseTo(0.25, 6);
    expect(s[1]).toBeCloseTo(0.75, 6);
  });

  it("makes distributions of maps, an all-zero map even (a model that looked nowhere)", () => {
    expect([...toDistribution([1, 3, 0, 0])]).toEqual([0.25, 0.75, 0, 0]);
    expect([...toDistribution([0, 0, 0, 0])]).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect([...normalise(Float32Array.from([2, 6]))]).toEqual([0.25, 0.75]);
    expect([...normalise(new Float32Array(2))]).toEqual([0.5, 0.5]);
  });

  it("grounding mass: the share of a map's total on the patches, or its sum on them for a distribution", () => {
    expect(massOn([1, 1, 2, 0], [2])).toBeCloseTo(0.5);
    expect(massOn([0, 0], [1])).toBe(0);
    expect(massOn([0.25, 0.5, 0.25], [1, 2], 1)).toBe(0.75);
    expect(massOn([0.2, 0.2], [0, 5], 1)).toBe(0.2);
  });

  it("scores a step past the rationale's end against all its patches, each once", () => {
    const sample = {
      rationale: [
        { text: "look a", objects: [0], patches: [1, 2] },
        { text: "look b", objects: [1], patches: [2, 3] },
      ],
    };
    expect(stepPatches(sample, 1)).toEqual([2, 3]);
    expect(stepPatches(sample, 2)).toEqual([1, 2, 3]);
    // Patch 2 belongs to both steps: counted once, the map's mass on the rationale is 1, not 1.25.
    expect(massOn([0, 0.25, 0.25, 0.5], stepPatches(sample, 2), 1)).toBe(1);
  });
});
