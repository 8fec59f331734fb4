import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, tf } from "../../src/engine/index.js";
import { cosineLoss, klLoss, sparsifyTopk } from "../../src/train/losses.js";
import { stepForLatent } from "../../src/model/sequence.js";

describe("LaViT losses", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("cosine loss matches a hand computation", () => {
    // rows: (1,0)·(1,0) -> cos 1; (1,0)·(0,2) -> cos 0; (3,4)·(-3,-4) -> cos -1. Mean of 1 - cos = (0 + 1 + 2) / 3
    const l = cosineLoss(
      tf.tensor2d([
        [1, 0],
        [1, 0],
        [3, 4],
      ]),
      tf.tensor2d([
        [1, 0],
        [0, 2],
        [-3, -4],
      ]),
    );
    expect(l.dataSync()[0]).toBeCloseTo(1, 5);
  });

  it("KL(p || q) matches a hand computation and ignores p's zeros", () => {
    const p = [0.5, 0.5, 0];
    const q = [0.25, 0.25, 0.5];
    const expected = 0.5 * Math.log(0.5 / 0.25) * 2;
    const l = klLoss(tf.tensor2d([p]), tf.log(tf.tensor2d([q])));
    expect(l.dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it("with row weights, averages over the weighted rows only (the public code's last-latent-only losses)", () => {
    const pred = tf.tensor3d([
      [
        [1, 0],
        [1, 0],
        [1, 1],
      ],
    ]);
    const target = tf.tensor3d([
      [
        [0, 1],
        [1, 0],
        [1, 0],
      ],
    ]);
    const w = tf.tensor2d([[0, 0, 1]]);
    expect(cosineLoss(pred, target, w).dataSync()[0]).toBeCloseTo(1 - Math.SQRT1_2, 5);
    expect(cosineLoss(pred, target).dataSync()[0]).toBeCloseTo((1 + 0 + 1 - Math.SQRT1_2) / 3, 5);
    const p = tf.tensor3d([
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    ]);
    const logq = tf.log(
      tf.tensor3d([
        [
          [0.5, 0.5],
          [0.25, 0.75],
        ],
      ]),
    );
    const kl = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
    expect(klLoss(p, logq, tf.tensor2d([[0, 1]])).dataSync()[0]).toBeCloseTo(kl, 5);
    expect(klLoss(p, logq).dataSync()[0]).toBeCloseTo(kl / 2, 5);
  });

  it("sparsifies to the top k and maps latents to steps", () => {
    expect([...sparsifyTopk([0.1, 0.6, 0.3, 0.0], 2)].map((x) => +x.toFixed(4))).toEqual([0, 0.6667, 0.3333, 0]);
    expect([0, 1, 2, 3].map((k) => stepForLatent(k, 4, 2))).toEqual([0, 0, 1, 1]);
    expect([0, 1, 2, 3].map((k) => stepForLatent(k, 4, 4))).toEqual([0, 1, 2, 3]);
    expect([0, 1, 2, 3].map((k) => stepForLatent(k, 4, 1))).toEqual([0, 0, 0, 0]);
    expect(stepForLatent(0, 1, 3)).toBe(0);
  });
});
