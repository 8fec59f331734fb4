import { describe, expect, it, beforeAll } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { encodePng } from "../../src/data/png.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { openSignals, readSignals, type SampleSignals } from "../../src/signals/layout.js";
import { lavitTask, latentTargets, signalsInMemory } from "../../src/train/student.js";
import { train } from "../../src/train/trainer.js";
import { teacherTask } from "../../src/train/teacher.js";
import { targetText } from "../../src/data/sample.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { randomTeacherSignals } from "../helpers/signals.js";
import { lavitSettings, metricLines, trainOptions } from "../helpers/training.js";
import { runCli } from "../helpers/cli.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { readSafetensors } from "../../src/io/safetensors.js";

const tiny = (vocab: number, latents = 0, teacherHidden = 24) => tinyConfig(vocab, { latents, teacherHidden });

describe("LaViT student training", () => {
  let data: LoadedSplit;
  let sigDir: string;
  let dataDir: string;
  beforeAll(async () => {
    await initEngine();
    dataDir = await tinyDataset({ teacherTrain: 4, train: 64, test: 4 });
    data = loadSplit(dataDir, "train");
    sigDir = mkdtempSync(join(tmpdir(), "lavit-st-sig-"));
    await randomTeacherSignals(data, sigDir);
  });

  it("reads a sample's signals only when a batch needs them, once while cached, and computes what the whole folder gives", () => {
    const all = readSignals(sigDir, 4).samples;
    const source = openSignals(sigDir, 4);
    const reads: number[] = [];
    const lazy = {
      size: all.length,
      vTopDim: all[0].vTop.dim,
      target: (i: number) => source.results[i].ground_truth_enriched,
      read: (i: number) => {
        reads.push(i);
        return source.read(i) as SampleSignals;
      },
    };
    const s = lavitSettings();
    const vlm = buildVlm(tiny(data.tokenizer.size, 2, 24), 3);
    const task = lavitTask(vlm, data, lazy, s, 10, 0, {});
    expect(reads).toEqual([]);
    const loss = (t: typeof task, batch: number[]) => tf.tidy(() => t.loss(batch, 0).total.dataSync()[0]);
    const a = loss(task, [3, 7, 11]);
    expect(reads).toEqual([3, 7, 11]);
    loss(task, [7, 3, 12]);
    expect(reads).toEqual([3, 7, 11, 12]);
    expect(a).toBe(loss(lavitTask(vlm, data, signalsInMemory(all), s, 10, 0, {}), [3, 7, 11]));
    vlm.dispose();
  });

  for (const trajSource of ["head", "attention"] as const) {
    it(`lowers CE, V_top and trajectory losses together (traj source ${trajSource})`, async () => {
      const signals = readSignals(sigDir, 4).samples;
      const s = lavitSettings({ trajSource }, { schedule: "linear", gatePrompt: true });
      const vlm = buildVlm(tiny(data.tokenizer.size, 2, 24), 1);
      const out = mkdtempSync(join(tmpdir(), "lavit-st-out-"));
      const steps = 40;
      await train(
        out,
        lavitTask(vlm, data, signalsInMemory(signals), s, steps, 0, {}),
        trainOptions({ steps, batchSize: 16, warmup: 2, weightDecay: 0, seed: 0, checkpointEvery: 100 }),
      );
      vlm.dispose();
      const m = metricLines(out);
      const avg = (key: string, from: number, to: number) => m.slice(from, to).reduce((a, r) => a + (r[key] as number), 0) / (to - from);
      for (const key of ["loss_ce", "loss_vtop", "loss_traj"]) expect(avg(key, steps - 5, steps), key).toBeLessThan(avg(key, 0, 5));
      expect(m[0].gate).toBe(0);
      expect(m[steps - 1].gate).toBe(1);
    });
  }

  it("with a frozen tower, cached image features give the live features' losses (LaViT and distill) and leak no tensors", () => {
    const signals = readSignals(sigDir, 4).samples;
    const s = lavitSettings({ wVtop: 0.3, wTraj: 0.3, trajSource: "attention" }, { schedule: "linear" });
    const vlm = buildVlm(tiny(data.tokenizer.size, 2, 24), 3);
    const indices = [5, 0, 63, 17, 5];
    const tasks = [
      [lavitTask(vlm, data, signalsInMemory(signals), s, 10, 0, {}), lavitTask(vlm, data, signalsInMemory(signals), s, 10, 0, {}, true)],
      [teacherTask(vlm, data, {}), teacherTask(vlm, data, { frozenVision: true })],
    ];
    for (const [live, cached] of tasks) {
      expect(live.frozen).toBeUndefined();
      expect(cached.frozen?.("vision.post_layernorm.weight")).toBe(true);
      expect(cached.frozen?.("lm_head.weight")).toBe(false);
      expect(() => cached.loss(indices, 3)).toThrow(/prepare\(\) must run/);
      cached.prepare!();
      const before = tf.memory().numTensors;
      const [a, b] = [live, cached].map((t) => tf.tidy(() => t.loss(indices, 3).total.dataSync()[0]));
      expect(Math.abs(a - b)).toBeLessThan(1e-5 * Math.max(1, Math.abs(a)));
      expect(tf.memory().numTensors).toBe(before);
    }
    vlm.dispose();
  });

  it("weighs the answer word with answerWeight (LaViT as distill)", () => {
    // The untrained teacher's texts rarely say "answer": give the samples their true targets.
    const signals = readSignals(sigDir, 4).samples.map((sig, i) => ({ ...sig, result: { ...sig.result, ground_truth_enriched: targetText(data.samples[i]) } }));
    const s = lavitSettings({ wVtop: 0, wTraj: 0 });
    const vlm = buildVlm(tiny(data.tokenizer.size, 2, 24), 3);
    const ce = (answerWeight: number) =>
      tf.tidy(
        () =>
          lavitTask(vlm, data, signalsInMemory(signals), { ...s, answerWeight }, 10, 0, {})
            .loss([1, 2, 3], 0)
            .total.dataSync()[0],
      );
    const [one, five] = [ce(1), ce(5)];
    vlm.dispose();
    // A weighted mean: five times the weight on one token per sequence moves the loss, and an untrained model's answer word is no easier than the rest.
    expect(Math.abs(five - one)).toBeGreaterThan(1e-4);
  });

  it("resumes a LaViT run (gate, latents and all) to the same final loss, and answers with ask --json", async () => {
    const signals = readSignals(sigDir, 4).samples;
    const s = lavitSettings({ wVtop: 0.3, wTraj: 0.3 }, { schedule: "cosine" });
    const o = trainOptions({ batchSize: 8, weightDecay: 0, seed: 4, checkpointEvery: 2 });
    const straightDir = mkdtempSync(join(tmpdir(), "lavit-st-r1-"));
    const a = buildVlm(tiny(data.tokenizer.size, 2, 24), 1);
    const straight = await train(straightDir, lavitTask(a, data, signalsInMemory(signals), s, o.steps, o.seed, {}), o);
    a.dispose();
    const crashDir = mkdtempSync(join(tmpdir(), "lavit-st-r2-"));
    const b = buildVlm(tiny(data.tokenizer.size, 2, 24), 1);
    await train(crashDir, lavitTask(b, data, signalsInMemory(signals), s, o.steps, o.seed, {}), { ...o, haltAfter: 3 });
    b.dispose();
    const c = buildVlm(tiny(data.tokenizer.size, 2, 24), 7);
    const resumed = await train(crashDir, lavitTask(c, data, signalsInMemory(signals), s, o.steps, o.seed, {}), { ...o, resume: true });
    c.dispose();
    expect(Math.abs(resumed.lastLoss - straight.lastLoss)).toBeLessThan(1e-4);

    const image = join(dataDir, "train", data.samples[0].image);
    const r = runCli([
      "ask",
      "--model",
      crashDir,
      "--image",
      image,
      data.samples[0].question,
      "--json",
      "--heatmap",
      join(mkdtempSync(join(tmpdir(), "lavit-gaze-")), "gaze.png"),
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toHaveProperty("answer");
    expect(out.latent_steps).toHaveLength(2);
    expect(out.latent_steps[0].top_patches.length).toBeGreaterThan(0);
    const wrong = runCli(["ask", "--model", crashDir, "--image", join(dataDir, "..", "nope.png"), "what color is the circle ?"]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/nope\.png: cannot read/);
    const small = join(crashDir, "small.png");
    writeFileSync(small, encodePng(new Uint8Array(8 * 8 * 3), 8, 8));
    // Any image size is fitted to the model's, aspect kept (as `data import` does).
    const otherSize = runCli(["ask", "--model", crashDir, "--image", small, "--json", "what color is the circle ?"]);
    expect(otherSize.status, otherSize.stderr).toBe(0);
    expect(JSON.parse(otherSize.stdout)).toHaveProperty("answer");
  });

  it("pools V_top with the step's attention, or takes the mean", () => {
    const sig = readSignals(sigDir, 4).samples[0];
    const base = lavitSettings({ latents: 1, vtopTarget: "mean" });
    const mean = latentTargets(sig, base).vtop;
    const { rows, dim, data: v } = sig.vTop;
    for (let j = 0; j < dim; j++) expect(mean[j]).toBeCloseTo(Array.from({ length: rows }, (_, r) => v[r * dim + j]).reduce((a, b) => a + b, 0) / rows, 4);
    const pooled = latentTargets(sig, { ...base, vtopTarget: "pooled" }).vtop;
    const p = sig.steps[0];
    expect(pooled[0]).toBeCloseTo(
      Array.from({ length: rows }, (_, r) => p[r] * v[r * dim]).reduce((a, b) => a + b, 0),
      4,
    );
  });

  it("takes its size from the --init-from base, on a fresh start and on --resume; its encoder stays frozen unless --no-freeze-vision", () => {
    const baseDir = mkdtempSync(join(tmpdir(), "lavit-st-base-"));
    const cfg = tiny(data.tokenizer.size);
    const base = buildVlm({ ...cfg, vision: { ...cfg.vision, hidden_size: 20, mlp_size: 40 } }, 0);
    saveModel(baseDir, base.config, base.store, data.tokenizer, 0);
    base.dispose();
    const out = join(mkdtempSync(join(tmpdir(), "lavit-st-sized-")), "s");
    const args = [
      "train",
      "student",
      "--signals",
      sigDir,
      "--data",
      dataDir,
      "--init-from",
      baseDir,
      "--latents",
      "1",
      "--steps",
      "2",
      "--warmup",
      "0",
      "--batch-size",
      "4",
      "--checkpoint-every",
      "1",
      "--quiet",
      "--out",
      out,
    ];
    const r = runCli([...args, "--no-freeze-vision"]);
    expect(r.status, r.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(saved.vision.hidden_size).toBe(20);
    expect(saved.latent).toEqual({ num_latents: 1, teacher_hidden_size: 24 });
    const again = runCli([...args, "--no-freeze-vision", "--resume"]);
    expect(again.status, again.stderr).toBe(0);

    // By default a student starting from a base keeps its encoder bit for bit; the rest has trained.
    const frozenOut = join(mkdtempSync(join(tmpdir(), "lavit-st-frozen-")), "s");
    const frozen = runCli([...args.slice(0, -1), frozenOut]);
    expect(frozen.status, frozen.stderr).toBe(0);
    const tensors = (dir: string) => readSafetensors(join(dir, "model.safetensors")).tensors;
    const before = tensors(baseDir);
    const after = tensors(frozenOut);
    const visionNames = [...before.keys()].filter((n) => n.startsWith("vision."));
    expect(visionNames.length).toBeGreaterThan(5);
    for (const name of visionNames) expect([...(after.get(name)!.data as Float32Array)], name).toEqual([...(before.get(name)!.data as Float32Array)]);
    expect([...(after.get("lm_head.weight")!.data as Float32Array)]).not.toEqual([...(before.get("lm_head.weight")!.data as Float32Array)]);
    const unfrozen = tensors(out);
    expect([...(unfrozen.get("vision.post_layernorm.weight")!.data as Float32Array)]).not.toEqual([
      ...(before.get("vision.post_layernorm.weight")!.data as Float32Array),
    ]);
    const scratch = runCli([
      "train",
      "student",
      "--signals",
      sigDir,
      "--data",
      dataDir,
      "--init-from",
      "none",
      "--steps",
      "2",
      "--warmup",
      "0",
      "--freeze-vision",
      "--out",
      join(frozenOut, "x"),
    ]);
    expect(scratch.status).toBe(2);
    expect(scratch.stderr).toMatch(/--freeze-vision needs --init-from/);
  });

  it("refuses contradictory flags and mismatched signals with exit code 2", () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-st-cli-")), "s");
    const r = runCli(["train", "student", "--mode", "distill", "--w-traj", "0.5", "--signals", sigDir, "--data", dataDir, "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--w-traj has no meaning with --mode distill/);
    // a teacher whose width (32) disagrees with the V_top files (24)
    const teacherDir = mkdtempSync(join(tmpdir(), "lavit-st-t-"));
    const wide = buildVlm({ ...tiny(data.tokenizer.size), decoder: { ...tiny(data.tokenizer.size).decoder, hidden_size: 32 } }, 0);
    saveModel(teacherDir, wide.config, wide.store, data.tokenizer, 0);
    wide.dispose();
    const r2 = runCli(["train", "student", "--signals", sigDir, "--data", dataDir, "--teacher", teacherDir, "--out", out]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/V_top width 24 disagrees with the teacher config/);
  });
});
