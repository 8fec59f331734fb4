import { describe, expect, it } from "vitest";
import { makeTextBatch } from "../../src/model/text-batch.js";
import { weighAnswers } from "../../src/train/batch.js";

describe("answer weight", () => {
  it("scales the loss weight of exactly the word after 'answer' in each target, nothing in the prompt", () => {
    // Tokens: 1 = "answer" (also planted in the first prompt), 5/6 = answer words, 0 = pad, 9 = <eos>.
    const batch = makeTextBatch(
      [
        [7, 1, 7],
        [7, 7],
      ],
      [
        [3, 4, 1, 5, 9],
        [3, 1, 6, 9],
      ],
      0,
    );
    const before = Array.from(batch.weights);
    weighAnswers(batch, 1, 4);
    const changed = before.flatMap((w, i) => (batch.weights[i] !== w ? [[i, batch.weights[i]]] : []));
    const answerPositions = [0, 1].map((b) => Array.from(batch.labels).findIndex((l, i) => Math.floor(i / batch.length) === b && (l === 5 || l === 6)));
    expect(changed).toEqual(answerPositions.map((i) => [i, 4]));
    expect(batch.weights[1]).toBe(0); // the prompt's own "answer" token stays unweighted
  });
});
