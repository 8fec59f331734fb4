import { describe, expect, it } from "vitest";
import { pickSamples } from "../../src/demo/heatmaps.js";

const flat = (n: number) => new Float32Array(n).fill(1 / n);
const peak = (n: number, at: number) => {
  const m = new Float32Array(n).fill(0.01 / (n - 1));
  m[at] = 0.99;
  return m;
};

describe("pickSamples", () => {
  // Ten samples of one step; the students agree except on samples 3 (a lot) and 7 (a little).
  const n = 16;
  const distill = Array.from({ length: 10 }, () => [flat(n)]);
  const lavit = Array.from({ length: 10 }, (_, i) => [i === 3 ? peak(n, 0) : i === 7 ? peak(n, 5).map((v) => 0.5 * v + 0.5 / n) : flat(n)]);
  const maps = { distill, lavit };

  it("shows first the samples where the two students' gaze differs most, then random others", () => {
    const picks = pickSamples(maps, 10, { contrast: ["distill", "lavit"], show: 2, random: 3, seed: 1 });
    expect(picks.slice(0, 2).map((p) => p.index)).toEqual([3, 7]);
    expect(picks[0].why).toMatch(/differ most/);
    expect(picks).toHaveLength(5);
    const rest = picks.slice(2).map((p) => p.index);
    expect(new Set(rest).size).toBe(3);
    expect(rest.some((i) => i === 3 || i === 7)).toBe(false);
    expect(picks.slice(2).every((p) => /random/.test(p.why))).toBe(true);
  });

  it("is deterministic by seed and skips samples a model has no map for", () => {
    const o = { contrast: ["distill", "lavit"] as [string, string], show: 1, random: 4, seed: 5 };
    expect(pickSamples(maps, 10, o)).toEqual(pickSamples(maps, 10, o));
    const holes = { distill, lavit: lavit.map((m, i) => (i % 2 ? [] : m)) };
    expect(pickSamples(holes, 10, { ...o, random: 10 }).every((p) => p.index % 2 === 0)).toBe(true);
  });
});
