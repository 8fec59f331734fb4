import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf } from "../../src/engine/index.js";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { teacherTask } from "../../src/train/teacher.js";
import { trainTeacher } from "../../src/stages/pretrain.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { UserError } from "../../src/errors.js";
import { tinyConfig, tinySplit } from "../helpers/tiny.js";
import { metricLines } from "../helpers/training.js";

const fresh = (name: string) => join(mkdtempSync(join(tmpdir(), "lavit-vo-")), name);

describe("vision-only training (the tower alone on the per-patch heads)", () => {
  let data: LoadedSplit;
  let config: string;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 24, train: 4, test: 4 });
    config = fresh("config.json");
    writeFileSync(config, JSON.stringify(tinyConfig(data.tokenizer.size, { hidden: 16, layers: 1 })));
  });

  it("has the full task's per-patch loss, weighted, and nothing else; only the tower and the heads train", () => {
    const vlm = buildVlm(tinyConfig(data.tokenizer.size, { hidden: 16, layers: 1 }), 0);
    const full = teacherTask(vlm, data, { auxPatchWeight: 1 });
    const alone = teacherTask(vlm, data, { auxPatchWeight: 2.5, visionOnly: true });
    const indices = [0, 3, 5, 7];
    const [fullAux, aloneAux, aloneTotal, parts] = tf.tidy(() => {
      const a = alone.loss(indices, 1);
      return [full.loss(indices, 1).parts.loss_aux.dataSync()[0], a.parts.loss_aux.dataSync()[0], a.total.dataSync()[0], Object.keys(a.parts)];
    });
    expect(aloneAux).toBeCloseTo(fullAux, 5);
    expect(aloneTotal).toBeCloseTo(2.5 * aloneAux, 5);
    expect(parts).toEqual(["loss_aux"]);
    // Its gradient step leaves no tensor behind.
    const step = () => {
      const { value, grads } = alone.store.grads(() => alone.loss(indices, 1).total);
      tf.dispose([value, ...grads.values()]);
    };
    step();
    const live = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(live);
    expect(full.frozen).toBeUndefined();
    expect(alone.frozen?.("vision.encoder.layers.0.mlp.fc1.weight")).toBe(false);
    expect(alone.frozen?.("aux.patch_shape.weight")).toBe(false);
    expect(alone.frozen?.("lm_head.weight")).toBe(true);
    expect(alone.frozen?.("projector.linear_1.weight")).toBe(true);
    vlm.dispose();
  });

  it("leaves every decoder and projector tensor as it was built, and trains the tower", async () => {
    const base = { data: data.dir, config, batchSize: 4, seed: 3, quiet: true, visionOnly: true, lr: 1e-2, warmup: 0 };
    const two = fresh("two");
    const four = fresh("four");
    await trainTeacher({ ...base, steps: 2, out: two });
    await trainTeacher({ ...base, steps: 4, out: four });
    const a = readSafetensors(join(two, "model.safetensors")).tensors;
    const b = readSafetensors(join(four, "model.safetensors")).tensors;
    const same = (name: string) => Buffer.from(a.get(name)!.data.buffer).equals(Buffer.from(b.get(name)!.data.buffer));
    const names = [...a.keys()];
    const tower = names.filter((n) => n.startsWith("vision") || n.startsWith("aux."));
    const rest = names.filter((n) => !tower.includes(n));
    expect(tower.length).toBeGreaterThan(0);
    expect(rest.length).toBeGreaterThan(0);
    for (const n of rest) expect(same(n), n).toBe(true);
    expect(tower.filter((n) => !same(n)).length).toBeGreaterThan(tower.length / 2);
    const lines = metricLines(four).filter((l) => l.loss !== undefined);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.loss_aux).toBeTypeOf("number");
      expect(l.loss_ce).toBeUndefined();
    }
  }, 120_000);

  it("refuses what a run without text cannot do, naming the flags", async () => {
    const out = fresh("bad");
    await expect(trainTeacher({ data: data.dir, config, out, steps: 1, visionOnly: true, auxPatch: 0 })).rejects.toThrow(
      new UserError("--vision-only trains the vision tower on the per-patch heads: it needs --aux-patch above 0"),
    );
    await expect(trainTeacher({ data: data.dir, config, out, steps: 1, visionOnly: true, groundAttention: 0.5 })).rejects.toThrow(
      new UserError("--vision-only trains no text: it cannot be combined with --ground-attention"),
    );
  });
});
