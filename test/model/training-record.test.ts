import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trainedSetting, trajHeadTrained } from "../../src/model/training-record.js";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { loadModelFor, withModel } from "../../src/model/load.js";
import { buildVlm } from "../../src/model/vlm.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";

function folder(state?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-record-"));
  if (state !== undefined) writeFileSync(join(dir, "trainer_state.json"), typeof state === "string" ? state : JSON.stringify(state));
  return dir;
}

describe("trajHeadTrained", () => {
  it("reads the run's recorded trajectory loss: trained only with wTraj > 0 on the head", () => {
    expect(trajHeadTrained(folder({ settings: { wTraj: 0.3, trajSource: "head" } }))).toBe(true);
    expect(trajHeadTrained(folder({ settings: { wTraj: 0, trajSource: "head" } }))).toBe(false);
    expect(trajHeadTrained(folder({ settings: { wTraj: 0.3, trajSource: "attention" } }))).toBe(false);
  });

  it("takes a folder without a readable record as trained (a model made elsewhere ships its head)", () => {
    expect(trajHeadTrained(folder())).toBe(true);
    expect(trajHeadTrained(folder("{not json"))).toBe(true);
    expect(trajHeadTrained(folder({ settings: {} }))).toBe(true);
  });
});

describe("trainedSetting: a student is evaluated on its own setting's data", () => {
  it("reads the setting a student's run learnt from; other folders have none", () => {
    expect(trainedSetting(folder({ settings: { mode: "lavit", data_setting: "hard" } }))).toBe("hard");
    expect(trainedSetting(folder({ settings: { mode: "distill" } }))).toBe("default");
    expect(trainedSetting(folder({ settings: { aux_patch: 1 } }))).toBeNull();
    expect(trainedSetting(folder())).toBeNull();
  });

  it("refuses a hard-setting student on default data, naming both settings", async () => {
    await initEngine();
    const data = await tinyDataset({ teacherTrain: 0, train: 4, test: 4 });
    const split = loadSplit(data, "test-ood");
    const dir = folder({ settings: { mode: "lavit", data_setting: "hard" } });
    const vlm = buildVlm(tinyConfig(split.tokenizer.size), 0);
    saveModel(dir, vlm.config, vlm.store, split.tokenizer, 0);
    vlm.dispose();
    expect(() => loadModelFor(dir, split, data)).toThrow(/student of the benchmark's hard setting .* holds the default setting/);
    writeFileSync(join(dir, "trainer_state.json"), JSON.stringify({ settings: { mode: "lavit" } }));
    withModel(loadModelFor(dir, split, data), () => {});
  });
});
