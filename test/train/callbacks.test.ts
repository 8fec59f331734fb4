import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trainTeacher } from "../../src/stages/pretrain.js";
import { trainStudent, type StudentOptions } from "../../src/stages/train-student.js";
import type { EvalInfo, StepInfo } from "../../src/train/result.js";
import { UserError } from "../../src/errors.js";
import { tinyConfig } from "../helpers/tiny.js";
import { savedTeacherSignals, studentOptions, type TeacherFolders } from "../helpers/signals.js";
import { metricLines } from "../helpers/training.js";

const weights = (dir: string) => readFileSync(join(dir, "model.safetensors"));
const fresh = (name: string) => join(mkdtempSync(join(tmpdir(), "lavit-cb-")), name);

describe("training callbacks (onStep, onEval)", () => {
  let f: TeacherFolders;
  let data: string;
  let config: string;
  beforeAll(async () => {
    f = await savedTeacherSignals({ teacherTrain: 8, train: 8, test: 4 }, { layers: 1, prefix: "lavit-cb-" });
    data = f.data;
    config = join(f.root, "config.json");
    writeFileSync(config, JSON.stringify(tinyConfig(f.split.tokenizer.size, { hidden: 16, layers: 1 })));
  });

  const student = (o: Partial<StudentOptions>): StudentOptions => studentOptions(f, o);

  it("onStep sees every step's numbers and onEval every evaluation; the weights are the same bits as without them", async () => {
    const plain = student({ evalEvery: 2, evalLimit: 2 });
    await trainStudent(plain);
    const steps: StepInfo[] = [];
    const evals: EvalInfo[] = [];
    const order: string[] = [];
    const watched = student({
      evalEvery: 2,
      evalLimit: 2,
      // Async, and meddling with what it is given: neither may change the run.
      onStep: async (s) => {
        await new Promise((r) => setTimeout(r, 1));
        steps.push(structuredClone(s));
        order.push(`step ${s.step}`);
        s.loss = NaN;
        s.parts.loss_ce = 1e9;
      },
      onEval: (e) => {
        evals.push(structuredClone(e));
        order.push(`eval ${e.step}`);
        e.metrics.accuracy = -1;
      },
    });
    await trainStudent(watched);
    expect(weights(watched.out).equals(weights(plain.out))).toBe(true);

    const losses = metricLines(watched.out).filter((l) => l.kind === undefined);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, s] of steps.entries()) {
      const line = losses[i];
      expect(s).toMatchObject({ steps: 5, loss: line.loss, lr: line.lr, gradNorm: line.grad_norm });
      expect(s.parts).toEqual({ loss_ce: line.loss_ce, loss_vtop: line.loss_vtop, loss_traj: line.loss_traj, gate: line.gate });
      expect(s.elapsedSeconds).toBeGreaterThanOrEqual(0);
    }
    const evalLines = metricLines(watched.out).filter((l) => l.kind === "eval");
    expect(evals.map((e) => e.step)).toEqual([2, 4, 5]);
    for (const [i, e] of evals.entries()) {
      const { kind: _k, step: _s, ...metrics } = evalLines[i];
      expect(e.metrics).toEqual(metrics);
      expect(e.metrics).toMatchObject({ split: "test-ood", count: 2 });
    }
    expect(order).toEqual(["step 1", "step 2", "eval 2", "step 3", "step 4", "eval 4", "step 5", "eval 5"]);
  }, 120_000);

  it("a callback that throws stops the run with that step's checkpoint written", async () => {
    const o = student({
      checkpointEvery: 1,
      onStep: (s) => {
        if (s.step === 3) throw new Error("enough");
      },
    });
    await expect(trainStudent(o)).rejects.toThrow("enough");
    expect(JSON.parse(readFileSync(join(o.out, "trainer_state.json"), "utf8")).step).toBe(3);
  }, 120_000);

  it("trainTeacher calls onStep too, and trains the same bits", async () => {
    const base = { data, config, steps: 3, batchSize: 4, seed: 2, quiet: true };
    const plain = fresh("t");
    await trainTeacher({ ...base, out: plain });
    const seen: number[] = [];
    const watched = fresh("t");
    await trainTeacher({ ...base, out: watched, onStep: (s) => void seen.push(s.step) });
    expect(seen).toEqual([1, 2, 3]);
    expect(weights(watched).equals(weights(plain))).toBe(true);
  }, 120_000);

  it("refuses a callback that is not a function, and onEval where nothing evaluates", async () => {
    await expect(trainStudent(student({ onStep: 3 as never }))).rejects.toThrow(new UserError("onStep must be a function, got number"));
    await expect(trainStudent(student({ onEval: "log" as never }))).rejects.toThrow(new UserError("onEval must be a function, got string"));
    await expect(trainTeacher({ data, out: fresh("t"), onEval: () => {} } as never)).rejects.toThrow(new UserError('unknown teacher option "onEval"'));
  });
});
