import { describe, expect, it, beforeAll } from "vitest";
import { tf, initEngine } from "../../src/engine/index.js";
import { ParamStore } from "../../src/model/params.js";
import { rotary } from "../../src/engine/ops.js";
import { causalBias, initAttention, makeRotary, rmsNorm, selfAttention, NEG_INF } from "../../src/model/nn.js";
import { AdamW, clipScale, globalNorm } from "../../src/train/optim.js";
import { Rng } from "../../src/util/rng.js";

beforeAll(async () => {
  await initEngine();
});

describe("layers", () => {
  it("rmsNorm matches the formula", () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const w = tf.tensor1d([1, 0.5, 2, 1]);
    const y = rmsNorm(x, w).dataSync();
    const r = 1 / Math.sqrt((1 + 4 + 9 + 16) / 4 + 1e-6);
    [1 * r, 2 * r * 0.5, 3 * r * 2, 4 * r].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });

  it("rotary matches the rotate-half formula at every position", () => {
    const hd = 4;
    const rot = makeRotary(3, hd);
    const xv = [0.3, -1.2, 0.7, 2.0];
    const x = tf.tensor4d([...xv, ...xv, ...xv], [1, 1, 3, hd]);
    const y = rotary(x as tf.Tensor4D, rot.cos, rot.sin).dataSync();
    for (let p = 0; p < 3; p++) {
      for (let i = 0; i < hd; i++) {
        const freq = 1 / Math.pow(10000, (2 * (i % 2)) / hd);
        const ang = p * freq;
        const rotated = i < hd / 2 ? -xv[i + hd / 2] : xv[i - hd / 2];
        expect(y[p * hd + i]).toBeCloseTo(xv[i] * Math.cos(ang) + rotated * Math.sin(ang), 5);
      }
    }
  });

  it("attention is causal, sums to one, and a bias blocks exactly the masked keys", () => {
    const store = new ParamStore(new Rng(1));
    initAttention(store, "a", 8, 2, 2, true);
    const x = tf.randomNormal([2, 5, 8], 0, 1, "float32", 3) as tf.Tensor3D;
    const rot = makeRotary(5, 4);
    const mask = causalBias(5);
    const r = selfAttention(x, store, "a", { numHeads: 2, rotary: rot, bias: mask, returnProbs: true });
    const p = r.probs!.arraySync();
    for (const b of p)
      for (const h of b)
        h.forEach((row, i) => {
          expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
          row.forEach((v, j) => {
            if (j > i) expect(v).toBe(0);
          });
        });
    // block key 1 for query 3 only
    const extra = new Float32Array(25);
    extra[3 * 5 + 1] = NEG_INF;
    const bias = tf.add(mask, tf.tensor2d(extra, [5, 5]));
    const q = selfAttention(x, store, "a", { numHeads: 2, rotary: rot, bias, returnProbs: true }).probs!.arraySync();
    expect(q[0][0][3][1]).toBe(0);
    expect(q[0][0][4][1]).toBeGreaterThan(0);
    expect(q[0][0][3][0]).toBeGreaterThan(0);
  });

  it("cached decoding gives the same output as full attention at the last position", () => {
    const store = new ParamStore(new Rng(2));
    initAttention(store, "a", 8, 2, 1, true);
    const x = tf.randomNormal([1, 6, 8], 0, 1, "float32", 4) as tf.Tensor3D;
    const full = selfAttention(x, store, "a", { numHeads: 2, numKvHeads: 1, rotary: makeRotary(6, 4), bias: causalBias(6) }).out;
    const prefix = tf.slice(x, [0, 0, 0], [1, 5, 8]) as tf.Tensor3D;
    const first = selfAttention(prefix, store, "a", { numHeads: 2, numKvHeads: 1, rotary: makeRotary(5, 4), bias: causalBias(5), cache: true });
    const last = tf.slice(x, [0, 5, 0], [1, 1, 8]) as tf.Tensor3D;
    const step = selfAttention(last, store, "a", { numHeads: 2, numKvHeads: 1, rotary: makeRotary(1, 4, 10000, 5), past: first.present });
    const a = tf.slice(full, [0, 5, 0], [1, 1, 8]).dataSync();
    const b = step.out.dataSync();
    for (let i = 0; i < 8; i++) expect(b[i]).toBeCloseTo(a[i], 5);
  });
});

describe("AdamW", () => {
  it("matches torch.optim.AdamW's update computed by hand over two steps", () => {
    const p = tf.variable(tf.tensor1d([1.0, -2.0]));
    const opt = new AdamW({ lr: 0.1, weightDecay: 0.5 });
    const vars = new Map([["p", p]]);
    const grads1 = new Map([["p", tf.tensor1d([0.5, -1.0])]]);
    const grads2 = new Map([["p", tf.tensor1d([0.25, 2.0])]]);
    opt.step(vars, grads1);
    opt.step(vars, grads2);
    // by hand, PyTorch AdamW: p *= 1 - lr*wd; m,v EMAs; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
    const expected = [1.0, -2.0].map((p0, i) => {
      const g = [[0.5, -1.0][i], [0.25, 2.0][i]];
      let pv = p0,
        m = 0,
        v = 0;
      for (let t = 1; t <= 2; t++) {
        pv *= 1 - 0.1 * 0.5;
        m = 0.9 * m + 0.1 * g[t - 1];
        v = 0.999 * v + 0.001 * g[t - 1] ** 2;
        pv -= ((0.1 / (1 - 0.9 ** t)) * m) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      }
      return pv;
    });
    const got = p.dataSync();
    expect(got[0]).toBeCloseTo(expected[0], 5);
    expect(got[1]).toBeCloseTo(expected[1], 5);
    // first step by hand for element 0: 1*(0.95) - 0.1 * 1 = 0.85 (Adam's first step is lr*sign(g))
    expect(expected[0]).not.toBe(1);
  });

  it("clips by global norm like torch.nn.utils.clip_grad_norm_", () => {
    const g = new Map([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([4])],
    ]);
    const n = globalNorm(g);
    expect(n).toBeCloseTo(5, 6);
    expect(clipScale(n, 1)).toBeCloseTo(1 / (5 + 1e-6), 8);
    expect(clipScale(0.5, 1)).toBe(1);
  });
});
