import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { readManifest } from "../../src/data/manifest.js";
import { OFFICIAL_METADATA } from "../../src/signals/official-layout.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { tinyDataset } from "../helpers/tiny.js";
import { randomTeacherSignals } from "../helpers/signals.js";
import { timelessMetrics } from "../helpers/training.js";
import { runCli } from "../helpers/cli.js";

/** Every loss line but its wall clock: losses per term, gate, lr, gradient norm. */
const finalLoss = (dir: string) => timelessMetrics(dir).filter((l) => typeof l.loss === "number");

/** A tiny dataset and a folder for runs: what both tests start from. */
async function setUp(prefix: string) {
  await initEngine();
  const dataDir = await tinyDataset({ teacherTrain: 4, train: 12, test: 4 });
  return { dataDir, data: loadSplit(dataDir, "train"), base: mkdtempSync(join(tmpdir(), prefix)) };
}

/** `lavit train student` for 3 steps of a 2-latent student from nothing on `signals`, into `out`. */
function trainStudentCli(signals: string, dataDir: string, out: string, extra: string[] = []) {
  return runCli([
    "train",
    "student",
    "--signals",
    signals,
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
    out,
    ...extra,
  ]);
}

describe("extract --layout official, then train student --signals <official root>", () => {
  it("joins by question_id and trains exactly as with lavit's own layout (fp32 V_top)", async () => {
    const { dataDir, data, base } = await setUp("lavit-rt-");
    const lavitDir = join(base, "lavit");
    const officialDir = join(base, "official");
    await randomTeacherSignals(data, lavitDir);
    await randomTeacherSignals(data, officialDir, { layout: "official", vtopDtype: "fp32" });
    // A root from the official builder carries no lavit id: join by question_id alone.
    const metaFile = join(officialDir, OFFICIAL_METADATA);
    const meta = JSON.parse(readFileSync(metaFile, "utf8"));
    for (const r of meta.results) delete r.id;
    writeFileSync(metaFile, JSON.stringify(meta));
    const train = (sig: string, out: string) => trainStudentCli(sig, dataDir, join(base, out));
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

describe("train student --signals <official root>: the join", () => {
  it("joins question_id to the manifest's id whatever the metadata's order, refuses a wrong question, counts missing samples", async () => {
    const { dataDir, data, base } = await setUp("lavit-join-");
    const root = join(base, "official");
    await randomTeacherSignals(data, root, { layout: "official", vtopDtype: "fp32" });
    const manifest = readManifest(dataDir, "train");
    type Result = { id?: string; question_id: number; question: string; ground_truth_enriched: string };
    const meta = JSON.parse(readFileSync(join(root, OFFICIAL_METADATA), "utf8")) as { results: Result[] };
    // As the official builder writes it: no lavit id, the bare answer as the ground truth.
    const official = meta.results.map(({ id: _, ...r }) => ({ ...r, ground_truth_enriched: manifest[r.question_id].answer }));
    expect(official.map((r) => r.question_id)).toEqual(manifest.map((s) => Number(s.id)));
    const metadata = (name: string, results: Result[]) => {
      const file = join(base, `${name}.json`);
      writeFileSync(file, JSON.stringify({ results }));
      return file;
    };
    const train = (meta: string, out: string, extra: string[] = []) => trainStudentCli(root, dataDir, join(base, out), ["--metadata", meta, ...extra]);
    const inOrder = train(metadata("in-order", official), "a");
    expect(inOrder.status, inOrder.stderr).toBe(0);
    expect(inOrder.stderr).toBe("");
    // Reversed, and wrapped as lavit's answers: the same pairs and the same targets, so the same student.
    const reversed = [...official].reverse().map((r) => ({ ...r, ground_truth_enriched: `answer ${r.ground_truth_enriched}` }));
    const out = train(metadata("reversed", reversed), "b");
    expect(out.status, out.stderr).toBe(0);
    expect(finalLoss(join(base, "b"))).toEqual(finalLoss(join(base, "a")));
    expect(readFileSync(join(base, "b", "model.safetensors")).equals(readFileSync(join(base, "a", "model.safetensors")))).toBe(true);

    const wrong = official.map((r, k) => (k === 5 ? { ...r, question: "which shape is hidden ?" } : r));
    const refused = train(metadata("wrong", wrong), "c");
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`sample ${official[5].question_id}`);
    expect(refused.stderr).toContain('"which shape is hidden ?"');
    expect(refused.stderr).toContain(JSON.stringify(manifest[5].question));

    const missing = metadata(
      "missing",
      official.filter((_, k) => k !== 3),
    );
    const partial = train(missing, "d");
    expect(partial.status, partial.stderr).toBe(0);
    expect(partial.stderr).toMatch(/11 samples; 1 of the split without signals \(000003\)/);
    const strict = train(missing, "e", ["--strict"]);
    expect(strict.status).toBe(2);
    expect(strict.stderr).toMatch(/--strict: .*1 of the split without signals/);
  }, 300_000);
});
