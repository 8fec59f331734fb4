import { describe, expect, it } from "vitest";
import { initEngine, tf } from "../../src/engine/index.js";
import { fusedGelu, fusedRmsNorm, fusedRotary, fusedSwigluAct } from "../../src/model/fused.js";
import { applyRotaryOps, geluOps, makeRotary, rmsNormOps, silu } from "../../src/model/nn.js";

function close(a: tf.Tensor, b: tf.Tensor, tol = 1e-4): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i]), `index ${i}`).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
}

describe("fused layers match their tfjs formulation", async () => {
  const { addon } = await initEngine();
  const run = addon ? it : it.skip;
  if (process.env.LAVIT_EXPECT_NATIVE === "1") it("has the addon", () => expect(addon).not.toBeNull());

  run("RMSNorm, forward and gradients (x and weight), odd sizes", () => {
    for (const shape of [[3, 7, 33], [1, 1, 5], [2, 130]]) {
      const x = tf.randomNormal(shape, 0, 2, "float32", 1);
      const w = tf.randomNormal([shape[shape.length - 1]], 1, 0.5, "float32", 2);
      const dy = tf.randomNormal(shape, 0, 1, "float32", 3);
      close(fusedRmsNorm(addon!, x, w, 1e-6), rmsNormOps(x, w, 1e-6));
      const f = (fn: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(a, b), dy)))([x, w]);
      const [gx1, gw1] = f((a, b) => fusedRmsNorm(addon!, a, b, 1e-6));
      const [gx2, gw2] = f((a, b) => rmsNormOps(a, b, 1e-6));
      close(gx1, gx2);
      close(gw1, gw2, 1e-3);
    }
  });

  run("GELU and the SwiGLU activation, forward and gradients", () => {
    const x = tf.randomNormal([4, 37], 0, 3, "float32", 4);
    const u = tf.randomNormal([4, 37], 0, 1, "float32", 5);
    close(fusedGelu(addon!, x), geluOps(x));
    close(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedGelu(addon!, a), u)))(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(geluOps(a), u)))(x));
    close(fusedSwigluAct(addon!, x, u), tf.mul(silu(x), u));
    const [g1, u1] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(fusedSwigluAct(addon!, a, b))))([x, u]);
    const [g2, u2] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.mul(silu(a), b))))([x, u]);
    close(g1, g2);
    close(u1, u2);
  });

  run("rotary positions, forward and gradient, with a cache offset", () => {
    for (const [t, hd, offset] of [[7, 8, 0], [1, 4, 5], [33, 16, 2]]) {
      const rot = makeRotary(t, hd, 10000, offset);
      const x = tf.randomNormal([2, 3, t, hd], 0, 1, "float32", 7) as tf.Tensor4D;
      const dy = tf.randomNormal([2, 3, t, hd], 0, 1, "float32", 8);
      close(fusedRotary(addon!, x, rot.cos, rot.sin), applyRotaryOps(x, rot));
      close(
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedRotary(addon!, a as tf.Tensor4D, rot.cos, rot.sin), dy)))(x),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(applyRotaryOps(a as tf.Tensor4D, rot), dy)))(x),
      );
    }
  });

  run("leaves no tensors behind in a gradient step", () => {
    const x = tf.randomNormal([2, 3, 8], 0, 1, "float32", 6);
    const w = tf.variable(tf.ones([8]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(fusedGelu(addon!, fusedRmsNorm(addon!, x, w, 1e-6))) as tf.Scalar, [w]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
