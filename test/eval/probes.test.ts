import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../../src/engine/index.js";
import { chunksByLength, steerBias } from "../../src/eval/probes.js";
import { NEG_INF } from "../../src/model/nn.js";
import { IMAGE_START } from "../../src/model/vlm.js";

describe("steerBias", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("restricts only the latent rows' image columns to the region, per batch row", () => {
    // Prompt: 2 + 4 image tokens + 2 question tokens + 2 latents = 10 positions.
    const n = 4;
    const promptLength = IMAGE_START + n + 2 + 2;
    const bias = steerBias(promptLength, 2, n, [[1, 2], null])(promptLength, promptLength, 0)!;
    expect(bias.shape).toEqual([2, 1, promptLength, promptLength]);
    const v = bias.arraySync() as number[][][][];
    for (let row = 0; row < promptLength; row++)
      for (let c = 0; c < promptLength; c++) {
        const latentRow = row >= promptLength - 2;
        const outside = c >= IMAGE_START && c < IMAGE_START + n && ![1, 2].includes(c - IMAGE_START);
        expect(v[0][0][row][c]).toBe(latentRow && outside ? NEG_INF : 0);
        expect(v[1][0][row][c]).toBe(0);
      }
    bias.dispose();
    // Decoding steps (one query row after the prompt) are not steered.
    expect(steerBias(promptLength, 2, n, [[1]])(1, promptLength + 1, promptLength)).toBeUndefined();
  });
});

describe("chunksByLength", () => {
  it("groups equal lengths in index order, in chunks", () => {
    expect(chunksByLength([3, 4, 3, 3, 4], 2)).toEqual([[0, 2], [3], [1, 4]]);
  });
});
