import { describe, expect, it } from "vitest";
import { initEngine, tf } from "../../src/engine/index.js";
import { imageRowsAttention, layerHeadMean, layersUsed, parseLayerSpec } from "../../src/model/readout.js";
import { IMAGE_START } from "../../src/model/vlm.js";

describe("attention read-out", () => {
  it("averages the chosen rows' attention to the image over layers and heads, as by hand", async () => {
    await initEngine();
    const [b, h, t, n] = [2, 3, IMAGE_START + 6, 4];
    const layers = [0, 1].map((l) =>
      tf.tensor4d(
        Float32Array.from({ length: b * h * t * t }, (_, i) => ((i * 7 + l * 13) % 11) / 10),
        [b, h, t, t],
      ),
    );
    const got = imageRowsAttention(layers, t - 2, 2, n).arraySync();
    const all = layers.map((p) => p.arraySync());
    for (let s = 0; s < b; s++)
      for (let r = 0; r < 2; r++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (const p of all) for (let hh = 0; hh < h; hh++) sum += p[s][hh][t - 2 + r][IMAGE_START + j];
          expect(got[s][r][j]).toBeCloseTo(sum / (2 * h), 6);
        }
    const mean = layerHeadMean(layers).arraySync();
    expect(mean[1][t - 1][IMAGE_START + 3]).toBeCloseTo(got[1][1][3], 6);
    tf.dispose(layers);
  });

  it("chooses the layers a --layers value names: official is the last 8 (all of a smaller model), last:N the last N", () => {
    expect(layersUsed("official", 12)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(layersUsed("official", 3)).toEqual([0, 1, 2]);
    expect(layersUsed("all", 2)).toEqual([0, 1]);
    expect(layersUsed(parseLayerSpec("last:2")!, 5)).toEqual([3, 4]);
    expect(layersUsed("last:6", 5)).toBeNull();
    expect(parseLayerSpec("first:2")).toBeNull();
  });
});
