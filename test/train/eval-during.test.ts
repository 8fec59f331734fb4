import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { duringTrainingEval } from "../../src/stages/student-eval.js";
import { trainStudent, type StudentOptions } from "../../src/stages/train-student.js";
import { teacherTask } from "../../src/train/teacher.js";
import { isLossLine, train, type TrainOptions } from "../../src/train/trainer.js";
import { tinyConfig } from "../helpers/tiny.js";
import { savedTeacherSignals, studentOptions, type TeacherFolders } from "../helpers/signals.js";
import { metricLines, timelessMetrics, trainOptions } from "../helpers/training.js";

describe("train student --eval-every", () => {
  let f: TeacherFolders;
  let data: string;
  let split: LoadedSplit;
  beforeAll(async () => {
    f = await savedTeacherSignals({ teacherTrain: 2, train: 8, test: 4 }, { layers: 2, prefix: "lavit-evalev-" });
    ({ data, split } = f);
  });

  const student = (o: Partial<StudentOptions>): StudentOptions => studentOptions(f, { teacher: f.teacher, ...o });

  it("logs eval lines every k steps and at the last, leaving the losses and weights bit for bit", async () => {
    const plain = student({});
    await trainStudent(plain);
    const before = tf.memory().numTensors;
    const probed = student({ evalEvery: 2, evalLimit: 3 });
    await trainStudent(probed);
    expect(tf.memory().numTensors).toBe(before);

    expect(readFileSync(join(probed.out, "model.safetensors")).equals(readFileSync(join(plain.out, "model.safetensors")))).toBe(true);
    const losses = timelessMetrics(probed.out).filter(isLossLine);
    expect(losses).toEqual(timelessMetrics(plain.out));
    const evals = metricLines(probed.out).filter((l) => l.kind === "eval");
    expect(evals.map((l) => l.step)).toEqual([2, 4, 5]);
    for (const e of evals) {
      expect(e).toMatchObject({ kind: "eval", split: "test-ood", count: 3 });
      for (const k of [
        "accuracy",
        "grounding_mass",
        "entropy",
        "js_to_teacher",
        "topk_iou",
        "thoughts_head.grounding_mass",
        "thoughts_head.js_to_teacher",
        "thoughts_attention.grounding_mass",
        "thoughts_attention.js_to_teacher",
      ])
        expect(typeof e[k], k).toBe("number");
      expect(e.accuracy as number).toBeGreaterThanOrEqual(0);
      expect(e.accuracy as number).toBeLessThanOrEqual(1);
    }
    // A finished run's result is its last loss line, not the eval line after it.
    const again = await trainStudent({ ...probed, resume: true });
    expect(again.alreadyFinished).toBe(true);
    expect(again.lastLoss).toBe(losses[losses.length - 1].loss);
  }, 120_000);

  it("test-pairs gives pair accuracy; a distill student has no thoughts figures", async () => {
    const o = student({ mode: "distill", latents: undefined, evalEvery: 5, evalSplit: "test-pairs", teacher: undefined });
    await trainStudent(o);
    const [e] = metricLines(o.out).filter((l) => l.kind === "eval");
    expect(e).toMatchObject({ step: 5, split: "test-pairs" });
    expect(typeof e.pair_accuracy).toBe("number");
    expect(Object.keys(e).some((k) => k.startsWith("thoughts_"))).toBe(false);
    expect(e.js_to_teacher).toBeUndefined();
  }, 120_000);

  it("reads a --no-traj student's thoughts by their attention alone (its head is never trained)", async () => {
    const o = student({ traj: false, evalEvery: 5 });
    await trainStudent(o);
    const [e] = metricLines(o.out).filter((l) => l.kind === "eval");
    expect(typeof e["thoughts_attention.grounding_mass"]).toBe("number");
    expect(Object.keys(e).some((k) => k.startsWith("thoughts_head"))).toBe(false);
  }, 120_000);

  it("refuses eval options without --eval-every", async () => {
    await expect(trainStudent(student({ evalSplit: "test-id" }))).rejects.toThrow(/--eval-split needs --eval-every/);
    await expect(trainStudent(student({ evalLimit: 2 }))).rejects.toThrow(/--eval-limit needs --eval-every/);
    await expect(trainStudent(student({ evalEvery: 1, evalSplit: "dev" as never }))).rejects.toThrow(/--eval-split must be one of/);
  });

  it("a resumed run neither repeats nor loses an evaluation, whenever it was stopped", async () => {
    const opts = trainOptions({ evalEvery: 1 });
    const cfg = tinyConfig(split.tokenizer.size, { hidden: 16, layers: 1, maxPositions: 64 });
    const run = async (dir: string, o: TrainOptions) => {
      const vlm = buildVlm(cfg, 0);
      const task = teacherTask(vlm, split);
      task.evaluate = duringTrainingEval(vlm, split.tokenizer, { data, split: "test-ood", limit: 2, latents: 0, headTrained: false });
      try {
        return await train(dir, task, o);
      } finally {
        vlm.dispose();
      }
    };
    const straight = mkdtempSync(join(tmpdir(), "lavit-evalev-run-"));
    await run(straight, opts);
    const evalSteps = (dir: string) =>
      metricLines(dir)
        .filter((l) => l.kind === "eval")
        .map((l) => l.step);
    expect(evalSteps(straight)).toEqual([1, 2, 3, 4, 5, 6]);

    // Stopped after step 4 (a checkpoint at 3), and killed while writing step 6's checkpoint,
    // after its eval line: both resume from step 3 and redo what follows exactly once.
    const halted = mkdtempSync(join(tmpdir(), "lavit-evalev-run-"));
    await run(halted, { ...opts, haltAfter: 4 });
    const torn = mkdtempSync(join(tmpdir(), "lavit-evalev-run-"));
    await expect(
      run(torn, {
        ...opts,
        checkpointHook: (stage, step) => {
          if (step === 6 && stage === "model") throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(evalSteps(torn)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const dir of [halted, torn]) {
      const before = tf.memory().numTensors;
      await run(dir, { ...opts, resume: true });
      expect(tf.memory().numTensors).toBe(before);
      expect(evalSteps(dir)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(timelessMetrics(dir)).toEqual(timelessMetrics(straight));
    }
  }, 120_000);
});
