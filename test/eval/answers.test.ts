import { describe, expect, it } from "vitest";
import { freeAnswer, normaliseAnswer, scoreAnswer } from "../../src/eval/answers.js";

describe("answer formats", () => {
  it("normalises case, punctuation, articles and number words", () => {
    expect(normaliseAnswer("Two apples.")).toBe("2 apples");
    expect(normaliseAnswer("2 apples")).toBe("2 apples");
    expect(normaliseAnswer("The RED one!")).toBe("red 1");
    expect(normaliseAnswer("3.5 cm")).toBe("3.5 cm");
  });

  it("reads a free answer after the rationale, with or without the answer marker", () => {
    expect(freeAnswer("look the sky ; answer a blue sky <eos>")).toBe("a blue sky");
    expect(freeAnswer("look the sky ; blue sky")).toBe("blue sky");
    expect(freeAnswer("look the sky ;")).toBeNull();
  });

  it("scores lavit answers by the word after the marker, free ones by exact match after normalising", () => {
    expect(scoreAnswer("look red circle 1 2 ; answer red", "red", "lavit")).toEqual({ predicted: "red", correct: true });
    expect(scoreAnswer("answer two apples", "two apples", "lavit").correct).toBe(false);
    expect(scoreAnswer("answer two apples", "2 apples", "free")).toEqual({ predicted: "two apples", correct: true });
    expect(scoreAnswer("answer two red apples", "2 apples", "free").correct).toBe(false);
  });
});
