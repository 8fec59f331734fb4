import { describe, expect, it } from "vitest";
import { tf, initEngine } from "../../src/engine/index.js";
import { BENCH_CONFIGS, buildBenchLm, trainStep } from "../../src/bench/step.js";
import { AdamW } from "../../src/train/optim.js";
import { Rng } from "../../src/util/rng.js";

describe("training step", () => {
  it("has the reference parameter counts", async () => {
    await initEngine();
    for (const [name, expected] of [
      ["small", 920192],
      ["base", 3675392],
    ] as const) {
      const lm = buildBenchLm(BENCH_CONFIGS[name]);
      expect(lm.store.count()).toBe(expected);
      lm.dispose();
    }
  });

  it("keeps the live tensor count flat across steps and lowers the loss", async () => {
    await initEngine();
    const config = { vocab: 32, d: 32, heads: 2, layers: 2, ffn: 64, seq: 12, batch: 4 } as const;
    const lm = buildBenchLm(config as unknown as (typeof BENCH_CONFIGS)["small"], 3);
    const rng = new Rng(5);
    // a learnable pattern: next token = (token + 1) mod vocab
    const ids = new Int32Array(config.batch * (config.seq + 1));
    for (let b = 0; b < config.batch; b++) {
      let t = rng.int(0, config.vocab - 1);
      for (let s = 0; s <= config.seq; s++, t = (t + 1) % config.vocab) ids[b * (config.seq + 1) + s] = t;
    }
    const all = tf.tensor2d(ids, [config.batch, config.seq + 1], "int32");
    const inputs = tf.slice(all, [0, 0], [config.batch, config.seq]) as tf.Tensor2D;
    const targets = tf.reshape(tf.slice(all, [0, 1], [config.batch, config.seq]), [-1]) as tf.Tensor1D;
    const opt = new AdamW({ lr: 3e-3, weightDecay: 0.1 });
    const before = new Map([...lm.store.vars].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
    const counts: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) {
      losses.push(trainStep(lm, opt, inputs, targets));
      if (i < 3) counts.push(tf.memory().numTensors);
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    expect(losses[29]).toBeLessThan(losses[0] * 0.5);
    // every parameter must have been updated (a gradient keyed under the wrong name is silently skipped)
    for (const [name, v] of lm.store.vars) {
      const now = v.dataSync() as Float32Array;
      expect(
        now.some((x, i) => x !== before.get(name)![i]),
        name,
      ).toBe(true);
    }
    tf.dispose([all, inputs, targets]);
    lm.dispose();
  });
});
