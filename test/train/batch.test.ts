import { describe, expect, it } from "vitest";
import { makeTextBatch } from "../../src/model/text-batch.js";

describe("teacher-forcing batch", () => {
  it("predicts every target token, the first from the prompt's last position, and nothing of the prompt or the padding", () => {
    // Prompts 1 2 3 and 4 5; targets 7 8 9 and 6; pad 0.
    const b = makeTextBatch(
      [
        [1, 2, 3],
        [4, 5],
      ],
      [[7, 8, 9], [6]],
      0,
    );
    expect(b.length).toBe(5);
    expect(b.promptLengths).toEqual([3, 2]);
    expect(Array.from(b.ids)).toEqual([1, 2, 3, 7, 8, 4, 5, 0, 0, 0]);
    expect(Array.from(b.labels)).toEqual([2, 3, 7, 8, 9, 5, 6, 0, 0, 0]);
    expect(Array.from(b.weights)).toEqual([0, 0, 1, 1, 1, 0, 1, 0, 0, 0]);
  });
});
