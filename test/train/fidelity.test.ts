import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm, decoderForward, embedWithImage, IMAGE_START, projectVision, trajHeadLogits, visionForward, vtopHead } from "../../src/model/vlm.js";
import { promptIds, targetIds } from "../../src/model/sequence.js";
import { readSignals, type SampleSignals } from "../../src/signals/layout.js";
import { lavitTask, latentTargets, signalsInMemory, type LavitSettings } from "../../src/train/student.js";
import { twoStageLr, stageBoundary } from "../../src/train/two-stage.js";
import { train, type TrainTask } from "../../src/train/trainer.js";
import { ParamStore } from "../../src/model/params.js";
import { patchBatch } from "../../src/model/vlm.js";
import { Rng } from "../../src/util/rng.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { randomTeacherSignals } from "../helpers/signals.js";
import { lavitSettings } from "../helpers/training.js";

describe("two-stage schedule", () => {
  it("gives each stage its own warm-up + cosine, stage 2 at the ratio of the peak", () => {
    const o = { steps: 10, lr: 1, warmup: 0, minLrRatio: 0.1 };
    const s = { boundary: 4, lrRatio: 0.4, resetOptimizer: true };
    // Stage 1 (steps 0-3): cosine from 1 to 0.1 over its own 4 steps; stage 2 (4-9): from 0.4 to 0.04.
    expect(twoStageLr(0, o, s)).toBeCloseTo(1, 9);
    expect(twoStageLr(3, o, s)).toBeCloseTo(0.1, 9);
    expect(twoStageLr(4, o, s)).toBeCloseTo(0.4, 9);
    expect(twoStageLr(9, o, s)).toBeCloseTo(0.04, 9);
    // The warm-up is split in proportion: 5 steps of 10 -> 2 in stage 1, 3 in stage 2.
    const w = { ...o, warmup: 5 };
    expect(twoStageLr(0, w, s)).toBeCloseTo(0.5, 9);
    expect(twoStageLr(4, w, s)).toBeCloseTo(0.4 / 3, 9);
    expect(stageBoundary(0.4, 1000)).toBe(400);
    expect(stageBoundary(0.4, 20)).toBe(8);
  });

  it("the trainer follows a task's learning rate and resets the optimiser where it says", async () => {
    await initEngine();
    const store = new ParamStore(new Rng(1));
    store.normal("w", [3], 1);
    const task: TrainTask = {
      kind: "toy",
      settings: {},
      store,
      numSamples: 4,
      loss: () => ({ total: tf.sum(tf.square(store.get("w"))) as tf.Scalar, parts: {} }),
      lrAt: (step) => (step < 3 ? 0.1 : 0.01),
      resetOptimizerAt: [3],
      saveModel: () => undefined,
      loadModel: () => undefined,
    };
    const out = mkdtempSync(join(tmpdir(), "lavit-fid-tr-"));
    await train(out, task, {
      steps: 5,
      batchSize: 2,
      lr: 1,
      warmup: 0,
      minLrRatio: 0.1,
      weightDecay: 0,
      clip: 1e6,
      seed: 0,
      logEvery: 1,
      checkpointEvery: 100,
      resume: false,
      quiet: true,
    });
    const m = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { lr: number });
    expect(m.map((x) => x.lr)).toEqual([0.1, 0.1, 0.1, 0.01, 0.01]);
    // Adam's step count restarted at step 3: two updates since.
    expect(JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8")).adam_step).toBe(2);
  });
});

describe("official student choices", () => {
  let data: LoadedSplit;
  let signals: SampleSignals[];
  beforeAll(async () => {
    await initEngine();
    data = loadSplit(await tinyDataset({ teacherTrain: 2, train: 8, test: 2 }), "train");
    const dir = mkdtempSync(join(tmpdir(), "lavit-fid-sig-"));
    await randomTeacherSignals(data, dir);
    signals = readSignals(dir, 4).samples;
  });
  const base = lavitSettings({ wVtop: 0.3, wTraj: 0.3 }, { schedule: "two-stage", gatePrompt: true });

  it("two-stage trains CE plus the visual losses in both stages; two-stage-visual-only drops CE in stage 1 only", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { latents: 2 }), 2);
    const at = (schedule: "two-stage" | "two-stage-visual-only", step: number) =>
      tf.tidy(() => {
        const r = lavitTask(vlm, data, signalsInMemory(signals), { ...base, gate: { ...base.gate, schedule } }, 10, 0, {}).loss([0, 1, 2], step);
        const v = (t: tf.Scalar) => t.dataSync()[0];
        return { total: v(r.total), ce: v(r.parts.loss_ce), vtop: v(r.parts.loss_vtop), traj: v(r.parts.loss_traj) };
      });
    for (const step of [0, 4, 5, 9]) {
      const f = at("two-stage", step);
      expect(f.total, `two-stage step ${step}`).toBeCloseTo(f.ce + 0.3 * f.vtop + 0.3 * f.traj, 4);
      const v = at("two-stage-visual-only", step);
      const want = step < 5 ? 0.3 * v.vtop + 0.3 * v.traj : v.ce + 0.3 * v.vtop + 0.3 * v.traj;
      expect(v.total, `visual-only step ${step}`).toBeCloseTo(want, 4);
      expect(v.ce).toBeGreaterThan(0);
    }
    vlm.dispose();
  });

  it("blocks the question from the image in stage 1 only", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { latents: 2 }), 3);
    const ce = (gatePrompt: boolean, step: number) =>
      tf.tidy(
        () =>
          lavitTask(vlm, data, signalsInMemory(signals), { ...base, gate: { ...base.gate, gatePrompt } }, 10, 0, {})
            .loss([0, 1, 2], step)
            .parts.loss_ce.dataSync()[0],
      );
    expect(Math.abs(ce(true, 0) - ce(false, 0))).toBeGreaterThan(1e-6);
    expect(ce(true, 7)).toBeCloseTo(ce(false, 7), 6);
    vlm.dispose();
  });

  it("a shut gate leaves the latents' view of the image alone: their losses are those without a gate", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { latents: 2 }), 6);
    const visual = (gate: LavitSettings["gate"]) =>
      tf.tidy(() => {
        const r = lavitTask(vlm, data, signalsInMemory(signals), { ...base, gate }, 10, 0, {}).loss([0, 1, 2], 0);
        return [r.parts.loss_vtop.dataSync()[0], r.parts.loss_traj.dataSync()[0], r.parts.loss_ce.dataSync()[0]];
      });
    const open = visual({ schedule: "none", openAt: 0.5, mode: "hard", gatePrompt: false });
    const shut = visual({ schedule: "two-stage", openAt: 0.5, mode: "hard", gatePrompt: false });
    expect(shut[0]).toBeCloseTo(open[0], 6);
    expect(shut[1]).toBeCloseTo(open[1], 6);
    // The answer rows do lose the image.
    expect(Math.abs(shut[2] - open[2])).toBeGreaterThan(1e-6);
    vlm.dispose();
  });

  it("mean-last and first-last: targets are the mean V_top and step 1 whole, trained from the last latent only", () => {
    const s: LavitSettings = {
      ...base,
      latents: 3,
      vtopTarget: "mean-last",
      trajTarget: "first-last",
      trajTopk: 0,
      gate: { schedule: "none", openAt: 1, mode: "hard", gatePrompt: false },
    };
    const t = latentTargets(signals[0], s);
    const { rows, dim, data: v } = signals[0].vTop;
    const mean = Array.from({ length: dim }, (_, j) => Array.from({ length: rows }, (_, r) => v[r * dim + j]).reduce((a, b) => a + b, 0) / rows);
    for (let k = 0; k < 3; k++) {
      mean.forEach((m, j) => expect(t.vtop[k * dim + j]).toBeCloseTo(m, 5));
      // Not sparsified (top-k 0): the whole first step.
      expect(Array.from(t.traj.subarray(k * 16, (k + 1) * 16))).toEqual(Array.from(signals[0].steps[0]));
    }
    // The losses by hand, from the last latent's hidden state alone.
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { latents: 3 }), 4);
    const tok = data.tokenizer;
    const i = 1;
    const prompt = promptIds(tok, 16, data.samples[i].question, 3);
    const ids = [...prompt, ...targetIds(tok, signals[i].result.ground_truth_enriched)];
    const [wantV, wantT] = tf.tidy(() => {
      const x = embedWithImage(
        vlm,
        tf.tensor2d([ids], [1, ids.length], "int32"),
        projectVision(vlm, visionForward(vlm, patchBatch([data.images[i]], data.info.size, data.info.patch))),
      );
      const h = decoderForward(vlm, x).hidden;
      const hLast = tf.slice(h, [0, prompt.length - 1, 0], [1, 1, -1]) as tf.Tensor3D;
      const pred = vtopHead(vlm, hLast).dataSync() as Float32Array;
      const tgt = latentTargets(signals[i], s).vtop.subarray(0, signals[i].vTop.dim);
      const dot = pred.reduce((a, p, j) => a + p * tgt[j], 0);
      const cos = dot / Math.sqrt(pred.reduce((a, p) => a + p * p, 0) * tgt.reduce((a, q) => a + q * q, 0));
      const logq = trajHeadLogits(vlm, hLast, tf.slice(h, [0, IMAGE_START, 0], [1, 16, -1]) as tf.Tensor3D).dataSync() as Float32Array;
      const p = signals[i].steps[0];
      const kl = p.reduce((a, pj, j) => (pj > 0 ? a + pj * (Math.log(pj) - logq[j]) : a), 0);
      return [1 - cos, kl];
    });
    const got = tf.tidy(() => {
      const r = lavitTask(vlm, data, signalsInMemory(signals), s, 10, 0, {}).loss([i], 0);
      return [r.parts.loss_vtop.dataSync()[0], r.parts.loss_traj.dataSync()[0]];
    });
    expect(got[0]).toBeCloseTo(wantV, 4);
    expect(got[1]).toBeCloseTo(wantT, 3);
    vlm.dispose();
  });

  it("the official head form: its tensor names, a biased query and no 1/sqrt(d) scale", () => {
    const cfg = tinyConfig(data.tokenizer.size, { latents: 2, hidden: 4 });
    const official = buildVlm({ ...cfg, latent: { ...cfg.latent!, heads: "official" } }, 1);
    const lavit = buildVlm(cfg, 1);
    const names = (v: typeof lavit) =>
      [...v.store.vars.keys()].filter((k) => !k.startsWith("model.") && !k.startsWith("vision.") && !k.startsWith("multi_modal") && !k.startsWith("lm_head"));
    expect(names(official)).toEqual([
      "v_top_head.mlp.0.weight",
      "v_top_head.mlp.0.bias",
      "v_top_head.mlp.2.weight",
      "v_top_head.mlp.2.bias",
      "traj_head.query_proj.weight",
      "traj_head.query_proj.bias",
    ]);
    expect(names(lavit)).toEqual([
      "lavit.vtop_head.linear_1.weight",
      "lavit.vtop_head.linear_1.bias",
      "lavit.vtop_head.linear_2.weight",
      "lavit.vtop_head.linear_2.bias",
      "lavit.traj_head.q_proj.weight",
    ]);
    // Query = identity (+ bias for the official form): scores are h·img (+ b·img), the lavit form's are h·img / 2 (d = 4).
    const eye = tf.eye(4);
    official.store.get("traj_head.query_proj.weight").assign(eye);
    official.store.get("traj_head.query_proj.bias").assign(tf.tensor1d([1, 0, 0, 0]));
    lavit.store.get("lavit.traj_head.q_proj.weight").assign(eye);
    const h = tf.tensor3d([[[1, 2, 0, 0]]]);
    const img = tf.tensor3d([
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
      ],
    ]);
    const logSoftmax = (s: number[]) => {
      const z = Math.log(s.reduce((a, x) => a + Math.exp(x), 0));
      return s.map((x) => x - z);
    };
    const off3 = Array.from(trajHeadLogits(official, h, img).dataSync());
    logSoftmax([2, 2, 0]).forEach((x, j) => expect(off3[j]).toBeCloseTo(x, 5));
    const lav3 = Array.from(trajHeadLogits(lavit, h, img).dataSync());
    logSoftmax([0.5, 1, 0]).forEach((x, j) => expect(lav3[j]).toBeCloseTo(x, 5));
    tf.dispose([eye, h, img]);
    official.dispose();
    lavit.dispose();
  });
});
