import { describe, expect, it, beforeAll } from "vitest";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { teacherTask } from "../../src/train/teacher.js";
import { train } from "../../src/train/trainer.js";
import { warmupCosine } from "../../src/train/lr.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";
import { timelessMetrics, trainOptions } from "../helpers/training.js";
import { runCli } from "../helpers/cli.js";

const tiny = (vocab: number) => tinyConfig(vocab, { hidden: 16, layers: 1, maxPositions: 64 });

const opts = trainOptions({ warmup: 2 });

describe("trainer", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 20, train: 4, test: 4 });
  });

  it("train teacher --init-from starts from a model folder and refuses a different config", () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-init-"));
    const cfgFile = join(root, "tiny.json");
    writeFileSync(cfgFile, JSON.stringify(tiny(data.tokenizer.size)));
    const common = ["train", "teacher", "--data", data.dir, "--config", cfgFile, "--steps", "2", "--warmup", "0", "--batch-size", "4", "--quiet"];
    const first = runCli([...common, "--out", join(root, "a")]);
    expect(first.status, first.stderr).toBe(0);
    const second = runCli([...common, "--out", join(root, "b"), "--init-from", join(root, "a")]);
    expect(second.status, second.stderr).toBe(0);
    const other = tiny(data.tokenizer.size);
    other.decoder.ffn_size = 48;
    writeFileSync(cfgFile, JSON.stringify(other));
    const bad = runCli([...common, "--out", join(root, "c"), "--init-from", join(root, "a")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--init-from .*config\.json \(vision, decoder\) differs/);
  });

  it("warms up linearly then decays by cosine to the floor", () => {
    expect(warmupCosine(0, 100, 1, 10)).toBeCloseTo(0.1);
    expect(warmupCosine(9, 100, 1, 10)).toBeCloseTo(1);
    expect(warmupCosine(10, 100, 1, 10, 0.1)).toBeCloseTo(1);
    expect(warmupCosine(99, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
    expect(warmupCosine(54.5, 100, 1, 10, 0)).toBeCloseTo(0.5);
  });

  it("resumes after a crash to the same final loss and metrics as an uninterrupted run", async () => {
    const straightDir = mkdtempSync(join(tmpdir(), "lavit-run-"));
    const a = buildVlm(tiny(data.tokenizer.size), 0);
    const straight = await train(straightDir, teacherTask(a, data), opts);
    a.dispose();

    const crashDir = mkdtempSync(join(tmpdir(), "lavit-run-"));
    const b = buildVlm(tiny(data.tokenizer.size), 0);
    // Crash after step 4: the last checkpoint is step 3, so step 4 is done again on resume.
    const first = await train(crashDir, teacherTask(b, data), { ...opts, haltAfter: 4 });
    expect(first.halted).toBe(true);
    b.dispose();
    await expect(train(crashDir, teacherTask(buildVlm(tiny(data.tokenizer.size), 0), data), opts)).rejects.toThrow(/--resume/);
    await expect(train(crashDir, teacherTask(buildVlm(tiny(data.tokenizer.size), 0), data), { ...opts, resume: true, lr: 1e-3 })).rejects.toThrow(/--lr/);
    const c = buildVlm(tiny(data.tokenizer.size), 99); // other init: everything must come from the checkpoint
    const before = tf.memory().numTensors;
    const resumed = await train(crashDir, teacherTask(c, data), { ...opts, resume: true });
    expect(tf.memory().numTensors).toBe(before);
    c.dispose();
    expect(Math.abs(resumed.lastLoss - straight.lastLoss)).toBeLessThan(1e-4);
    const m1 = timelessMetrics(straightDir);
    const m2 = timelessMetrics(crashDir);
    expect(m2.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const loss = (m: typeof m1, i: number) => m[i].loss as number;
    for (let i = 0; i < 6; i++) expect(loss(m2, i)).toBeCloseTo(loss(m1, i), 5);
    expect(loss(m1, 5)).toBeLessThan(loss(m1, 0));
  });

  it("resumes from a moved copy of its inputs (compared by content), and refuses changed content", async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-moved-"));
    const base = join(root, "base");
    mkdirSync(join(base, "sub"), { recursive: true });
    writeFileSync(join(base, "model.safetensors"), "weights");
    writeFileSync(join(base, "sub", "config.json"), "{}");
    const task = (initFrom: string) => {
      const t = teacherTask(buildVlm(tiny(data.tokenizer.size), 0), data);
      t.settings = { ...t.settings, init_from: initFrom };
      return t;
    };
    const run = async (dir: string, initFrom: string, extra: object) => {
      const t = task(initFrom);
      try {
        return await train(dir, t, { ...opts, ...extra });
      } finally {
        t.store.dispose();
      }
    };
    const moved = join(root, "moved");
    cpSync(base, moved, { recursive: true });
    const a = join(root, "a");
    expect((await run(a, base, { haltAfter: 3 })).halted).toBe(true);
    const resumed = await run(a, moved, { resume: true });
    expect(resumed.halted).toBeFalsy();

    const b = join(root, "b");
    await run(b, base, { haltAfter: 3 });
    writeFileSync(join(moved, "sub", "config.json"), '{"changed":1}');
    await expect(run(b, moved, { resume: true })).rejects.toThrow(/init_from = .*base, not .*moved \(its content differs too\)/);
  });
});
