import { describe, expect, it } from "vitest";
import { swapFractions, swapPairs } from "../../src/eval/swap.js";

const s = (question: string, answer: string, pair?: string) => ({ question, answer, ...(pair !== undefined ? { pair } : {}) });

describe("swapPairs", () => {
  it("pairs a test-pairs minimal pair both ways", () => {
    const samples = [
      s("what color is the circle ?", "red", "p0"),
      s("what color is the circle ?", "blue", "p0"),
      s("is x left of y ?", "yes", "p1"),
      s("is x left of y ?", "no", "p1"),
    ];
    expect(swapPairs(samples, 1)).toEqual([
      { a: 0, b: 1 },
      { a: 1, b: 0 },
      { a: 2, b: 3 },
      { a: 3, b: 2 },
    ]);
  });

  it("elsewhere pairs samples of the same question with different answers, each sample A once, deterministically", () => {
    const q1 = "what color is the circle ?";
    const q2 = "how many squares ?";
    const samples = [s(q1, "red"), s(q1, "red"), s(q1, "blue"), s(q2, "2"), s(q1, "green"), s(q2, "2"), s("lonely ?", "yes")];
    const pairs = swapPairs(samples, 7);
    expect(swapPairs(samples, 7)).toEqual(pairs);
    for (const p of pairs) {
      expect(samples[p.a].question).toBe(samples[p.b].question);
      expect(samples[p.a].answer).not.toBe(samples[p.b].answer);
    }
    const as = pairs.map((p) => p.a);
    expect(new Set(as).size).toBe(as.length);
    expect(as).toEqual([...as].sort((x, y) => x - y));
    // Every q1 sample has a partner with another answer; q2's two share theirs, the lone question has none.
    expect(as).toEqual([0, 1, 2, 4]);
    // The seed decides the partners (some seed gives another choice for a red sample).
    const partners = (seed: number) =>
      swapPairs(samples, seed)
        .map((p) => p.b)
        .join();
    expect(Array.from({ length: 10 }, (_, k) => partners(k)).some((x) => x !== partners(7))).toBe(true);
  });
});

describe("swapFractions", () => {
  it("counts answers that follow A, follow B, or neither", () => {
    const samples = [s("q", "red"), s("q", "blue"), s("q", "green")];
    const pairs = [
      { a: 0, b: 1 },
      { a: 1, b: 2 },
      { a: 2, b: 0 },
      { a: 0, b: 2 },
    ];
    expect(swapFractions(pairs, samples, ["red", "green", null, "blue"])).toEqual({ follow_a: 0.25, follow_b: 0.25, neither: 0.5 });
    expect(swapFractions([], samples, [])).toEqual({ follow_a: 0, follow_b: 0, neither: 0 });
  });
});
