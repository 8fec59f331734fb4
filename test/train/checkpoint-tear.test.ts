import { describe, expect, it, beforeAll } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { teacherTask } from "../../src/train/teacher.js";
import { CHECKPOINT_STAGES, train, type TrainOptions } from "../../src/train/trainer.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";
import { trainOptions } from "../helpers/training.js";
import { lockFileFor } from "../../src/util/lock.js";

const tiny = (vocab: number) => tinyConfig(vocab, { hidden: 16, layers: 1, maxPositions: 64 });
const opts = trainOptions({ steps: 4, seed: 5, checkpointEvery: 2 });

class Killed extends Error {}

describe("checkpoints", () => {
  let data: LoadedSplit;
  let straightLoss: number;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 12, train: 4, test: 4 });
    const vlm = buildVlm(tiny(data.tokenizer.size), 0);
    straightLoss = (await train(mkdtempSync(join(tmpdir(), "lavit-ck-")), teacherTask(vlm, data), opts)).lastLoss;
    vlm.dispose();
  });

  const run = async (dir: string, o: Partial<TrainOptions>) => {
    // A resumed run starts from other initial weights: everything must come from the checkpoint.
    const vlm = buildVlm(tiny(data.tokenizer.size), o.resume ? 7 : 0);
    try {
      return await train(dir, teacherTask(vlm, data), { ...opts, ...o });
    } finally {
      vlm.dispose();
    }
  };

  // The second checkpoint (step 4) is stopped after each of its files: the pointer must still
  // name a complete checkpoint (step 2 before the swap, step 4 after), and a resume reaches
  // the uninterrupted run's loss.
  for (const stage of CHECKPOINT_STAGES) {
    it(`a writer stopped after "${stage}" resumes to the same loss`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), "lavit-ck-")), "run");
      await expect(
        run(dir, {
          checkpointHook: (s, step) => {
            if (step === 4 && s === stage) throw new Killed(stage);
          },
        }),
      ).rejects.toBeInstanceOf(Killed);
      const state = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8"));
      const swapped = CHECKPOINT_STAGES.indexOf(stage) >= CHECKPOINT_STAGES.indexOf("pointer");
      expect(state.step).toBe(swapped ? 4 : 2);
      const r = await run(dir, { resume: true });
      if (swapped) expect(r.alreadyFinished).toBe(true);
      else expect(Math.abs(r.lastLoss - straightLoss)).toBeLessThan(1e-4);
      expect(readdirSync(join(dir, "checkpoints"))).toContain("step-00000004");
      // The model folder's own files are the finished step's.
      expect(readSafetensors(join(dir, "model.safetensors")).metadata.step).toBe("4");
    });
  }

  it("refuses a torn old-layout checkpoint and resumes a consistent one", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-ck-")), "run");
    await run(dir, { haltAfter: 2 });
    // Rebuild the layout an older lavit wrote: every file in the run folder, no pointer.
    const ck = join(dir, "checkpoints", "step-00000002");
    const state = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8"));
    delete state.checkpoint;
    writeFileSync(join(dir, "trainer_state.json"), JSON.stringify(state));
    writeFileSync(join(dir, "optimizer.safetensors"), readFileSync(join(ck, "optimizer.safetensors")));
    rmSync(join(dir, "checkpoints"), { recursive: true });
    const model = readSafetensors(join(dir, "model.safetensors"));
    // Torn: the model file is from a later step than the state.
    rmSync(join(dir, "model.safetensors"));
    writeSafetensors(join(dir, "model.safetensors"), model.tensors, { ...model.metadata, step: "3" });
    await expect(run(dir, { resume: true })).rejects.toThrow(
      /model\.safetensors is from step 3, but .*trainer_state\.json from step 2 \(a torn checkpoint, written by an older lavit\)/,
    );
    rmSync(join(dir, "model.safetensors"));
    writeSafetensors(join(dir, "model.safetensors"), model.tensors, model.metadata);
    const r = await run(dir, { resume: true });
    expect(Math.abs(r.lastLoss - straightLoss)).toBeLessThan(1e-4);
    expect(existsSync(join(dir, "optimizer.safetensors"))).toBe(false);
  });

  it("refuses to train into a folder another run holds", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-ck-")), "run");
    writeFileSync(lockFileFor(dir), JSON.stringify({ pid: 4242, host: "other-host", started: "earlier", token: "t", command: "train teacher" }));
    await expect(run(dir, {})).rejects.toThrow(/--out .*run is being written by another lavit run \(pid 4242 on other-host/);
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses a pointer whose step folder disagrees, and --resume of nothing", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-ck-")), "run");
    await run(dir, { haltAfter: 2 });
    const opt = join(dir, "checkpoints", "step-00000002", "optimizer.safetensors");
    const o = readSafetensors(opt);
    writeSafetensors(opt, o.tensors, { ...o.metadata, step: "1" });
    await expect(run(dir, { resume: true })).rejects.toThrow(/optimizer state is from step 1, the checkpoint from step 2/);
    rmSync(opt);
    await expect(run(dir, { resume: true })).rejects.toThrow(/optimizer\.safetensors is missing: the checkpoint is incomplete/);
    await expect(run(join(dir, "nope"), { resume: true })).rejects.toThrow(/does not exist, so there is no run to continue/);
    const foreign = mkdtempSync(join(tmpdir(), "lavit-ck-"));
    writeFileSync(join(foreign, "notes.txt"), "mine");
    await expect(run(foreign, {})).rejects.toThrow(/not empty and holds no lavit training run/);
    // A finished model whose run record is gone is never trained over, marker or not.
    rmSync(join(dir, "trainer_state.json"));
    await expect(run(dir, {})).rejects.toThrow(/holds a model \(model\.safetensors\) but no trainer_state\.json/);
    await expect(run(dir, { resume: true })).rejects.toThrow(/holds a model/);
    expect(readFileSync(join(foreign, "notes.txt"), "utf8")).toBe("mine");
  });

  it("links the files a checkpoint shares with the previous one instead of writing them again", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lavit-ck-")), "run");
    const inodes: Record<string, number[]> = { "config.json": [], "tokenizer.json": [], "model.safetensors": [] };
    await run(dir, {
      checkpointEvery: 1,
      checkpointHook: (s, step) => {
        if (s !== "step-folder") return;
        for (const name of Object.keys(inodes)) inodes[name].push(statSync(join(dir, "checkpoints", `step-${String(step).padStart(8, "0")}`, name)).ino);
      },
    });
    expect(inodes["config.json"]).toHaveLength(4);
    expect(new Set(inodes["config.json"]).size).toBe(1);
    expect(new Set(inodes["tokenizer.json"]).size).toBe(1);
    // the weights are new in every checkpoint (an inode may be reused once its folder is gone)
    for (let i = 1; i < 4; i++) expect(inodes["model.safetensors"][i]).not.toBe(inodes["model.safetensors"][i - 1]);
    expect(readSafetensors(join(dir, "model.safetensors")).metadata.step).toBe("4");
  });
});
