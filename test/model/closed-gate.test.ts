import { describe, expect, it } from "vitest";
import { initEngine, tf } from "../../src/engine/index.js";
import { withClosedGate } from "../../src/model/generate.js";
import { NEG_INF } from "../../src/model/nn.js";
import { buildVlm, IMAGE_START } from "../../src/model/vlm.js";
import { gateValue } from "../../src/train/gate.js";
import { tinyConfig } from "../helpers/tiny.js";

describe("the closed gate (a bottleneck through the latents)", () => {
  it("never opens in training", () => {
    const g = { schedule: "closed" as const, openAt: 1, mode: "hard" as const, gatePrompt: true };
    for (const step of [0, 50, 99, 100]) expect(gateValue(g, step, 100)).toBe(0);
  });

  it("shuts the image to the question and the generated text at inference, never to the latents", async () => {
    await initEngine();
    const base = tinyConfig(40, { latents: 2 });
    const n = 16;
    const promptLength = IMAGE_START + n + 1 + 3 + 2; // image, <vision_end>, 3 question words, 2 latents
    for (const prompt of [true, false]) {
      const vlm = buildVlm({ ...base, latent: { ...base.latent!, closed_gate: { prompt } } }, 0);
      const opts = withClosedGate(vlm, promptLength, { maxNewTokens: 4, eos: 1 });
      const bias = opts.biasFor!(promptLength + 1, promptLength + 1, 0)!;
      const b = bias.arraySync() as number[][][][];
      const image = (row: number) => b[0][0][row].slice(IMAGE_START, IMAGE_START + n);
      const questionRow = IMAGE_START + n + 1;
      expect(image(questionRow).every((v) => v === (prompt ? NEG_INF : 0))).toBe(true);
      expect(image(promptLength - 2).every((v) => v === 0)).toBe(true); // a latent
      expect(image(promptLength - 1).every((v) => v === 0)).toBe(true); // the last latent writes the first word
      expect(image(promptLength).every((v) => v === NEG_INF)).toBe(true); // generated text
      // Text still reads the latents.
      expect(b[0][0][promptLength][promptLength - 1]).toBe(0);
      tf.dispose(bias);
      vlm.dispose();
    }
    const open = buildVlm(base, 0);
    expect(withClosedGate(open, promptLength, { maxNewTokens: 4, eos: 1 }).biasFor).toBeUndefined();
    open.dispose();
  });
});
