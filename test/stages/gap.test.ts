import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { encodePng, readPng } from "../../src/data/png.js";
import { buildVlm } from "../../src/model/vlm.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { evaluate } from "../../src/stages/evaluate.js";
import { gap, GAP_DEFAULTS } from "../../src/stages/gap.js";
import { jensenShannon, entropy, uniformGaze } from "../../src/eval/gap.js";
import { readSignals } from "../../src/signals/layout.js";
import { isUserError } from "../../src/errors.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";
import { inChromium } from "../helpers/chromium.js";

/** Opens gap.html in headless Chromium and checks what a reader sees. */
async function checkInChromium(html: string, rows: number, samples: number): Promise<void> {
  await inChromium(html, { width: 1000, height: 800 }, async (page) => {
    expect(await page.$$eval("#models tbody tr", (r) => r.length)).toBe(rows);
    const imgs = await page.$$eval("#heatmaps img", (list) =>
      list.map((i) => ({ w: (i as unknown as { naturalWidth: number }).naturalWidth, h: (i as unknown as { naturalHeight: number }).naturalHeight })),
    );
    expect(imgs.length).toBeGreaterThan(0);
    expect(imgs.every((i) => i.w > 0 && i.h > 0)).toBe(true);
    // The explorer: every compared sample, and a click draws its maps (image and every run, per step).
    expect(await page.$$eval("#explorer-table tbody tr", (r) => r.length)).toBe(samples);
    await page.click("#explorer-table tbody tr:first-child");
    const panels = await page.$$eval("#explorer-detail .step", (steps) => steps.map((s) => s.querySelectorAll("canvas.map").length));
    expect(panels.length).toBeGreaterThan(0);
    // the image, the teacher and each compared run: as many as the table's rows (teacher, runs, uniform)
    expect(panels.every((n) => n === rows)).toBe(true);
    expect(await page.evaluate(() => performance.getEntriesByType("resource").length)).toBe(0);
  });
}

/** A trajectory folder written by hand: ids, per-sample step maps, image paths (relative to the folder). */
function writeRun(dir: string, samples: { id: string; image: string; steps: number[][] }[], vTop = false): string {
  mkdirSync(join(dir, "trajectories"), { recursive: true });
  const results = samples.map((s) => {
    writeFileSync(join(dir, "trajectories", `${s.id}.json`), JSON.stringify({ steps: s.steps.map((p) => ({ p_t: p, p_topk_idx: [0], method: "attention" })) }));
    return {
      id: s.id,
      question: "q",
      image_relative_path: s.image,
      ground_truth_enriched: "",
      attention_path_abs: `trajectories/${s.id}.json`,
      ...(vTop ? { v_top_path_abs: "v.safetensors" } : {}),
    };
  });
  writeFileSync(join(dir, "metadata.json"), JSON.stringify({ results }));
  return dir;
}

async function expectUserError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isUserError(e), String(e)).toBe(true);
  expect((e as Error).message).toMatch(pattern);
}

describe("lavit gap on lavit models", () => {
  let dataDir: string;
  let root: string;
  beforeAll(async () => {
    await initEngine();
    dataDir = await tinyDataset({ teacherTrain: 2, train: 2, test: 6 });
    root = mkdtempSync(join(tmpdir(), "lavit-gap-"));
    const tok = loadSplit(dataDir, "test-id").tokenizer;
    for (const [name, cfg, seed] of [
      ["teacher", tinyConfig(tok.size), 1],
      ["student", tinyConfig(tok.size, { latents: 2 }), 2],
    ] as const) {
      const m = buildVlm(cfg, seed);
      saveModel(join(root, name), cfg, m.store, tok, 0);
      m.dispose();
    }
  });

  it("from `eval --dump-attention` dumps, computes what `eval --teacher` computes (one implementation)", async () => {
    const dumpT = join(root, "dumps", "teacher");
    const dumpS = join(root, "dumps", "lavit-student");
    const split = "test-id";
    await evaluate({ model: join(root, "teacher"), data: dataDir, split, dumpAttention: dumpT, quiet: true });
    const ev = await evaluate({ model: join(root, "student"), teacher: join(root, "teacher"), data: dataDir, split, dumpAttention: dumpS, quiet: true });
    // A second dump into the same folder is refused, as every output folder is without --force.
    await expect(evaluate({ model: join(root, "teacher"), data: dataDir, split, dumpAttention: dumpT, quiet: true })).rejects.toThrow(
      /--dump-attention .* already exists/,
    );
    const meta = JSON.parse(readFileSync(join(dumpS, "metadata.json"), "utf8"));
    expect(meta.results).toHaveLength(6);
    expect(JSON.parse(readFileSync(join(dumpS, meta.results[0].attention_path_abs), "utf8")).steps[0].method).toBe("student_attention");
    // A dump has no V_top: gap reads it, the student trainer's reader refuses it naming the field.
    expect(() => readSignals(dumpS, 4)).toThrow(/v_top_path_abs is missing/);

    const out = join(root, "gap");
    const report = await gap({ teacher: dumpT, compare: [dumpS], data: dataDir, split, out, quiet: true });
    const m = report.models["lavit-student"];
    expect(m.samples).toBe(6);
    for (const key of ["js_to_teacher", "topk_iou", "grounding_mass", "entropy"] as const) expect(Math.abs(m[key]! - ev.result[key]!), key).toBeLessThan(1e-6);
    // and sample by sample
    ev.predictions.forEach((p, i) => {
      const row = report.per_sample[i];
      expect(row.id).toBe(p.id);
      expect(Math.abs(row.models["lavit-student"].js_to_teacher! - (p as unknown as { gaze: { js_to_teacher: number } }).gaze.js_to_teacher)).toBeLessThan(
        1e-6,
      );
    });
    // The even-gaze line is the demo's, from the same teacher maps.
    const data = loadSplit(dataDir, split);
    const teacherMaps = report.per_sample.map((r) => readSignals(dumpT, undefined, { vTop: false }).samples.find((s) => s.result.id === r.id)!.steps);
    const u = uniformGaze(data.samples, teacherMaps);
    expect(report.uniform.js_to_teacher).toBeCloseTo(u.js_to_teacher!, 10);
    expect(report.uniform.grounding_mass).toBeCloseTo(u.grounding_mass!, 10);
    expect(report.uniform.entropy).toBeCloseTo(Math.log(16), 6);
    expect(report.uniform).not.toHaveProperty("topk_iou");

    const json = JSON.parse(readFileSync(join(out, "gap.json"), "utf8"));
    expect(Object.keys(json.models)).toEqual(["lavit-student"]);
    expect(json.models["lavit-student"].js_to_teacher).toBeCloseTo(m.js_to_teacher!, 12);
    expect(json.per_sample).toHaveLength(6);
    // The heatmaps: the most divergent samples, then seeded random ones, all rendered.
    expect(json.heatmaps).toHaveLength(GAP_DEFAULTS.show + GAP_DEFAULTS.random);
    const shown = json.heatmaps.slice(0, GAP_DEFAULTS.show).map((h: { id: string }) => json.per_sample.find((r: { id: string }) => r.id === h.id).disagreement);
    const max = Math.max(...json.per_sample.map((r: { disagreement: number }) => r.disagreement));
    expect(shown[0]).toBe(max);
    for (const h of json.heatmaps) expect(readPng(join(out, h.file)).width).toBeGreaterThan(0);
    expect(readFileSync(join(out, "gap.md"), "utf8")).toMatch(/\| lavit-student \| 6 \|/);
    await checkInChromium(join(out, "gap.html"), 3, 6);
  });

  it("`eval --dump-thoughts` dumps where the latent thoughts look, either read-out, and gap on it gives eval's row for that read-out; a model without latents is refused", async () => {
    const split = "test-id";
    const dumpT = join(root, "dumps-thoughts", "teacher");
    await evaluate({ model: join(root, "teacher"), data: dataDir, split, dumpAttention: dumpT, quiet: true });
    for (const readout of ["head", "attention"] as const) {
      const dumpL = join(root, "dumps-thoughts", `student-${readout}`);
      // A model folder without a training record counts as having a trained head, so head is the default read-out.
      const ev = await evaluate({
        model: join(root, "student"),
        teacher: join(root, "teacher"),
        data: dataDir,
        split,
        dumpThoughts: dumpL,
        ...(readout === "attention" ? { thoughtsReadout: readout } : {}),
        quiet: true,
      });
      expect(JSON.parse(readFileSync(join(dumpL, "metadata.json"), "utf8")).thoughts_readout).toBe(readout);
      const report = await gap({ teacher: dumpT, compare: [dumpL], data: dataDir, split, out: join(root, `gap-${readout}`), quiet: true });
      const m = report.models[`student-${readout}`];
      const row = ev.result[`thoughts_${readout}`]!;
      for (const key of ["js_to_teacher", "topk_iou", "grounding_mass", "entropy"] as const)
        expect(Math.abs(m[key]! - row[key]!), `${readout} ${key}`).toBeLessThan(1e-6);
    }
    await expect(
      evaluate({ model: join(root, "teacher"), data: dataDir, split, dumpThoughts: join(root, "dumps-thoughts", "none"), quiet: true }),
    ).rejects.toThrow(/--dump-thoughts: .* has no latent thoughts/);
  });

  it("compares the samples both folders hold, reports the rest, and fails on them with --strict", async () => {
    const split = "test-id";
    const dumpT = join(root, "dumps2", "teacher");
    await evaluate({ model: join(root, "teacher"), data: dataDir, split, dumpAttention: dumpT, quiet: true });
    const partial = join(root, "dumps2", "partial");
    const meta = JSON.parse(readFileSync(join(dumpT, "metadata.json"), "utf8"));
    writeRun(
      partial,
      meta.results.slice(1).map((r: { id: string; image_relative_path: string; attention_path_abs: string }) => ({
        id: r.id,
        image: join("..", "teacher", r.image_relative_path),
        steps: JSON.parse(readFileSync(join(dumpT, r.attention_path_abs), "utf8")).steps.map((s: { p_t: number[] }) => s.p_t),
      })),
    );
    // Without --data, the dumps' images (in the dataset) lie outside every folder named: refused unless allowed.
    await expect(gap({ teacher: dumpT, compare: [partial], out: join(root, "gap3"), quiet: true })).rejects.toThrow(
      /image_relative_path: path ".*" leads outside .*--allow-outside-root/,
    );
    const report = await gap({ teacher: dumpT, compare: [partial], out: join(root, "gap3"), allowOutsideRoot: true, quiet: true });
    expect(report.compared).toBe(5);
    expect(report.coverage.teacher).toEqual({ samples: 6, not_compared: 1 });
    expect(report.coverage.partial).toEqual({ samples: 5, not_compared: 0 });
    // Identical maps: no gap, and no regions were given.
    expect(report.models.partial.js_to_teacher).toBeLessThan(1e-9);
    expect(report.models.partial.topk_iou).toBeCloseTo(1, 12);
    expect(report.models.partial).not.toHaveProperty("grounding_mass");
    expect(readFileSync(join(root, "gap3", "gap.md"), "utf8")).toMatch(/left out: teacher 1 of 6/);
    await expectUserError(
      gap({ teacher: dumpT, compare: [partial], out: join(root, "gap4"), strict: true, allowOutsideRoot: true, quiet: true }),
      /--strict.*teacher: 1 of 6/,
    );
    expect(existsSync(join(root, "gap4"))).toBe(false);
  });
});

describe("lavit gap on foreign folders", () => {
  // A 40 x 24 image (not square, not the grid's multiple), a 4 x 4 teacher grid and a 2 x 2 other run.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lavit-gap-f-"));
    mkdirSync(join(dir, "images"));
    const rgb = new Uint8Array(40 * 24 * 3).fill(128);
    writeFileSync(join(dir, "images", "a.png"), encodePng(rgb, 40, 24));
    writeFileSync(join(dir, "images", "b.png"), encodePng(rgb, 40, 24));
    const peak = (i: number) => Array.from({ length: 16 }, (_, j) => (j === i ? 0.5 : 0.5 / 15));
    writeRun(join(dir, "teacher"), [
      { id: "7", image: "a.png", steps: [peak(0), peak(5)] },
      { id: "8", image: "b.png", steps: [peak(15)] },
    ]);
    writeRun(join(dir, "coarse"), [
      { id: "7", image: "a.png", steps: [[1, 0, 0, 0]] },
      { id: "8", image: "b.png", steps: [[0.25, 0.25, 0.25, 0.25]] },
    ]);
    // question_id records, Visual-CoT bbox and plain boxes
    writeFileSync(
      join(dir, "boxes.jsonl"),
      [JSON.stringify({ question_id: 7, bbox: [0, 0, 10, 6] }), JSON.stringify({ question_id: 8, boxes: [[30, 18, 40, 24]] })].join("\n") + "\n",
    );
  });

  it("puts pixel boxes on the map's grid, resizes other grids, and draws over the image with its aspect kept", async () => {
    const out = join(dir, "out");
    const r = await gap({
      teacher: join(dir, "teacher"),
      compare: [join(dir, "coarse")],
      images: join(dir, "images"),
      boxes: join(dir, "boxes.jsonl"),
      out,
      quiet: true,
    });
    // Box [0,0,10,6] on a 40 x 24 image, 4 x 4 grid (10 x 6 px cells): patch 0 only. Teacher's
    // steps put 0.5 and 0.5/15 there; box [30,18,40,24] is patch 15, where sample 8 puts 0.5.
    expect(r.teacher.grounding_mass).toBeCloseTo(((0.5 + 0.5 / 15) / 2 + 0.5) / 2, 6);
    // The 2 x 2 map resized to 4 x 4 (bilinear, align_corners false), renormalised: sample 8 is even.
    expect(r.per_sample[1].models.coarse.entropy).toBeCloseTo(Math.log(16), 5);
    const even = new Float32Array(16).fill(1 / 16);
    expect(r.per_sample[1].models.coarse.js_to_teacher).toBeCloseTo(
      jensenShannon(
        even,
        Float32Array.from({ length: 16 }, (_, j) => (j === 15 ? 0.5 : 0.5 / 15)),
      ),
      6,
    );
    expect(r.per_sample[1].uniform.js_to_teacher).toBeCloseTo(r.per_sample[1].models.coarse.js_to_teacher!, 6);
    expect(r.per_sample[1].teacher.entropy).toBeCloseTo(entropy(Float32Array.from({ length: 16 }, (_, j) => (j === 15 ? 0.5 : 0.5 / 15))), 6);
    // sample 7's coarse map only has one step: compared over the one step both wrote
    expect(r.per_sample[0].steps).toBe(2);
    expect(r.regions).toMatchObject({ kind: "boxes", samples: 2 });
    // Panels keep the image's 5:3 aspect: 256 x 154 (rounded), three columns (image, teacher, coarse).
    const png = readPng(join(out, r.heatmaps[0].file));
    const rows = r.heatmaps[0].id === "7" ? 2 : 1;
    expect(png.width).toBe(3 * 256 + 2 * 4);
    expect(png.height).toBe(rows * 154 + (rows - 1) * 4);
    await checkInChromium(join(out, "gap.html"), 3, 2);
  });

  it("refuses bad input naming the file (exit 2 from the CLI)", async () => {
    const t = join(dir, "teacher");
    await expectUserError(gap({ teacher: join(dir, "nope"), compare: [t], out: join(dir, "o1"), quiet: true }), /nope: not a signals folder/);
    writeFileSync(join(dir, "bad.jsonl"), JSON.stringify({ question_id: 7, bbox: [10, 0, 5, 6] }) + "\n");
    await expectUserError(
      gap({ teacher: t, compare: [t], images: join(dir, "images"), boxes: join(dir, "bad.jsonl"), out: join(dir, "o2"), quiet: true }),
      /bad\.jsonl: line 1: .*x2 > x1/,
    );
    await expectUserError(gap({ teacher: t, compare: [t], out: join(dir, "o3"), quiet: true }), /image .*a\.png: cannot read/);
    const broken = writeRun(join(dir, "broken"), [{ id: "7", image: "a.png", steps: [[0.5, 0.5]] }]);
    writeFileSync(join(broken, "trajectories", "7.json"), "{");
    await expectUserError(gap({ teacher: t, compare: [broken], out: join(dir, "o4"), quiet: true }), /broken.trajectories.7\.json: cannot read trajectory/);
    const cli = runCli(["gap", "--teacher", t, "--compare", broken, "--out", join(dir, "o5")]);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/7\.json/);
    expect(cli.stderr).not.toMatch(/ at .*\.[jt]s:\d+/);
    const ok = runCli(["gap", "--teacher", t, "--compare", join(dir, "coarse"), "--compare", t, "--images", join(dir, "images"), "--out", join(dir, "o6")]);
    expect(ok.status, ok.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, "o6", "gap.json"), "utf8"));
    expect(Object.keys(json.models)).toEqual(["coarse", basename(t)]);
    rmSync(join(dir, "o6"), { recursive: true });
  });
});
