import { describe, expect, it } from "vitest";
import { thoughtGaze } from "../../src/eval/evaluate.js";

const one = (n: number, at: number) => {
  const m = new Float32Array(n);
  m[at] = 1;
  return m;
};

describe("thoughtGaze", () => {
  it("gives step t the mean map of the latents trained on step t", () => {
    // K = 4 latents, T = 2 steps: latents 0, 1 stand for step 0, latents 2, 3 for step 1.
    const latents = [one(4, 0), one(4, 1), one(4, 2), one(4, 3)];
    const [s0, s1] = thoughtGaze(latents, 2);
    expect(Array.from(s0)).toEqual([0.5, 0.5, 0, 0]);
    expect(Array.from(s1)).toEqual([0, 0, 0.5, 0.5]);
  });

  it("uses the nearest latent for a step no latent was trained on (more steps than latents)", () => {
    const latents = [one(3, 0), one(3, 2)];
    const maps = thoughtGaze(latents, 3);
    expect(maps).toHaveLength(3);
    for (const m of maps) expect(m.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Array.from(maps[0])).toEqual([1, 0, 0]);
    expect(Array.from(maps[2])).toEqual([0, 0, 1]);
  });

  it("normalises raw attention rows after averaging them (the attention read-out)", () => {
    const raw = [Float32Array.from([0.2, 0.2]), Float32Array.from([0.1, 0.5])];
    const [m] = thoughtGaze(raw, 1, true);
    expect(m[0]).toBeCloseTo(0.3 / 1.0, 6);
    expect(m[1]).toBeCloseTo(0.7 / 1.0, 6);
    const [u] = thoughtGaze([new Float32Array(2)], 1, true);
    expect(Array.from(u)).toEqual([0.5, 0.5]);
  });
});
