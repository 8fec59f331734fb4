import { describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import { loadNativeAddon, type NativeAddon } from "../../src/engine/addon.js";
import { fusedAttention, fusedAttentionWithMean, biasStrides } from "../../src/engine/kernels/attention.js";
import { registerNativeKernels } from "../../src/engine/kernels/index.js";
import { attention, attentionScale, attentionWithMean } from "../../src/engine/ops.js";
import { causalBias, NEG_INF } from "../../src/model/nn.js";
import { expectKernelsMatchTfjs } from "./helpers.js";

/** [B, T, Tk, H, Hkv, hd] and the bias shape (none, causal [T, Tk], per batch, per head). */
const CASES: { dims: [number, number, number, number, number, number]; bias: "none" | "causal" | "batch" | "head" }[] = [
  { dims: [2, 7, 7, 3, 3, 6], bias: "causal" },
  { dims: [1, 5, 5, 4, 2, 4], bias: "batch" },
  { dims: [3, 1, 1, 2, 2, 8], bias: "none" },
  { dims: [2, 9, 9, 2, 1, 10], bias: "none" },
  { dims: [1, 3, 5, 2, 2, 4], bias: "head" },
  { dims: [2, 33, 33, 4, 4, 16], bias: "causal" },
];

function inputs(dims: (typeof CASES)[number]["dims"], kind: (typeof CASES)[number]["bias"], seed: number) {
  const [b, t, tk, h, hkv, hd] = dims;
  const q = tf.randomNormal([b, t, h, hd], 0, 1.5, "float32", seed) as tf.Tensor4D;
  const k = tf.randomNormal([b, tk, hkv, hd], 0, 1.5, "float32", seed + 1) as tf.Tensor4D;
  const v = tf.randomNormal([b, tk, hkv, hd], 0, 1, "float32", seed + 2) as tf.Tensor4D;
  const dy = tf.randomNormal([b, t, h * hd], 0, 1, "float32", seed + 3);
  let bias: tf.Tensor | undefined;
  if (kind === "causal") bias = causalBias(t, tk - t);
  if (kind === "batch") {
    // a causal mask plus a gate that hides some keys from some rows, per batch item
    const gate = tf.greater(tf.randomUniform([b, 1, t, tk], 0, 1, "float32", seed + 4), 0.7);
    bias = tf.add(causalBias(t, tk - t), tf.mul(tf.cast(gate, "float32"), NEG_INF));
  }
  if (kind === "head") bias = tf.randomNormal([1, h, t, tk], 0, 2, "float32", seed + 5);
  return { q, k, v, dy, bias };
}

/** Output and the gradients for q, k and v of sum(attention * dy). */
function withGrads(f: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor, x: ReturnType<typeof inputs>): tf.Tensor[] {
  const out = f(x.q, x.k, x.v);
  const grads = tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(f(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), x.dy)))([
    x.q,
    x.k,
    x.v,
  ]);
  return [out, ...grads];
}

describe("fused attention", () => {
  const { addon } = loadNativeAddon();
  const run = addon ? it : it.skip;
  if (process.env.LAVIT_EXPECT_NATIVE === "1") it("has the addon", () => expect(addon).not.toBeNull());

  run("matches the tfjs formulation on tfjs's own kernels, forward and gradients, on odd shapes", () => {
    CASES.forEach(({ dims, bias }, i) => {
      const x = inputs(dims, bias, 10 * i + 1);
      const scale = attentionScale(dims[5]);
      let native = true;
      expectKernelsMatchTfjs(
        () => ({ kernels: [], restore: () => void (native = false) }),
        `attention ${dims.join("x")} bias ${bias}`,
        () => withGrads((q, k, v) => (native ? fusedAttention(addon!, q, k, v, x.bias, scale) : attention(q, k, v, x.bias)), x),
      );
    });
  });

  run("gives the formulation's bits on the pack's kernels when no kv head is shared", () => {
    const reg = registerNativeKernels(addon!);
    try {
      CASES.filter((c) => c.dims[3] === c.dims[4]).forEach(({ dims, bias }, i) => {
        const x = inputs(dims, bias, 100 + i);
        const fused = withGrads((q, k, v) => fusedAttention(addon!, q, k, v, x.bias, attentionScale(dims[5])), x);
        const ref = withGrads((q, k, v) => attention(q, k, v, x.bias), x);
        fused.forEach((t, j) => expect(Array.from(t.dataSync()), `${dims.join("x")} output ${j}`).toEqual(Array.from(ref[j].dataSync())));
      });
    } finally {
      reg.restore();
    }
  });

  run("leaves no tensors behind in a gradient step", () => {
    const x = inputs([2, 5, 5, 2, 2, 4], "causal", 7);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const g = tf.grads((q: tf.Tensor) => tf.sum(fusedAttention(addon!, q as tf.Tensor4D, x.k, x.v, x.bias, 0.5)))([x.q]);
      tf.dispose(g);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

type WithMean = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => { out: tf.Tensor3D; meanProbs: tf.Tensor3D };

/** Output, head-averaged probabilities, and the gradients for q, k and v of sum(out * dy) + sum(meanProbs * dm). */
function withMeanGrads(f: WithMean, x: ReturnType<typeof inputs>, dm: tf.Tensor): tf.Tensor[] {
  const r = f(x.q, x.k, x.v);
  const loss = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => {
    const o = f(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
    return tf.add(tf.sum(tf.mul(o.out, x.dy)), tf.sum(tf.mul(o.meanProbs, dm)));
  };
  return [r.out, r.meanProbs, ...tf.grads(loss)([x.q, x.k, x.v])];
}

/** A cotangent for the head means [B, T, Tk] like the grounding term's: on a few columns (the image), zero elsewhere. */
function meanCotangent(dims: (typeof CASES)[number]["dims"], seed: number): tf.Tensor {
  const [b, t, tk] = dims;
  const cols = tf.cast(tf.greater(tf.randomUniform([1, 1, tk], 0, 1, "float32", seed), 0.4), "float32");
  return tf.mul(tf.randomNormal([b, t, tk], 0, 3, "float32", seed + 1), cols);
}

describe("fused attention with the head-averaged probabilities", () => {
  const { addon } = loadNativeAddon();
  const run = addon ? it : it.skip;

  run("matches the tfjs formulation (tf.mean over heads) on tfjs's own kernels, values and gradients, on odd shapes, every mask", () => {
    CASES.forEach(({ dims, bias }, i) => {
      const x = inputs(dims, bias, 10 * i + 3);
      const dm = meanCotangent(dims, 10 * i + 8);
      let native = true;
      expectKernelsMatchTfjs(
        () => ({ kernels: [], restore: () => void (native = false) }),
        `attention with means ${dims.join("x")} bias ${bias}`,
        () =>
          withMeanGrads(
            (q, k, v) => (native ? fusedAttentionWithMean(addon!, q, k, v, x.bias, attentionScale(dims[5])) : attentionWithMean(q, k, v, x.bias)),
            x,
            dm,
          ),
      );
    });
  });

  run("gives the formulation's bits on the pack's kernels when no kv head is shared", () => {
    const reg = registerNativeKernels(addon!);
    try {
      CASES.filter((c) => c.dims[3] === c.dims[4]).forEach(({ dims, bias }, i) => {
        const x = inputs(dims, bias, 200 + i);
        const dm = meanCotangent(dims, 300 + i);
        const fused = withMeanGrads((q, k, v) => fusedAttentionWithMean(addon!, q, k, v, x.bias, attentionScale(dims[5])), x, dm);
        const ref = withMeanGrads((q, k, v) => attentionWithMean(q, k, v, x.bias), x, dm);
        fused.forEach((t, j) => expect(Array.from(t.dataSync()), `${dims.join("x")} output ${j}`).toEqual(Array.from(ref[j].dataSync())));
      });
    } finally {
      reg.restore();
    }
  });

  run("returns fusedAttention's output and the mean of its probabilities over heads (rows summing to 1)", () => {
    const x = inputs([2, 6, 6, 3, 3, 4], "causal", 17);
    const r = fusedAttentionWithMean(addon!, x.q, x.k, x.v, x.bias, 0.5);
    expect(Array.from(r.out.dataSync())).toEqual(Array.from(fusedAttention(addon!, x.q, x.k, x.v, x.bias, 0.5).dataSync()));
    const m = r.meanProbs.arraySync();
    expect(r.meanProbs.shape).toEqual([2, 6, 6]);
    for (const rows of m)
      rows.forEach((row, i) => {
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        // causal: nothing after the query's own position
        row.slice(i + 1).forEach((p) => expect(p).toBe(0));
      });
  });

  run("refuses a native pack built before the head means, rather than read means it never wrote", () => {
    const x = inputs([1, 3, 3, 2, 2, 4], "causal", 9);
    type Args = Parameters<NativeAddon["attention"]>;
    const older: NativeAddon = { ...addon!, attention: (...a: Args) => void addon!.attention(...(a.slice(0, 9) as Args)) };
    expect(() => fusedAttentionWithMean(older, x.q, x.k, x.v, x.bias, 0.5)).toThrow(/older than this lavit.*npm run build:native/);
  });

  run("leaves no tensors behind in a gradient step, with or without a gradient reaching the means", () => {
    const x = inputs([2, 5, 5, 2, 2, 4], "causal", 7);
    const before = tf.memory().numTensors;
    for (const useMean of [true, false, true]) {
      const g = tf.grads((q: tf.Tensor) => {
        const r = fusedAttentionWithMean(addon!, q as tf.Tensor4D, x.k, x.v, x.bias, 0.5);
        return useMean ? tf.add(tf.sum(r.out), tf.sum(tf.square(r.meanProbs))) : tf.sum(r.out);
      })([x.q]);
      tf.dispose(g);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("attention bias strides", () => {
  it("are 0 on broadcast axes and refuse shapes that do not broadcast", () => {
    expect(Array.from(biasStrides([5, 6], [2, 3, 5, 6])!)).toEqual([0, 0, 6, 1]);
    expect(Array.from(biasStrides([2, 1, 5, 6], [2, 3, 5, 6])!)).toEqual([30, 0, 6, 1]);
    expect(Array.from(biasStrides([2, 1, 1, 6], [2, 3, 5, 6])!)).toEqual([6, 0, 0, 1]);
    expect(biasStrides([4, 6], [2, 3, 5, 6])).toBeNull();
    expect(biasStrides([1, 1, 1, 5, 6], [2, 3, 5, 6])).toBeNull();
  });
});
