import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { MARKER_FILE } from "../../src/util/marker.js";
import { lockFileFor } from "../../src/util/lock.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";

/**
 * The output and read guards as a user meets them, through the real CLI: `lavit gap`'s outputs
 * (issue 33: it overwrote a user's gap.md, its own --boxes and its --teacher folder), paths read
 * from files leading outside their root, FIFOs where an image or a trajectory is expected (a
 * hang before), a lock path that is a folder, an --out name of 255 bytes.
 */
/** The CLI; a hang fails the test (status null) instead of blocking it. */
function lavit(args: string[]) {
  const r = runCli(args, {}, { timeout: 90_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, line: r.stderr.trim() };
}

function fifo(path: string): string {
  rmSync(path, { force: true });
  expect(spawnSync("mkfifo", [path]).status).toBe(0);
  return path;
}

/** A trajectory folder of lavit's layout, written by hand: two samples on a 4 x 4 grid. */
function writeRun(dir: string, image: string, shift = 0): string {
  mkdirSync(join(dir, "trajectories"), { recursive: true });
  const results = ["a", "b"].map((id, k) => {
    const p = Array.from({ length: 16 }, (_, i) => (i === (k + shift) % 16 ? 0.5 : 0.5 / 15));
    writeFileSync(join(dir, "trajectories", `${id}.json`), JSON.stringify({ steps: [{ p_t: p, p_topk_idx: [0], method: "attention" }] }));
    return { id, question: "q", image_relative_path: image, ground_truth_enriched: "", attention_path_abs: `trajectories/${id}.json` };
  });
  writeFileSync(join(dir, "metadata.json"), JSON.stringify({ results, grid: 4 }));
  return dir;
}

let root: string;
let data: string;
let model: string;

beforeAll(async () => {
  await initEngine();
  data = await tinyDataset({ teacherTrain: 2, train: 2, test: 2 });
  root = mkdtempSync(join(tmpdir(), "lavit-guards-cli-"));
  const tok = loadSplit(data, "train").tokenizer;
  const cfg = tinyConfig(tok.size);
  const m = buildVlm(cfg, 1);
  model = join(root, "model");
  saveModel(model, cfg, m.store, tok, 0);
  m.dispose();
});

/** A fresh teacher and compare folder, each with its image inside. */
function runs(name: string): { teacher: string; compare: string; base: string } {
  const base = join(root, name);
  const teacher = writeRun(join(base, "teacher"), "img.png");
  const compare = writeRun(join(base, "student"), "img.png", 3);
  for (const d of [teacher, compare]) copyFileSync(join(data, "train", "images", "000000.png"), join(d, "img.png"));
  return { teacher, compare, base };
}

describe("lavit gap goes through the output guard", () => {
  it("refuses a user's folder, its own --boxes inside --out and its --teacher folder; writes and --force-replaces its own", () => {
    const { teacher, compare, base } = runs("gap");
    const mine = join(base, "mine");
    mkdirSync(mine);
    writeFileSync(join(mine, "gap.md"), "my notes");
    let r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", mine, "--show", "0", "--random", "0", "--quiet"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.line).toBe(`lavit: --out ${mine} already exists and is not empty (use --force to replace it)`);
    r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", mine, "--force", "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.line).toMatch(/was not made by lavit/);
    expect(readFileSync(join(mine, "gap.md"), "utf8")).toBe("my notes");

    const boxes = join(mine, "boxes.jsonl");
    writeFileSync(boxes, JSON.stringify({ question_id: "a", boxes: [[0, 0, 8, 8]] }) + "\n");
    r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--boxes", boxes, "--out", mine, "--force", "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: --out ${mine} contains --boxes ${boxes}: writing it would change the command's own input; choose an --out outside every input`);
    for (const out of [teacher, join(teacher, "gap")]) {
      r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", out, "--quiet"]);
      expect(r.status).toBe(2);
      expect(r.line).toMatch(/ (is the same path as|lies inside) --teacher /);
    }
    expect(readdirSync(teacher).sort()).toEqual(["img.png", "metadata.json", "trajectories"]);

    const out = join(base, "report");
    r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--boxes", boxes, "--out", out, "--show", "1", "--random", "0", "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([MARKER_FILE, "gap.html", "gap.json", "gap.md", "heatmaps"]);
    r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", out, "--quiet"]);
    expect(r.status).toBe(2);
    r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", out, "--force", "--show", "0", "--random", "0", "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(out, "heatmaps"))).toEqual([]);
    expect(existsSync(lockFileFor(out))).toBe(false);
  }, 240_000);

  it("reads a folder's image paths only inside it unless --allow-outside-root, with one message whether they exist or not", () => {
    const { teacher, compare, base } = runs("gap-root");
    copyFileSync(join(teacher, "img.png"), join(base, "outside.png"));
    const say = (image: string, extra: string[] = []) => {
      writeRun(teacher, image);
      return lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", join(base, `out-${extra.length}`), "--quiet", ...extra]);
    };
    const existing = say("../outside.png");
    expect(existing.status).toBe(2);
    expect(existing.line).toBe(
      `lavit: ${join(teacher, "metadata.json")}: results.0: image_relative_path: path "../outside.png" leads outside ${teacher}; lavit reads only inside that folder (pass --allow-outside-root to read it anyway)`,
    );
    const missing = say("../missing.png");
    expect(missing.status).toBe(2);
    expect(missing.line.replace("missing", "outside")).toBe(existing.line);
    const allowed = say("../outside.png", ["--allow-outside-root"]);
    expect(allowed.status, allowed.stderr).toBe(0);
  }, 240_000);

  it("refuses a FIFO where a trajectory is expected, without hanging", () => {
    const { teacher, compare } = runs("gap-fifo");
    const pipe = fifo(join(teacher, "trajectories", "a.json"));
    const r = lavit(["gap", "--teacher", teacher, "--compare", compare, "--out", join(root, "gap-fifo", "out"), "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: ${pipe}: is a FIFO (named pipe), not a regular file; lavit reads only regular files`);
  }, 120_000);
});

describe("FIFOs where an image or a trajectory is expected end in exit 2, not a hang", () => {
  it("data show, extract, ask and signals check", () => {
    const ds = join(root, "fifo-data");
    rmSync(ds, { recursive: true, force: true });
    spawnSync("cp", ["-r", data, ds]);
    const pipe = fifo(join(ds, "train", "images", "000000.png"));
    const fifoLine = `${pipe}: is a FIFO (named pipe), not a regular file; lavit reads only regular files`;
    let r = lavit(["data", "show", ds, "--split", "train", "--id", "000000", "--out", join(root, "show.png")]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: ${fifoLine}`);
    r = lavit(["extract", "--data", ds, "--split", "train", "--out", join(root, "sig"), "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: ${fifoLine}`);
    r = lavit(["ask", "what color is the circle ?", "--model", model, "--image", pipe]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: ${fifoLine}`);
    const sig = writeRun(join(root, "fifo-signals"), "img.png");
    const traj = fifo(join(sig, "trajectories", "a.json"));
    r = lavit(["signals", "check", sig]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: ${traj}: is a FIFO (named pipe), not a regular file; lavit reads only regular files`);
  }, 300_000);
});

describe("single output files", () => {
  it("data show --out and ask --heatmap refuse an existing file unless --force", () => {
    const png = join(root, "sample.png");
    writeFileSync(png, "mine");
    let r = lavit(["data", "show", data, "--split", "train", "--id", "000000", "--out", png]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: --out ${png} already exists (use --force to replace it)`);
    expect(readFileSync(png, "utf8")).toBe("mine");
    r = lavit(["data", "show", data, "--split", "train", "--id", "000000", "--out", png, "--force"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    const image = join(data, "train", "images", "000000.png");
    r = lavit(["ask", "what color is the circle ?", "--model", model, "--image", image, "--heatmap", png]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(`lavit: --heatmap ${png} already exists (use --force to replace it)`);
    r = lavit(["ask", "what color is the circle ?", "--model", model, "--image", image, "--heatmap", image, "--force"]);
    expect(r.status).toBe(2);
    expect(r.line).toMatch(/^lavit: --heatmap .* is the same path as --image /);
  }, 240_000);
});

describe("the lock and long names", () => {
  it("a lock path that is a folder is exit 2, and nothing is renamed aside", () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-lockdir-"));
    const out = join(parent, "ds");
    mkdirSync(lockFileFor(out));
    const r = lavit(["data", "generate", "--out", out, "--train", "2", "--test", "2", "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.line).toBe(
      `lavit: --out ${out}: its lock path ${lockFileFor(out)} is a folder, so no lock can be taken; remove it yourself or choose another --out`,
    );
    expect(readdirSync(parent)).toEqual([".ds.lavit-lock"]);
  }, 120_000);

  it("an --out whose name is 255 bytes is exit 2 with one line", () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-long-"));
    const name = "n".repeat(255);
    for (const args of [
      ["data", "generate", "--out", join(parent, name), "--train", "2", "--test", "2"],
      ["gap", "--teacher", parent, "--compare", parent, "--out", join(tmpdir(), name)],
    ]) {
      const r = lavit(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.line).toMatch(/^lavit: --out: the name n{40}\.\.\. is 255 bytes long; lavit allows at most 200 \(/);
    }
    expect(readdirSync(parent)).toEqual([]);
  }, 120_000);
});
