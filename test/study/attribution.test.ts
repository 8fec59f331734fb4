import { describe, expect, it } from "vitest";
import { attribution, parseAttribution, verdictOf } from "../../src/study/attribution.js";
import { interval } from "../../src/study/stats.js";
import type { CellRecord } from "../../src/study/tasks.js";

const VARIANTS = ["distill", "lavit", "no-align"];

function cell(variant: string, seed: number, train: number, accuracy: number, swap?: [number, number]): CellRecord {
  const metrics: Record<string, number> = { accuracy };
  if (swap) {
    metrics["probes.swap.follow_a"] = swap[0];
    metrics["probes.swap.constant.follow_a"] = swap[1];
  }
  return { id: `${seed}-${train}-${variant}`, seed, variant, levels: { "data.train": train }, metrics: { "test-ood": metrics } } as unknown as CellRecord;
}

const key = (l: Record<string, unknown>) => JSON.stringify(l);

describe("attribution", () => {
  it("parses model,without,baseline[:metric] and names a missing variant or a bad metric", () => {
    expect(parseAttribution("lavit,no-align,distill", VARIANTS)).toEqual({ model: "lavit", without: "no-align", baseline: "distill", metric: "accuracy" });
    expect(parseAttribution("lavit,no-align,distill:pair_accuracy", VARIANTS).metric).toBe("pair_accuracy");
    expect(() => parseAttribution("lavit,distill", VARIANTS)).toThrow(/three variants/);
    expect(() => parseAttribution("lavit,nope,distill", VARIANTS)).toThrow(/no variant "nope"/);
    expect(() => parseAttribution("lavit,no-align,distill:speed", VARIANTS)).toThrow(/unknown metric "speed"/);
  });

  it("verdicts: at least half with an interval above 0; under half; no evidence when the interval holds 0; a cost below 0", () => {
    const gain = interval([0.2, 0.22, 0.18]);
    expect(verdictOf(gain, interval([0.1, 0.11, 0.12]))).toBe("carries at least half");
    expect(verdictOf(gain, interval([0.09, 0.1, 0.08]))).toBe("carries under half");
    expect(verdictOf(gain, interval([0.2, -0.1, 0.05]))).toBe("no evidence");
    expect(verdictOf(gain, interval([0.2]))).toBe("no evidence");
    expect(verdictOf(gain, interval([-0.1, -0.11, -0.12]))).toBe("costs");
    // A part that beats a gain that is not positive is not "half of the gain".
    expect(verdictOf(interval([-0.01, 0, -0.02]), interval([0.1, 0.11, 0.12]))).toBe("carries under half");
  });

  it("pairs by seed within a condition, reports the share and the model's swap probe beside its masked constant", () => {
    const records = [
      ...[1, 2, 3].flatMap((s) => [
        cell("distill", s, 100, 0.2 + s / 100),
        cell("no-align", s, 100, 0.3 + s / 100),
        cell("lavit", s, 100, 0.4 + s / 100, [0.6, 0.1]),
        cell("distill", s, 200, 0.5),
        cell("no-align", s, 200, 0.6 + (s === 2 ? 0.05 : 0)),
        cell("lavit", s, 200, 0.6 + (s === 3 ? 0.05 : 0)),
      ]),
      // A seed without its pair is left out, not paired with another seed.
      cell("lavit", 4, 100, 0.99),
    ];
    const rows = attribution(records, [{ "data.train": 100 }, { "data.train": 200 }], ["test-ood"], parseAttribution("lavit,no-align,distill", VARIANTS), key);
    expect(rows).toHaveLength(2);
    expect(rows[0].gain.n).toBe(3);
    expect(rows[0].gain.mean).toBeCloseTo(0.2, 12);
    expect(rows[0].part.mean).toBeCloseTo(0.1, 12);
    expect(rows[0].share).toBeCloseTo(0.5, 12);
    expect(rows[0].swap?.follow_a).toBeCloseTo(0.6, 12);
    expect(rows[0].swap?.masked_follow_a).toBeCloseTo(0.1, 12);
    expect(rows[1].verdict).toBe("no evidence");
    expect(rows[1].swap).toBeUndefined();
  });
});
