import { describe, expect, it } from "vitest";
import { parseAnswer, splitSteps } from "../../src/model/sequence.js";

describe("reading generated text", () => {
  it("parses answers and rationale steps from generated text", () => {
    expect(parseAnswer("look red circle ; answer red <eos>")).toBe("red");
    expect(parseAnswer("look red circle ;")).toBeNull();
    const words = "look red circle ; look blue square ; answer yes <eos>".split(" ");
    expect(splitSteps(words)).toEqual([
      { start: 0, end: 3 },
      { start: 4, end: 7 },
    ]);
  });

  it('takes the answer from the last "answer": a model that answers twice is scored on what it said last', () => {
    expect(parseAnswer("look red circle ; answer blue ; answer red <eos>")).toBe("red");
    expect(parseAnswer("answer yes answer no")).toBe("no");
    // The last "answer" with nothing after it (cut off, or straight into <eos>) is no answer.
    expect(parseAnswer("look red circle ; answer red ; answer")).toBeNull();
    expect(parseAnswer("look red circle ; answer <eos>")).toBeNull();
  });

  it("counts as steps only the segments that start with look, and stops at the answer", () => {
    const words = "look red circle ; red ; look hidden cyan ; answer yes ; look blue".split(" ");
    expect(splitSteps(words)).toEqual([
      { start: 0, end: 3 },
      { start: 6, end: 9 },
    ]);
    expect(splitSteps("look red circle <eos> look blue".split(" "))).toEqual([{ start: 0, end: 3 }]);
  });
});
