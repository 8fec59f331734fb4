import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { buildVlm } from "../../src/model/vlm.js";
import { UserError } from "../../src/errors.js";
import { checkExtraction, contradicts, OFFICIAL_EXTRACT, OFFICIAL_STUDENT, withPreset } from "../../src/stages/presets.js";
import { extract } from "../../src/stages/extract.js";
import { trainStudent } from "../../src/stages/train-student.js";
import { variants } from "../../src/demo/recipe.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";

describe("--preset official", () => {
  it("fills the preset's choices and keeps agreeing options", () => {
    expect(withPreset("official", OFFICIAL_EXTRACT, { data: "d" })).toMatchObject({
      data: "d",
      layers: "official",
      queries: "prefix",
      vtopLayer: "pre-norm",
      onlyCorrect: true,
      gradientRecipe: "official",
      tau: 0.01,
    });
    expect(withPreset("official", OFFICIAL_EXTRACT, { queries: "prefix" as const })).toMatchObject({ queries: "prefix" });
    expect(withPreset("lavit", OFFICIAL_EXTRACT, { queries: "step" as const })).toEqual({ queries: "step" });
    expect(withPreset(undefined, OFFICIAL_STUDENT, { latents: 8 })).toEqual({ latents: 8 });
  });

  it("refuses a contradicting option, naming both", () => {
    expect(() => withPreset("official", OFFICIAL_EXTRACT, { queries: "step" })).toThrow(
      /--queries step contradicts --preset official \(which sets --queries prefix\)/,
    );
    expect(() => withPreset("official", OFFICIAL_EXTRACT, { vtopLayer: "final" })).toThrow(/--vtop-layer final.*--vtop-layer pre-norm/);
    expect(() => withPreset("official", OFFICIAL_STUDENT, { latents: 8 })).toThrow(UserError);
    expect(() => withPreset("official", OFFICIAL_STUDENT, { gateSchedule: "two-stage-visual-only" })).toThrow(
      /--gate-schedule two-stage-visual-only.*--gate-schedule two-stage\)/,
    );
    expect(() => withPreset("official", OFFICIAL_STUDENT, { stage2ResetOptimizer: false })).toThrow(
      /--no-stage2-reset-optimizer contradicts.*--stage2-reset-optimizer/,
    );
    expect(contradicts("official", OFFICIAL_STUDENT, { latents: 2 })).toBe(true);
    expect(contradicts("official", OFFICIAL_STUDENT, { latents: 4, traj: false })).toBe(false);
  });

  it("refuses signals made with other settings than the preset expects, naming the setting", () => {
    const official = {
      method: "attention",
      layers: "official",
      queries: "prefix",
      vtop_layer: "pre-norm",
      only_correct: true,
      tau: null,
      gradient_recipe: null,
    };
    expect(() => checkExtraction(official, "s/summary.json", "official")).not.toThrow();
    expect(() => checkExtraction({ ...official, queries: "step" }, "s/summary.json", "official")).toThrow(/queries = prefix.*records queries = step/);
    // A summary from before the settings were recorded holds lavit's defaults.
    expect(() => checkExtraction({ method: "attention", topk: 8 }, "s/summary.json", "official")).toThrow(/layers = official.*records layers = all/);
    expect(() => checkExtraction(undefined, "s/summary.json", "official")).toThrow(/missing/);
    // Gradient signals: the attention-only settings do not apply, the recipe does.
    const grad = { method: "gradient", layers: null, queries: null, vtop_layer: "pre-norm", only_correct: true, tau: 0.01, gradient_recipe: "official" };
    expect(() => checkExtraction(grad, "s/summary.json", "official")).not.toThrow();
    expect(() => checkExtraction({ ...grad, gradient_recipe: "lavit" }, "s/summary.json", "official")).toThrow(/gradient_recipe/);
    // No preset: any signals.
    expect(() => checkExtraction({ method: "attention" }, "s/summary.json", "lavit")).not.toThrow();
  });

  it("the demo's students all take the preset, and the ablations that contradict it are left out", () => {
    const names = (p?: "official") => variants(true, p ? 4 : 8, p).map((v) => v.name);
    expect(names()).toContain("lavit-two-stage-visual-only");
    expect(names("official")).toEqual(["distill", "lavit", "no-align", "lavit-no-traj", "lavit-no-vtop", "lavit-no-gate", "lavit-two-stage"]);
    expect(variants(false, 4, "official").every((v) => v.options.preset === "official")).toBe(true);
  });
});

describe("stages with the preset", () => {
  let dataDir: string;
  let teacherDir: string;
  beforeAll(async () => {
    await initEngine();
    dataDir = await tinyDataset({ teacherTrain: 2, train: 4, test: 2 });
    const data = loadSplit(dataDir, "train");
    const teacher = buildVlm(tinyConfig(data.tokenizer.size, { layers: 2 }), 1);
    teacherDir = mkdtempSync(join(tmpdir(), "lavit-fid-teacher-"));
    saveModel(teacherDir, teacher.config, teacher.store, data.tokenizer, 0);
    teacher.dispose();
  });

  it("extract: last:0 and more layers than the teacher has exit 2", () => {
    for (const layers of ["last:0", "last:3"]) {
      const r = runCli([
        "extract",
        "--data",
        dataDir,
        "--teacher",
        teacherDir,
        "--out",
        join(mkdtempSync(join(tmpdir(), "lavit-fid-x-")), "s"),
        "--layers",
        layers,
      ]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`--layers ${layers}: the teacher .* has 2 decoder layers`));
    }
  });

  it("extract: a contradicting flag and a method-foreign flag exit 2", async () => {
    const r = runCli([
      "extract",
      "--data",
      dataDir,
      "--teacher",
      teacherDir,
      "--out",
      join(mkdtempSync(join(tmpdir(), "lavit-fid-x-")), "s"),
      "--preset",
      "official",
      "--vtop-layer",
      "final",
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--vtop-layer final contradicts --preset official/);
    await expect(extract({ data: dataDir, out: "unused", teacher: teacherDir, method: "gradient", queries: "prefix" })).rejects.toThrow(
      /--queries .*--method gradient/,
    );
    await expect(extract({ data: dataDir, out: "unused", teacher: teacherDir, gradientRecipe: "official" })).rejects.toThrow(
      /--gradient-recipe .*--method attention/,
    );
  });

  it("train student: refuses lavit signals and contradicting flags under the preset", async () => {
    const sig = mkdtempSync(join(tmpdir(), "lavit-fid-sig-"));
    writeFileSync(join(sig, "summary.json"), JSON.stringify({ method: "attention", split: "train" }));
    const out = join(mkdtempSync(join(tmpdir(), "lavit-fid-st-")), "s");
    await expect(trainStudent({ data: dataDir, signals: sig, out, preset: "official", initFrom: null })).rejects.toThrow(
      /expects signals extracted with layers = official/,
    );
    await expect(trainStudent({ data: dataDir, signals: sig, out, preset: "official", latents: 2 })).rejects.toThrow(
      /--latents 2 contradicts --preset official/,
    );
    await expect(trainStudent({ data: dataDir, signals: sig, out, stage2LrRatio: 0.5 })).rejects.toThrow(/--stage2-lr-ratio needs --gate-schedule two-stage/);
  });

  it("takes a key given as undefined as not given (the demo passes its options on as they come)", () => {
    expect(withPreset("official", { latents: 4 }, { latents: undefined as number | undefined }).latents).toBe(4);
    expect(variants(false, 4, "official").map((v) => v.name)).toEqual(["distill", "lavit", "no-align"]);
  });
});
