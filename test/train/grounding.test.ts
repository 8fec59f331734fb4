import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf } from "../../src/engine/index.js";
import { activeAddon } from "../../src/engine/addon.js";
import { withKernelProfile } from "../../src/engine/profile.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { targetText } from "../../src/data/sample.js";
import { readoutRows } from "../../src/eval/gaze.js";
import { numPatches } from "../../src/model/config.js";
import { IMAGE_START, buildVlm } from "../../src/model/vlm.js";
import { groundBatch, groundingLoss, groundSteps, headMeans, stepImageMaps } from "../../src/train/grounding.js";
import { teacherTask } from "../../src/train/teacher.js";
import { train } from "../../src/train/trainer.js";
import { AdamW, clipScale, globalNorm } from "../../src/train/optim.js";
import { promptIds } from "../../src/model/sequence.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";
import { trainOptions } from "../helpers/training.js";

const tiny = (vocab: number) => tinyConfig(vocab, { hidden: 16, layers: 2, maxPositions: 64 });

describe("grounding term", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 24, train: 4, test: 4 });
  });

  it("reads each step from the positions extraction reads it from", () => {
    const n = numPatches(tiny(data.tokenizer.size).vision);
    const texts = data.samples.map((s) => targetText(s));
    const rows = readoutRows(data.tokenizer, data, texts, n);
    data.samples.forEach((s, i) => {
      const steps = groundSteps(texts[i].split(" "), promptIds(data.tokenizer, n, s.question).length, s.rationale);
      const withPatches = rows[i].stepPositions.filter((_, k) => s.rationale[k].patches.length > 0);
      expect(steps.map((x) => x.positions)).toEqual(withPatches);
      expect(steps.map((x) => x.patches)).toEqual(s.rationale.filter((r) => r.patches.length).map((r) => r.patches));
    });
  });

  it("maps a step as the mean over layers, heads and the step's rows, renormalised over the image", () => {
    const [b, h, t, n] = [1, 2, 8, 3];
    const layers = [0, 1].map((l) => {
      const v = Float32Array.from({ length: b * h * t * t }, (_, i) => ((i * 7 + l * 13) % 11) + 1);
      return tf.tensor4d(v, [b, h, t, t]);
    });
    const batch = groundBatch([[{ positions: [5, 6], patches: [1] }]], t, n);
    const got = stepImageMaps(headMeans(layers), batch.select, n).dataSync();
    const raw = new Float64Array(n);
    const all = layers.map((x) => x.dataSync());
    for (const a of all) for (let hh = 0; hh < h; hh++) for (const q of [5, 6]) for (let j = 0; j < n; j++) raw[j] += a[(hh * t + q) * t + IMAGE_START + j];
    const sum = raw.reduce((x, y) => x + y, 0);
    raw.forEach((v, j) => expect(got[j]).toBeCloseTo(v / sum, 5));
    const loss = groundingLoss(headMeans(layers), batch, n).dataSync()[0];
    expect(loss).toBeCloseTo(-Math.log(raw[1] / sum), 4);
    tf.dispose([...layers, batch.select, batch.mask, batch.weights]);
  });

  it("weight 0 leaves the loss as it was; a weight adds exactly w times the term to the same cross-entropy", () => {
    const vlm = buildVlm(tiny(data.tokenizer.size), 1);
    const idx = [0, 1, 2, 3];
    const value = (w: number | undefined) =>
      tf.tidy(() => {
        const r = teacherTask(vlm, data, w === undefined ? {} : { groundAttention: w }).loss(idx, 0);
        return { total: r.total.dataSync()[0], parts: Object.fromEntries(Object.entries(r.parts).map(([k, v]) => [k, v.dataSync()[0]])) };
      });
    const before = value(undefined);
    const zero = value(0);
    expect(zero.total).toBe(before.total);
    expect(Object.keys(zero.parts)).toEqual(["loss_ce"]);
    const on = value(0.5);
    expect(on.parts.loss_ce).toBeCloseTo(before.total, 5);
    expect(on.parts.loss_ground).toBeGreaterThan(0);
    expect(on.total).toBeCloseTo(on.parts.loss_ce + 0.5 * on.parts.loss_ground, 5);
    vlm.dispose();
  });

  it("the fused path gives the unfused path's losses and gradients bit for bit", () => {
    const vlm = buildVlm(tiny(data.tokenizer.size), 3);
    const idx = [0, 1, 2, 3, 5, 8];
    const step = (unfusedGrounding: boolean) => {
      const task = teacherTask(vlm, data, { groundAttention: 0.5, groundTarget: 0.8, auxPatchWeight: 1, answerWeight: 4, unfusedGrounding });
      let parts: Record<string, number> = {};
      const { value, grads } = task.store.grads(() => {
        const r = task.loss(idx, 0);
        parts = Object.fromEntries(Object.entries(r.parts).map(([k, v]) => [k, v.dataSync()[0]]));
        return r.total;
      });
      const out = { total: value.dataSync()[0], parts, grads: Object.fromEntries([...grads].map(([k, g]) => [k, Array.from(g.dataSync())])) };
      tf.dispose([value, ...grads.values()]);
      return out;
    };
    const fused = step(false);
    const unfused = step(true);
    expect(fused.parts.loss_ground).toBeGreaterThan(0);
    expect(fused.total).toBe(unfused.total);
    expect(fused.parts).toEqual(unfused.parts);
    expect(Object.keys(fused.grads).length).toBeGreaterThan(10);
    expect(fused.grads).toEqual(unfused.grads);
    vlm.dispose();
  });

  it("runs the decoder's attention on the fused kernel (the unfused path on the tfjs formulation's Softmax)", async (ctx) => {
    if (!activeAddon()) ctx.skip();
    const vlm = buildVlm(tiny(data.tokenizer.size), 3);
    const kernels = async (unfusedGrounding: boolean) => {
      const task = teacherTask(vlm, data, { groundAttention: 0.5, unfusedGrounding });
      const { table } = await withKernelProfile(() => tf.dispose(task.store.grads(() => task.loss([0, 1], 0).total).value));
      return new Map(table.map((r) => [r.kernel, r.calls]));
    };
    const fused = await kernels(false);
    const unfused = await kernels(true);
    const layers = tiny(data.tokenizer.size).decoder.num_layers;
    expect(fused.has("Softmax")).toBe(false);
    expect(fused.get("native:attention")).toBe(unfused.get("native:attention")! + layers);
    expect(unfused.get("Softmax")).toBe(layers);
    vlm.dispose();
  });

  it("keeps the live tensor count flat across training steps", () => {
    const vlm = buildVlm(tiny(data.tokenizer.size), 5);
    const task = teacherTask(vlm, data, { groundAttention: 0.5, auxPatchWeight: 1 });
    task.prepare?.();
    const opt = new AdamW({ lr: 1e-3, weightDecay: 0.05 });
    const counts: number[] = [];
    for (let s = 0; s < 4; s++) {
      const { value, grads } = task.store.grads(() => task.loss([s, s + 4, s + 8, s + 12], s).total);
      opt.step(task.store.vars, grads, clipScale(globalNorm(grads), 1));
      tf.dispose([value, ...grads.values()]);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    vlm.dispose();
  });

  it("training with it moves the steps' attention onto their patches (more than the cross-entropy alone does)", async () => {
    const opts = trainOptions({ steps: 25, batchSize: 8, lr: 5e-3, warmup: 2, minLrRatio: 0.5, weightDecay: 0, seed: 2, logEvery: 25, checkpointEvery: 25 });
    const idx = [...Array(data.samples.length).keys()];
    const ungrounded = (vlm: ReturnType<typeof buildVlm>) =>
      tf.tidy(() => teacherTask(vlm, data, { groundAttention: 1 }).loss(idx, 0).parts.loss_ground.dataSync()[0]);
    const start = ungrounded(buildVlm(tiny(data.tokenizer.size), 4));
    const run = async (w: number) => {
      const vlm = buildVlm(tiny(data.tokenizer.size), 4);
      await train(mkdtempSync(join(tmpdir(), "lavit-ground-")), teacherTask(vlm, data, { groundAttention: w }), opts);
      const v = ungrounded(vlm);
      vlm.dispose();
      return v;
    };
    const grounded = await run(1);
    const plain = await run(0);
    // -log(mass on the patches): lower is more mass on the steps' objects.
    expect(grounded).toBeLessThan(start - 0.3);
    expect(grounded).toBeLessThan(plain - 0.3);
  }, 60_000);
});

describe("grounding hinge", () => {
  /** One layer, one head: row `q` of sample b attends to the image as `maps[b][q]` (other rows: nothing). */
  function probs(maps: Record<number, number[]>[], t: number, n: number): tf.Tensor4D[] {
    const v = new Float32Array(maps.length * t * t);
    maps.forEach((rows, b) => {
      for (const [q, m] of Object.entries(rows)) for (let j = 0; j < n; j++) v[(b * t + Number(q)) * t + IMAGE_START + j] = m[j];
    });
    return [tf.tensor4d(v, [maps.length, 1, t, t])];
  }

  it("with a target below 1, a step with more mass than the target costs nothing and one with less costs -log(mass / target)", () => {
    const [n, t] = [4, IMAGE_START + 4 + 3];
    // Step 1 (row t-2): 0.8 on its patch 0, above the target. Step 2 (row t-1): 0.5 on patches 2 and 3, below it.
    const layers = probs([{ [t - 2]: [0.8, 0.2, 0, 0], [t - 1]: [0.25, 0.25, 0.25, 0.25] }], t, n);
    const batch = groundBatch(
      [
        [
          { positions: [t - 2], patches: [0] },
          { positions: [t - 1], patches: [2, 3] },
        ],
      ],
      t,
      n,
    );
    const at = (target: number) => groundingLoss(headMeans(layers), batch, n, target).dataSync()[0];
    expect(at(0.65)).toBeCloseTo(-Math.log(0.5 / 0.65) / 2, 5);
    expect(at(1)).toBeCloseTo((-Math.log(0.8) - Math.log(0.5)) / 2, 5);
    // At or below the lower mass, nothing is left to pull.
    expect(at(0.5)).toBeCloseTo(0, 6);
    expect(at(0.3)).toBe(0);
    tf.dispose([...layers, batch.select, batch.mask, batch.weights]);
  });

  it("averages over the steps a batch has, not the padding of shorter samples", () => {
    const [n, t] = [4, IMAGE_START + 4 + 3];
    // Sample 0 has two steps, sample 1 one: its second slot is padding and must not count.
    const layers = probs([{ [t - 2]: [0.5, 0.5, 0, 0], [t - 1]: [0.25, 0.25, 0.25, 0.25] }, { [t - 2]: [0.5, 0.25, 0.25, 0] }], t, n);
    const batch = groundBatch(
      [
        [
          { positions: [t - 2], patches: [0] },
          { positions: [t - 1], patches: [3] },
        ],
        [{ positions: [t - 2], patches: [0, 1] }],
      ],
      t,
      n,
    );
    expect(groundingLoss(headMeans(layers), batch, n).dataSync()[0]).toBeCloseTo((-Math.log(0.5) - Math.log(0.25) - Math.log(0.75)) / 3, 5);
    tf.dispose([...layers, batch.select, batch.mask, batch.weights]);
  });

  it("leaves out the steps without patches, keeping the others' positions", () => {
    const words = "look red circle ; look nothing ; look blue square ; answer yes".split(" ");
    const steps = groundSteps(words, 10, [{ patches: [3] }, { patches: [] }, { patches: [5, 6] }]);
    // Word w is predicted from position promptLength - 1 + w.
    expect(steps).toEqual([
      { positions: [9, 10, 11], patches: [3] },
      { positions: [16, 17, 18], patches: [5, 6] },
    ]);
  });
});
