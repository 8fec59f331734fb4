import { describe, expect, it } from "vitest";
import { checkBatchSize, checkImageSize, checkLatents, checkModelFits, checkRaster, parameterCount } from "../../src/util/limits.js";
import { buildVlm } from "../../src/model/vlm.js";
import { initEngine } from "../../src/engine/index.js";
import { tinyConfig } from "../helpers/tiny.js";

describe("size limits", () => {
  it("refuse sizes that cannot fit, with an estimate, and pass ordinary ones", () => {
    expect(() => checkImageSize(100000, 100000)).toThrow(/^--size\/--patch 100000\/100000: would need about 65\.2 GB of memory/);
    expect(() => checkImageSize(64, 8, 20000)).not.toThrow();
    expect(() => checkRaster(64 * 100000, "--scale 100000")).toThrow(/--scale 100000 \(an image 6400000 x 6400000 px\): would need about/);
    expect(() => checkRaster(64 * 8, "--scale 8")).not.toThrow();
    expect(() => checkBatchSize(100000, 5, "train")).toThrow("--batch-size 100000 is larger than the 5 samples of split train; choose at most 5");
    expect(() => checkBatchSize(4, 0, "train")).toThrow(/has no samples/);
    expect(() => checkLatents(100, 8)).toThrow(/--latents 100: the tokenizer has only 8 latent tokens/);
  });

  it("counts a model's parameters as buildVlm makes them", async () => {
    await initEngine();
    for (const cfg of [tinyConfig(50), tinyConfig(61, { latents: 4, teacherHidden: 24 })]) {
      const vlm = buildVlm(cfg, 0);
      expect(parameterCount(cfg)).toBe(vlm.store.count());
      vlm.dispose();
    }
    const big = tinyConfig(50);
    big.decoder.hidden_size = 1e9;
    expect(() => checkModelFits(big, { training: true, batch: 32 }, "config.json")).toThrow(
      /config\.json: a model of .* parameters, trained in batches of 32,: would need about/,
    );
  });
});
