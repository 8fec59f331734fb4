import { describe, expect, it } from "vitest";
import { excludesZero, interval, t95 } from "../../src/study/stats.js";

describe("intervals over seeds", () => {
  it("uses Student's t", () => {
    expect(t95(1)).toBeCloseTo(12.706, 3);
    expect(t95(2)).toBeCloseTo(4.303, 3);
    expect(t95(60)).toBeCloseTo(2.0, 2);
    expect(t95(1000)).toBeCloseTo(1.962, 2);
  });

  it("gives the mean and a 95% interval, none from one seed", () => {
    const i = interval([0.4, 0.5, 0.6]);
    expect(i.mean).toBeCloseTo(0.5, 12);
    expect(i.sd).toBeCloseTo(0.1, 12);
    expect(i.hi - i.mean).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 6);
    expect(excludesZero(i)).toBe(true);
    expect(excludesZero(interval([-0.1, 0.2, 0.05]))).toBe(false);
    const one = interval([0.3]);
    expect(one.mean).toBe(0.3);
    expect(Number.isNaN(one.lo)).toBe(true);
    expect(excludesZero(one)).toBe(false);
  });
});
