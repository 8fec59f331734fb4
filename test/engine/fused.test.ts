import { describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import { loadNativeAddon } from "../../src/engine/addon.js";
import { fusedGelu, fusedRmsNorm, fusedRotary, fusedSwigluAct } from "../../src/engine/kernels/fused.js";
import { adamwUpdate, adamwUpdateJs, geluOps, rmsNormOps, rotaryOps, silu, sumOfSquares, type AdamWStep } from "../../src/engine/ops.js";
import { makeRotary } from "../../src/model/nn.js";

function close(a: tf.Tensor, b: tf.Tensor, tol = 1e-4): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i]), `index ${i}`).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
}

describe("fused layers match their tfjs formulation", async () => {
  const { addon } = loadNativeAddon();
  const run = addon ? it : it.skip;
  if (process.env.LAVIT_EXPECT_NATIVE === "1") it("has the addon", () => expect(addon).not.toBeNull());

  run("RMSNorm, forward and gradients (x and weight), odd sizes", () => {
    for (const shape of [
      [3, 7, 33],
      [1, 1, 5],
      [2, 130],
    ]) {
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

  run("GELU's gradient from the tanh the forward pass kept has the bits of computing it again", () => {
    const n = 70_000; // above the pool's grain, so both threads take part
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 9);
    x.set([0, -0, 1e30, -1e30, NaN, Infinity, -Infinity, 1e-30]);
    const dy = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 4.1414));
    const out = new Float32Array(n);
    const tanh = new Float32Array(n);
    const plain = new Float32Array(n);
    addon!.gelu(x, out, tanh);
    addon!.gelu(x, plain);
    expect(Array.from(out)).toEqual(Array.from(plain));
    const kept = new Float32Array(n);
    const again = new Float32Array(n);
    addon!.geluGrad(dy, x, kept, tanh);
    addon!.geluGrad(dy, x, again);
    expect(Array.from(kept)).toEqual(Array.from(again));
    // and it is the kept tanh that is read: another one gives another gradient
    const other = new Float32Array(n);
    addon!.geluGrad(dy, x, other, new Float32Array(n));
    expect(Array.from(other)).not.toEqual(Array.from(again));
  });

  run("rotary positions, forward and gradient, with a cache offset", () => {
    for (const [t, hd, offset] of [
      [7, 8, 0],
      [1, 4, 5],
      [33, 16, 2],
    ]) {
      const rot = makeRotary(t, hd, 10000, offset);
      const x = tf.randomNormal([2, 3, t, hd], 0, 1, "float32", 7) as tf.Tensor4D;
      const dy = tf.randomNormal([2, 3, t, hd], 0, 1, "float32", 8);
      close(fusedRotary(addon!, x, rot.cos, rot.sin), rotaryOps(x, rot.cos, rot.sin));
      close(
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedRotary(addon!, a as tf.Tensor4D, rot.cos, rot.sin), dy)))(x),
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(rotaryOps(a as tf.Tensor4D, rot.cos, rot.sin), dy)))(x),
      );
    }
  });

  run("rotary positions on token-major heads [B, T, H, hd], forward and gradient", () => {
    const rot = makeRotary(9, 6, 10000, 3);
    const x = tf.randomNormal([2, 9, 5, 6], 0, 1, "float32", 9) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 9, 5, 6], 0, 1, "float32", 10);
    close(fusedRotary(addon!, x, rot.cos, rot.sin, true), rotaryOps(x, rot.cos, rot.sin, true));
    // the same rotation as on head-major heads
    const headMajor = (t: tf.Tensor) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D;
    close(headMajor(fusedRotary(addon!, x, rot.cos, rot.sin, true)), rotaryOps(headMajor(x), rot.cos, rot.sin));
    close(
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedRotary(addon!, a as tf.Tensor4D, rot.cos, rot.sin, true), dy)))(x),
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(rotaryOps(a as tf.Tensor4D, rot.cos, rot.sin, true), dy)))(x),
    );
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

  run("AdamW's update and the sum of squares match their JS formulation, on sizes across the thread split", () => {
    const rng = (seed: number, n: number, scale = 1) => {
      let x = seed;
      return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * scale);
    };
    for (const n of [1, 37, 2 * 16384 + 3]) {
      const step: AdamWStep = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, gradScale: 0.37 };
      const p0 = rng(1, n);
      const g = rng(2, n, 4);
      const m0 = rng(3, n, 0.1);
      const v0 = rng(4, n, 0.01).map(Math.abs);
      const [pn, mn, vn] = [Float32Array.from(p0), Float32Array.from(m0), Float32Array.from(v0)];
      const [pj, mj, vj] = [Float32Array.from(p0), Float32Array.from(m0), Float32Array.from(v0)];
      addon!.adamw(pn, g, mn, vn, step.lr, step.beta1, step.beta2, step.eps, step.weightDecay, step.bc1, step.bc2, step.gradScale);
      adamwUpdateJs(pj, g, mj, vj, step);
      for (const [a, b, what] of [
        [pn, pj, "p"],
        [mn, mj, "m"],
        [vn, vj, "v"],
      ] as const)
        for (let i = 0; i < n; i++) expect(Math.abs(a[i] - b[i]), `${what}[${i}] of ${n}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b[i])));
      const js = g.reduce((acc, x) => acc + x * x, 0);
      expect(Math.abs(addon!.sumSquares(g) - js)).toBeLessThanOrEqual(1e-9 * js);
    }
  });
});

describe("the engine's ops on the JS tier (no addon loaded)", () => {
  it("run the tfjs formulation: AdamW's update is adamwUpdateJs's, and the sum of squares is exact", () => {
    const step: AdamWStep = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, bc1: 0.1, bc2: 0.001, gradScale: 1 };
    const p = Float32Array.from([1, -2]);
    const q = Float32Array.from([1, -2]);
    adamwUpdate(p, Float32Array.from([0.5, -1]), new Float32Array(2), new Float32Array(2), step);
    adamwUpdateJs(q, Float32Array.from([0.5, -1]), new Float32Array(2), new Float32Array(2), step);
    expect(Array.from(p)).toEqual(Array.from(q));
    // Adam's first step moves by lr against the gradient's sign, after the decay.
    expect(p[0]).toBeCloseTo(1 * (1 - 0.05) - 0.1, 5);
    expect(sumOfSquares([Float32Array.from([3, 0]), Float32Array.from([4])])).toBe(25);
  });
});
