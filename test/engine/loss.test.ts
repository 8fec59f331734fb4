import { describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import { loadNativeAddon } from "../../src/engine/addon.js";
import { registerNativeKernels } from "../../src/engine/kernels/index.js";
import { fusedNll } from "../../src/engine/kernels/loss.js";
import { nllOps } from "../../src/engine/ops.js";
import { expectKernelsMatchTfjs } from "./helpers.js";

/** [N, V] and targets, some outside [0, V) (a one-hot row of zeros: loss 0, no gradient). */
const CASES: [number, number, number[]][] = [
  [5, 7, [0, 6, 3, -1, 7]],
  [3, 33, [32, 0, 17]],
  [9, 8, [1, 2, 3, 4, 5, 6, 7, 0, 3]],
  [2, 2, [1, 0]],
];

function withGrad(f: (x: tf.Tensor2D) => tf.Tensor, logits: tf.Tensor2D, w: tf.Tensor): tf.Tensor[] {
  return [f(logits), tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D), w)))(logits)];
}

describe("fused token cross-entropy", () => {
  const { addon } = loadNativeAddon();
  const run = addon ? it : it.skip;
  if (process.env.LAVIT_EXPECT_NATIVE === "1") it("has the addon", () => expect(addon).not.toBeNull());

  run("matches the tfjs formulation on tfjs's own kernels, loss and gradient", () => {
    CASES.forEach(([n, v, t], i) => {
      const logits = tf.randomNormal([n, v], 0, 3, "float32", i + 1) as tf.Tensor2D;
      const w = tf.randomUniform([n], 0, 2, "float32", i + 2);
      let native = true;
      expectKernelsMatchTfjs(
        () => ({ kernels: [], restore: () => void (native = false) }),
        `nll ${n}x${v}`,
        () => withGrad((x) => (native ? fusedNll(addon!, x, Int32Array.from(t)) : nllOps(x, tf.tensor1d(t, "int32"))), logits, w),
      );
    });
  });

  run("gives the formulation's bits on the pack's kernels, zeros' signs included", () => {
    const reg = registerNativeKernels(addon!);
    try {
      CASES.forEach(([n, v, t], i) => {
        const logits = tf.randomNormal([n, v], 0, 3, "float32", 10 + i) as tf.Tensor2D;
        const w = tf.tensor1d(Array.from({ length: n }, (_, j) => (j % 3 === 0 ? 0 : j % 3 === 1 ? -0.5 : 1.25)));
        const fused = withGrad((x) => fusedNll(addon!, x, Int32Array.from(t)), logits, w);
        const ref = withGrad((x) => nllOps(x, tf.tensor1d(t, "int32")), logits, w);
        fused.forEach((f, j) => expect(Array.from(f.dataSync()), `${n}x${v} output ${j}`).toEqual(Array.from(ref[j].dataSync())));
      });
    } finally {
      reg.restore();
    }
  });
});
