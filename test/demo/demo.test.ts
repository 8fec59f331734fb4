import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { buildVlm } from "../../src/model/vlm.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { studentConfig, teacherConfig } from "../../src/model/presets.js";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.js";
import { defaultJobs, runDemo } from "../../src/demo/pipeline.js";
import { DEMO_DEFAULTS } from "../../src/demo/recipe.js";
import { STUDENT_DEFAULTS } from "../../src/stages/train-student.js";
import { runCli } from "../helpers/cli.js";
import { inChromium } from "../helpers/chromium.js";
import { planJobs } from "../../src/study/pool.js";
import { readPng } from "../../src/data/png.js";

/** Opens the report in headless Chromium and checks what a reader sees: the verdict, every results row, and heatmap images that actually loaded. */
async function screenshotReport(html: string, png: string): Promise<void> {
  await inChromium(html, { width: 1200, height: 900 }, async (page) => {
    expect(await page.textContent("#verdict")).toMatch(/On test-ood, LaViT/);
    // four models, LaViT's thoughts read two ways, no-align's by their attention alone, and the uniform-gaze scale row, on three splits each
    expect(await page.$$eval("#results tbody tr", (rows) => rows.length)).toBe(24);
    const widths = await page.$$eval("#heatmaps img", (imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
    expect(widths.length).toBeGreaterThan(0);
    expect(widths.every((w) => w > 0)).toBe(true);
    // under every student panel: its grounding mass and its JS divergence to the teacher
    const captions = await page.$$eval("#heatmaps .cap", (cells) => cells.map((c) => c.textContent ?? ""));
    expect(captions.filter((c) => /^(distill|lavit): mass \d\.\d\d, JS \d\.\d{3}$/.test(c)).length).toBeGreaterThan(0);
    // The explorer: every test sample of the first seed; a click draws its maps; lavit has one colour in every chart.
    expect(await page.textContent("#explorer-count")).toMatch(/^(\d+) of \1 samples$/);
    expect(await page.$$eval("#explorer-table tbody tr", (r) => r.length)).toBeGreaterThan(40);
    await page.click("#explorer-table tbody tr:first-child");
    expect(await page.$$eval("#explorer-detail canvas.map", (c) => c.length)).toBeGreaterThan(4);
    const lavit = await page.$$eval('svg.chart g.series[data-name="lavit"]', (g) => g.map((x) => x.getAttribute("data-colour")));
    expect(lavit.length).toBeGreaterThan(2);
    expect(new Set(lavit).size).toBe(1);
    await page.screenshot({ path: png, fullPage: true });
    expect(readPng(png).width).toBe(1200);
  });
}

describe("the demo's default --jobs", () => {
  it("runs a seed's students all at once, one thread each, when they outnumber the threads; otherwise the study's plan", () => {
    expect(planJobs(3, 2, defaultJobs(2, 3))).toEqual({ jobs: 3, threadsPerJob: 1 });
    expect(planJobs(9, 2, defaultJobs(2, 3))).toEqual({ jobs: 3, threadsPerJob: 1 });
    expect(planJobs(2, 2, defaultJobs(2, 2))).toEqual({ jobs: 2, threadsPerJob: 1 });
    expect(planJobs(3, 8, defaultJobs(8, 3))).toEqual({ jobs: 3, threadsPerJob: 2 });
    expect(planJobs(3, 1, defaultJobs(1, 3))).toEqual({ jobs: 1, threadsPerJob: 1 });
  });
});

describe("lavit demo --quick", () => {
  it("runs every stage, writes a report whose numbers recompute from the predictions, and refuses to overwrite it", async () => {
    await initEngine();
    // An untrained teacher keeps the test fast; the pipeline does not care how good it is.
    const teacherDir = mkdtempSync(join(tmpdir(), "lavit-demo-t-"));
    const tok = Tokenizer.forGrammar();
    const cfg = teacherConfig(tok.size, 64, 8);
    const small = {
      ...cfg,
      vision: { ...cfg.vision, hidden_size: 32, num_layers: 1, mlp_size: 64 },
      decoder: { ...cfg.decoder, hidden_size: 32, num_layers: 1, ffn_size: 64 },
    };
    const t = buildVlm(small, 0);
    saveModel(teacherDir, small, t.store, tok, 0);
    t.dispose();
    // Likewise an untrained student base: the students must start from its weights.
    const baseDir = mkdtempSync(join(tmpdir(), "lavit-demo-b-"));
    const baseCfg = studentConfig(tok.size, 64, 8);
    const b = buildVlm(baseCfg, 3);
    const embedding = b.store.get("model.embed_tokens.weight");
    embedding.assign(tf.fill(embedding.shape, 5)); // a mark no fresh initialisation could carry
    saveModel(baseDir, baseCfg, b.store, tok, 0);
    b.dispose();
    const out = join(mkdtempSync(join(tmpdir(), "lavit-demo-")), "demo");
    const report = await runDemo({ out, quick: true, teacher: teacherDir, studentBase: baseDir, jobs: 2, quiet: true });
    expect(Object.keys(report.results)).toEqual([
      "teacher",
      "distill",
      "lavit",
      "lavit thoughts (head)",
      "lavit thoughts (attention)",
      "no-align",
      "no-align thoughts (attention)",
    ]);
    expect(report.verdict.statement).toMatch(/without its alignment losses \(no-align\)/);
    // The latent thoughts' rows are gaze alone, read two ways from maps kept beside the predictions;
    // no-align's trajectory head was never trained, so only its latents' own attention is read.
    for (const readout of ["head", "attention"]) {
      expect(report.results[`lavit thoughts (${readout})`]["test-ood"]).not.toHaveProperty("accuracy");
      expect(report.results[`lavit thoughts (${readout})`]["test-ood"].js_to_teacher).toBeGreaterThan(0);
      expect(existsSync(join(out, "cells", "seed-101_lavit", "eval", `test-ood.thoughts-${readout}.json`))).toBe(true);
      expect(existsSync(join(out, "cells", "seed-101_distill", "eval", `test-ood.thoughts-${readout}.json`))).toBe(false);
    }
    expect(existsSync(join(out, "cells", "seed-101_no-align", "eval", "test-ood.thoughts-head.json"))).toBe(false);
    expect(report.verdict.statement).toMatch(/LaViT's latent thoughts \(trajectory head\)/);
    for (const f of ["report.json", "report.md", "report.html"]) expect(existsSync(join(out, f))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(json.seeds).toEqual([101]);
    expect(json.results.lavit["test-pairs"]).toHaveProperty("pair_accuracy");
    expect(json.results.distill["test-ood"]).toHaveProperty("js_to_teacher");
    // The scale row: even gaze over the 64 patches, scored against the teacher's maps.
    expect(json.reference["test-ood"].entropy).toBeCloseTo(Math.log(64), 6);
    expect(json.reference["test-ood"].js_to_teacher).toBeGreaterThan(0);
    expect(json.reference["test-ood"]).not.toHaveProperty("topk_iou");
    // recompute lavit's test-ood accuracy and grounding mass from its predictions
    const preds = readFileSync(join(out, "cells", "seed-101_lavit", "eval", "test-ood.predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(preds.filter((p) => p.correct).length / preds.length).toBeCloseTo(json.results.lavit["test-ood"].accuracy, 10);
    expect(preds.reduce((a, p) => a + p.gaze.grounding_mass, 0) / preds.length).toBeCloseTo(json.results.lavit["test-ood"].grounding_mass, 10);
    expect(readFileSync(join(out, "report.html"), "utf8")).toMatch(/<img src="heatmaps\//);
    // Both students started from the base: 40 AdamW steps at lr 1e-3 move a weight by at most
    // about 0.04, so the base's mark of 5 is still there.
    for (const student of ["distill", "lavit"]) {
      const w = readSafetensors(join(out, "cells", `seed-101_${student}`, "student", "model.safetensors")).tensors.get("model.embed_tokens.weight")!;
      const values = Array.from(toFloat32(w));
      expect(Math.min(...values), student).toBeGreaterThan(4.5);
    }
    // The students trained side by side, each on its share of the threads: the same bytes as the
    // CLI gives with that many, from the stage's own defaults (only the quick size is given).
    const cellDir = (name: string) => join(out, "cells", `seed-101_${name}`);
    const alone = join(out, "distill-alone");
    const cli = runCli(
      [
        "train",
        "student",
        "--mode",
        "distill",
        "--data",
        join(out, "data", "seed-101"),
        "--signals",
        join(out, "signals", "seed-101"),
        "--teacher",
        teacherDir,
        "--init-from",
        baseDir,
        "--out",
        alone,
        "--steps",
        "40",
        "--seed",
        "101",
        "--quiet",
      ],
      { LAVIT_THREADS: String(planJobs(2, (await initEngine()).info.threads, 2).threadsPerJob) },
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(readFileSync(join(alone, "model.safetensors")).equals(readFileSync(join(cellDir("distill"), "student", "model.safetensors")))).toBe(true);
    // A student stopped before its first checkpoint (only metrics.jsonl written) starts again on --resume.
    for (const f of [".done", "trainer_state.json", "model.safetensors"]) rmSync(join(cellDir("lavit"), "student", f), { force: true });
    rmSync(join(cellDir("lavit"), "cell.json"));
    await runDemo({ out, quick: true, resume: true, teacher: teacherDir, studentBase: baseDir, jobs: 1, quiet: true });
    expect(existsSync(join(cellDir("lavit"), "student", ".done"))).toBe(true);
    expect(
      readFileSync(join(cellDir("lavit"), "student", "metrics.jsonl"), "utf8")
        .trim()
        .split("\n").length,
    ).toBe(4);
    await screenshotReport(join(out, "report.html"), join(out, "report.png"));
    const again = runCli(["demo", "--quick", "--out", out, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already holds a report/);
    // A resume that would mix two setups under one folder is refused, naming the setting.
    const otherK = runCli(["demo", "--quick", "--resume", "--latents", "2", "--out", out, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(otherK.status).toBe(2);
    expect(otherK.stderr).toMatch(
      new RegExp(`was begun with --latents ${DEMO_DEFAULTS.latents}, not with --latents 2 \\(demo\\.json\\): resume with --latents ${DEMO_DEFAULTS.latents}`),
    );
    const fullSize = runCli(["demo", "--resume", "--out", out, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(fullSize.status).toBe(2);
    expect(fullSize.stderr).toMatch(/was begun with --quick, not without --quick \(demo\.json\): resume with --quick/);
    // A folder whose students a lavit with another demo recipe trained.
    const record = readFileSync(join(out, "demo.json"), "utf8");
    writeFileSync(join(out, "demo.json"), JSON.stringify({ ...JSON.parse(record), gate_open_at: 0.6 }));
    const otherRecipe = runCli(["demo", "--quick", "--resume", "--out", out, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(otherRecipe.status).toBe(2);
    expect(otherRecipe.stderr).toMatch(new RegExp(`opened the sensory gate by 0.6 of training, not ${STUDENT_DEFAULTS.gateOpenAt}`));
    writeFileSync(join(out, "demo.json"), record);
    const retrained = buildVlm(small, 1);
    saveModel(teacherDir, small, retrained.store, tok, 0);
    retrained.dispose();
    const otherTeacher = runCli(["demo", "--quick", "--resume", "--out", out, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(otherTeacher.status).toBe(2);
    expect(otherTeacher.stderr).toMatch(/was begun with other teacher weights/);
    // A folder an older lavit made (per-seed folders, before demos ran as studies) is not resumed.
    const legacy = join(mkdtempSync(join(tmpdir(), "lavit-demo-old-")), "demo");
    mkdirSync(join(legacy, "seed-101"), { recursive: true });
    const old = runCli(["demo", "--quick", "--resume", "--out", legacy, "--teacher", teacherDir, "--student-base", baseDir]);
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/holds a demo from an older lavit/);
    const noTeacher = runCli(["demo", "--quick", "--out", join(out, "x"), "--teacher", join(out, "missing"), "--student-base", baseDir]);
    expect(noTeacher.status).toBe(2);
    expect(noTeacher.stderr).toMatch(/no teacher at .*lavit train teacher/);
    const noBase = runCli(["demo", "--quick", "--out", join(out, "y"), "--teacher", teacherDir, "--student-base", join(out, "missing")]);
    expect(noBase.status).toBe(2);
    expect(noBase.stderr).toMatch(/no student base model at .*lavit train base/);
  }, 900_000);
});
