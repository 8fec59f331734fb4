import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { OFFICIAL_METADATA } from "../../src/signals/official-layout.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { extractSignals } from "../../src/signals/extract.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";

const finalLoss = (dir: string) => {
  const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  // Everything but the wall clock: losses per term, gate, lr, gradient norm.
  return lines.filter((l) => typeof l.loss === "number").map(({ elapsed_s: _, ...rest }) => rest);
};

describe("extract --layout official, then train student --signals <official root>", () => {
  it("joins by question_id and trains exactly as with lavit's own layout (fp32 V_top)", async () => {
    await initEngine();
    const dataDir = tinyDataset({ teacherTrain: 4, train: 12, test: 4 });
    const data = loadSplit(dataDir, "train");
    const teacher = buildVlm(tinyConfig(data.tokenizer.size), 5);
    const base = mkdtempSync(join(tmpdir(), "lavit-rt-"));
    const lavitDir = join(base, "lavit");
    const officialDir = join(base, "official");
    const o = { method: "attention" as const, topk: 4, tau: 0.05, quiet: true };
    extractSignals(teacher, data.tokenizer, data, lavitDir, o);
    extractSignals(teacher, data.tokenizer, data, officialDir, { ...o, layout: "official", vtopDtype: "fp32" });
    teacher.dispose();
    // A root from the official builder carries no lavit id: join by question_id alone.
    const metaFile = join(officialDir, OFFICIAL_METADATA);
    const meta = JSON.parse(readFileSync(metaFile, "utf8"));
    for (const r of meta.results) delete r.id;
    writeFileSync(metaFile, JSON.stringify(meta));
    const train = (sig: string, out: string) =>
      runCli([
        "train",
        "student",
        "--signals",
        sig,
        "--data",
        dataDir,
        "--init-from",
        "none",
        "--latents",
        "2",
        "--steps",
        "3",
        "--warmup",
        "0",
        "--batch-size",
        "4",
        "--quiet",
        "--out",
        join(base, out),
      ]);
    const a = train(lavitDir, "sa");
    expect(a.status, a.stderr).toBe(0);
    const b = train(officialDir, "sb");
    expect(b.status, b.stderr).toBe(0);
    const la = finalLoss(join(base, "sa"));
    expect(la.length).toBeGreaterThan(0);
    expect(la.every((m) => Number.isFinite(m.loss) && Number.isFinite(m.loss_vtop) && Number.isFinite(m.loss_traj))).toBe(true);
    expect(finalLoss(join(base, "sb"))).toEqual(la);
    const check = runCli(["signals", "check", officialDir, "--data", dataDir, "--json"]);
    expect(check.status, check.stderr).toBe(0);
    const s = JSON.parse(check.stdout);
    expect(s).toMatchObject({ layout: "official", samples: 12, v_top_width: 24, v_top_dtype: "fp32", methods: ["attention_based"] });
    expect(s.grounding_mass).toBeGreaterThan(0);
    const checkLavit = JSON.parse(runCli(["signals", "check", lavitDir, "--data", dataDir, "--json"]).stdout);
    expect(checkLavit.grounding_mass).toBeCloseTo(s.grounding_mass, 9);
  }, 240_000);
});
