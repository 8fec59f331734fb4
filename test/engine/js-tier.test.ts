import { describe, expect, it } from "vitest";
import type { Tensor, Tensor4D } from "@tensorflow/tfjs-core";

// This file's worker runs the engine as a user with LAVIT_NATIVE=0 gets it (vitest isolates files).
process.env.LAVIT_NATIVE = "0";
const { initEngine, tf } = await import("../../src/engine/index.js");
const { activeAddon } = await import("../../src/engine/addon.js");
const ops = await import("../../src/engine/ops.js");

describe("the JS tier (LAVIT_NATIVE=0)", () => {
  it("registers the block copies and runs the fused ops as tfjs ops", async () => {
    const { info } = await initEngine();
    expect(info.tier).toBe("js");
    expect(info.kernels).toEqual(["Concat", "PadV2", "Slice"]);
    expect(activeAddon()).toBeNull();
    const x = tf.randomNormal([2, 3, 5, 6], 0, 1, "float32", 1) as Tensor4D;
    const w = tf.randomNormal([6], 1, 0.3, "float32", 2);
    expect(Array.from(ops.rmsNorm(x, w).dataSync())).toEqual(Array.from(ops.rmsNormOps(x, w).dataSync()));
    expect(Array.from(ops.gelu(x).dataSync())).toEqual(Array.from(ops.geluOps(x).dataSync()));
  });

  it("serves Slice, PadV2 and Concat (and their gradients) with the values of the plain index formulas", async () => {
    await initEngine();
    const v = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => i * 0.5 - 7);
    const x = tf.tensor3d(v, [3, 4, 5]);
    const at = (i: number, j: number, k: number) => v[(i * 4 + j) * 5 + k];
    // slice [1:3, 1:3, 2:5]
    const s = tf.slice(x, [1, 1, 2], [2, 2, 3]).arraySync() as number[][][];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) expect(s[i][j][k]).toBe(at(1 + i, 1 + j, 2 + k));
    // pad by [1,0],[0,2],[1,1] with 9
    const p = tf
      .pad(
        x,
        [
          [1, 0],
          [0, 2],
          [1, 1],
        ],
        9,
      )
      .arraySync() as number[][][];
    expect([p.length, p[0].length, p[0][0].length]).toEqual([4, 6, 7]);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 6; j++) for (let k = 0; k < 7; k++) expect(p[i][j][k]).toBe(i >= 1 && j < 4 && k >= 1 && k < 6 ? at(i - 1, j, k - 1) : 9);
    // concat on the middle axis, and its gradient (a split) scaled per part
    const y = tf.mul(x, -1);
    const c = tf.concat([x, y], 1).arraySync() as number[][][];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) for (let k = 0; k < 5; k++) expect(c[i][j][k]).toBe(j < 4 ? at(i, j, k) : -at(i, j - 4, k));
    const [ga, gb] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(tf.concat([a, b], 1), tf.reshape(tf.linspace(1, 8, 8), [1, 8, 1]))))([x, y]);
    const gaa = ga.arraySync() as number[][][];
    const gba = gb.arraySync() as number[][][];
    for (let j = 0; j < 4; j++) {
      expect(gaa[2][j][4]).toBe(j + 1);
      expect(gba[0][j][0]).toBe(j + 5);
    }
  });
});
