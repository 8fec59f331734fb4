import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { inChromium } from "../helpers/chromium.js";
import type { StudyReport } from "../../src/study/report.js";
import type { CellRecord } from "../../src/study/tasks.js";

// The built CLI (npm test builds first): each cell is a worker process, and from dist it starts fast.
const RUN_RECORD_FILE = "study-run.json";
const BIN = join(process.cwd(), "bin", "lavit.js");
const SMOKE = join(process.cwd(), "studies", "smoke.json");
const env = { ...process.env, LAVIT_NO_PROGRESS: "1" };

function lavit(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env });
}

function finished(dir: string): string[] {
  const cells = join(dir, "cells");
  return existsSync(cells) ? readdirSync(cells).filter((id) => existsSync(join(cells, id, "cell.json"))) : [];
}

/** Copies what docs/studies keeps of a run folder: its run record, the references, and the records of the cells `ids`. */
function keepRecords(from: string, to: string, ids: readonly string[]): void {
  for (const f of [RUN_RECORD_FILE, ...readdirSync(join(from, "refs")).map((k) => join("refs", k, "reference.json"))]) {
    mkdirSync(join(to, dirname(f)), { recursive: true });
    copyFileSync(join(from, f), join(to, f));
  }
  for (const id of ids) {
    mkdirSync(join(to, "cells", id), { recursive: true });
    copyFileSync(join(from, "cells", id, "cell.json"), join(to, "cells", id, "cell.json"));
  }
}

function metricsById(rep: StudyReport): Record<string, unknown> {
  return Object.fromEntries(rep.records.map((r) => [r.id, r.metrics]));
}

describe("lavit study on studies/smoke.json", () => {
  it("runs killed and resumed, and sharded and merged, to the same metrics; refuses what it must", async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-study-"));
    const whole = join(root, "whole");

    // Killed (SIGKILL, the whole process group) once a cell has finished, then resumed.
    const child = spawn(process.execPath, [BIN, "study", "run", SMOKE, "--out", whole], { env, detached: true, stdio: "ignore" });
    const t0 = Date.now();
    while (finished(whole).length < 1 && Date.now() - t0 < 240_000) await new Promise((r) => setTimeout(r, 200));
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const before = finished(whole);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(8);
    const mtimes = before.map((id) => statSync(join(whole, "cells", id, "cell.json")).mtimeMs);
    const resumed = lavit(["study", "run", SMOKE, "--out", whole, "--resume"]);
    expect(resumed.stderr).toContain(`${before.length} already finished`);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(finished(whole)).toHaveLength(8);
    expect(before.map((id) => statSync(join(whole, "cells", id, "cell.json")).mtimeMs)).toEqual(mtimes);

    // The second half as a shard in its own folder, merged by the report with the records of
    // the first half's cells (what a shard's folder keeps), to the whole run's metrics.
    const r = lavit(["study", "run", SMOKE, "--out", join(root, "shard-2"), "--shard", "2/2", "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    expect(finished(join(root, "shard-2"))).toHaveLength(4);
    const firstHalf = lavit(["study", "cells", SMOKE, "--shard", "1/2"]).stdout.trim().split("\n");
    keepRecords(whole, join(root, "shard-1"), firstHalf);
    const merged = lavit(["study", "report", join(root, "shard-1"), join(root, "shard-2"), "--out", join(root, "merged")]);
    expect(merged.status, merged.stderr).toBe(0);
    const alone = lavit(["study", "report", whole, "--out", join(root, "alone")]);
    expect(alone.status, alone.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(root, "merged", "study.json"), "utf8")) as StudyReport;
    const b = JSON.parse(readFileSync(join(root, "alone", "study.json"), "utf8")) as StudyReport;
    expect(a.cells_found).toBe(8);
    expect(a.missing).toEqual([]);
    expect(metricsById(a)).toEqual(metricsById(b));
    expect(a.records.every((r) => r.study.sha256 === a.study.sha256 && r.lavit.version)).toBe(true);
    expect(a.differences.some((d) => d.a === "lavit" && d.b === "no-align" && d.metric === "accuracy" && d.n === 2)).toBe(true);

    // Every chart is also an SVG file that study.md links; a report made again replaces the folder.
    const chartsDir = join(root, "merged", "charts");
    const svgs = readdirSync(chartsDir);
    expect(svgs.length).toBeGreaterThan(0);
    const links = [...readFileSync(join(root, "merged", "study.md"), "utf8").matchAll(/\]\(charts\/([^)]+)\)/g)].map((m) => m[1]);
    expect(links.sort()).toEqual(svgs.sort());
    expect(readFileSync(join(chartsDir, svgs[0]), "utf8")).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    writeFileSync(join(chartsDir, "stale.svg"), "<svg/>");
    // --attribute repeats: one table per spec.
    const again = lavit([
      ...["study", "report", join(root, "shard-1"), join(root, "shard-2"), "--out", join(root, "merged"), "--force"],
      ...["--attribute", "lavit,no-align,no-align", "--attribute", "lavit,no-align,no-align:grounding_mass"],
    ]);
    expect(again.status, again.stderr).toBe(0);
    // The old charts again, the stale file gone, and per --attribute its rule drawn against train.
    const after = readdirSync(chartsDir);
    expect(after).toEqual(expect.arrayContaining(svgs));
    expect(after.filter((f) => !svgs.includes(f)).sort()).toEqual([
      "test-ood-accuracy-lavit-minus-no-align-against-lavit-minus-no-align-by-train.svg",
      "test-ood-grounding-mass-lavit-minus-no-align-against-lavit-minus-no-align-by-train.svg",
    ]);
    const rule = readFileSync(join(chartsDir, "test-ood-accuracy-lavit-minus-no-align-against-lavit-minus-no-align-by-train.svg"), "utf8");
    expect([...rule.matchAll(/data-name="([^"]+)"/g)].map((m) => m[1])).toEqual(["gain: lavit − no-align", "part: lavit − no-align", "half the gain"]);
    const attributed = JSON.parse(readFileSync(join(root, "merged", "study.json"), "utf8")) as StudyReport;
    expect(attributed.attributions.map((x) => x.spec.metric)).toEqual(["accuracy", "grounding_mass"]);
    expect(readFileSync(join(root, "merged", "study.md"), "utf8").match(/^## What lavit − no-align carries/gm)).toHaveLength(2);

    await inChromium(join(root, "merged", "study.html"), { width: 1200, height: 900 }, async (page) => {
      const requests: string[] = [];
      page.on("request", (req) => requests.push(req.url()));
      await page.reload();
      expect(await page.$$eval("#charts svg.chart", (s) => s.length)).toBeGreaterThan(0);
      expect(await page.$$eval("#charts .band", (s) => s.length)).toBeGreaterThan(0);
      expect(await page.$$eval("#cells tbody tr", (r) => r.length)).toBe(8);
      expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
    });

    // A run kept as records alone (what docs/studies keeps) resumes: its missing cell is made
    // again, data, signals and the teacher's maps with it, to the same metrics.
    const records = join(root, "records");
    keepRecords(whole, records, finished(whole).slice(1));
    const fromRecords = lavit(["study", "run", SMOKE, "--out", records, "--resume", "--quiet"]);
    expect(fromRecords.status, fromRecords.stderr).toBe(0);
    const redone = finished(whole)[0];
    const cellRecord = (run: string) => JSON.parse(readFileSync(join(run, "cells", redone, "cell.json"), "utf8")) as CellRecord;
    // Alone, the redone cell gets the threads it had among all the study's cells, not all of them.
    expect(cellRecord(records).engine).toEqual(cellRecord(whole).engine);
    expect(cellRecord(records).metrics).toEqual(cellRecord(whole).metrics);

    // A changed study file is a new study: --resume names what changed.
    const changed = join(root, "changed.json");
    const spec = JSON.parse(readFileSync(SMOKE, "utf8")) as { factors: { data: { train: number[] } } };
    spec.factors.data.train = [32, 64];
    writeFileSync(changed, JSON.stringify(spec));
    const refused = lavit(["study", "run", changed, "--out", whole, "--resume"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/factors\.data\.train differs/);

    // Folders of two different study files are not merged.
    const other = join(root, "other");
    const o = lavit(["study", "run", changed, "--out", other, "--shard", "1/1", "--max-cells", "1"]);
    expect(o.status).toBe(2);
    expect(o.stderr).toMatch(/the grid has 8 cells, over --max-cells 1/);
  }, 600_000);

  it("refuses bad shards and study files with exit 2, before running anything", () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-study-bad-"));
    for (const shard of ["0/2", "3/2", "1/0"]) {
      const r = lavit(["study", "run", SMOKE, "--out", join(root, "x"), "--shard", shard]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--shard must be I\/N/);
      expect(existsSync(join(root, "x"))).toBe(false);
    }
    const bad = join(root, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(SMOKE, "utf8")), variants: { lavit: { noTraj: true } } }));
    const r = lavit(["study", "run", bad, "--out", join(root, "y")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toMatch(/variants\.lavit.*noTraj/);
    const cells = lavit(["study", "cells", SMOKE, "--shard", "2/2"]);
    expect(cells.stdout.trim().split("\n")).toHaveLength(4);
  });
});
