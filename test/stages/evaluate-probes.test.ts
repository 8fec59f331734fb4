import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm } from "../../src/model/vlm.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { loadModelFor, withModel } from "../../src/model/load.js";
import { extract } from "../../src/stages/extract.js";
import { trainStudent } from "../../src/stages/train-student.js";
import { evaluate, EVALUATE_DEFAULTS } from "../../src/stages/evaluate.js";
import { predictWithReadout } from "../../src/eval/evaluate.js";
import { swapPairs, swappedAnswers, swapProbe } from "../../src/eval/swap.js";
import { steerProbe } from "../../src/eval/steer.js";
import { cachedEvaluation } from "../../src/study/eval-cache.js";
import { isUserError } from "../../src/errors.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";

async function userError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isUserError(e), String(e)).toBe(true);
  return (e as Error).message;
}

describe("latent thoughts read two ways, and the answer probes, on tiny trained students", () => {
  let dataDir: string;
  let root: string;
  let pairs: LoadedSplit;
  beforeAll(async () => {
    await initEngine();
    dataDir = await tinyDataset({ teacherTrain: 4, train: 64, test: 12 });
    root = mkdtempSync(join(tmpdir(), "lavit-probes-"));
    const tok = loadSplit(dataDir, "train").tokenizer;
    const teacher = buildVlm(tinyConfig(tok.size), 5);
    saveModel(join(root, "teacher"), tinyConfig(tok.size), teacher.store, tok, 0);
    teacher.dispose();
    await extract({ data: dataDir, out: join(root, "signals"), teacher: join(root, "teacher"), quiet: true });
    const config = join(root, "student-config.json");
    writeFileSync(config, JSON.stringify(tinyConfig(tok.size)));
    const common = { data: dataDir, signals: join(root, "signals"), initFrom: null, config, latents: 2, batchSize: 16, lr: 3e-3, quiet: true };
    await trainStudent({ ...common, out: join(root, "lavit"), steps: 40 });
    await trainStudent({ ...common, out: join(root, "no-traj"), steps: 2, traj: false });
    await trainStudent({ ...common, out: join(root, "traj-attention"), steps: 2, trajSource: "attention" });
    pairs = loadSplit(dataDir, "test-pairs");
  }, 300_000);

  it("reports the head's read-out only for a student whose head was trained, the attention read-out for every student", async () => {
    const base = { data: dataDir, split: "test-id", teacher: join(root, "teacher"), quiet: true };
    const lavit = (await evaluate({ ...base, model: join(root, "lavit") })).result;
    expect(lavit.thoughts_head?.js_to_teacher).toBeGreaterThan(0);
    expect(lavit.thoughts_attention?.js_to_teacher).toBeGreaterThan(0);
    expect(lavit.thoughts_attention!.js_to_teacher).not.toBe(lavit.thoughts_head!.js_to_teacher);
    expect(lavit).not.toHaveProperty("thoughts");
    for (const name of ["no-traj", "traj-attention"]) {
      const r = (await evaluate({ ...base, model: join(root, name) })).result;
      expect(r, name).not.toHaveProperty("thoughts_head");
      expect(r.thoughts_attention?.grounding_mass, name).toBeGreaterThan(0);
    }
    // --dump-thoughts writes the attention read-out for such a student; the head is refused by name.
    const dump = join(root, "dump-no-traj");
    await evaluate({ ...base, model: join(root, "no-traj"), dumpThoughts: dump });
    expect(JSON.parse(readFileSync(join(dump, "metadata.json"), "utf8")).thoughts_readout).toBe("attention");
    expect(await userError(evaluate({ ...base, model: join(root, "no-traj"), dumpThoughts: join(root, "d2"), thoughtsReadout: "head" }))).toMatch(
      /--thoughts-readout head: .*no-traj's trajectory head was never trained/,
    );
    expect(await userError(evaluate({ ...base, model: join(root, "lavit"), thoughtsReadout: "head" }))).toMatch(/give --dump-thoughts/);
  });

  it("swap with the same image on both sides is plain generation", () => {
    withModel(loadModelFor(join(root, "lavit"), pairs, dataDir), async (m) => {
      const same = pairs.samples.map((_, i) => ({ a: i, b: i }));
      const plain = (await predictWithReadout(m.vlm, m.tokenizer, pairs, { latents: m.latents, quiet: true }, false)).predictions.map((p) => p.predicted);
      expect(swappedAnswers(m.vlm, m.tokenizer, pairs, same, m.latents, { quiet: true })).toEqual(plain);
    });
  });

  it("swap with the latents masked follows image B: each answer is the one the masked model gives on B alone", () => {
    withModel(loadModelFor(join(root, "lavit"), pairs, dataDir), async (m) => {
      const p = swapPairs(pairs.samples, EVALUATE_DEFAULTS.probeSeed);
      expect(p.length).toBe(pairs.samples.length);
      const onB = (await predictWithReadout(m.vlm, m.tokenizer, pairs, { latents: m.latents, quiet: true, probes: { maskLatents: true } }, false)).predictions;
      const swapped = swappedAnswers(m.vlm, m.tokenizer, pairs, p, m.latents, { maskLatents: true, quiet: true });
      expect(swapped).toEqual(p.map((q) => onB[q.b].predicted));
      const before = tf.memory().numTensors;
      const probe = swapProbe(m.vlm, m.tokenizer, pairs, m.latents, { seed: EVALUATE_DEFAULTS.probeSeed, quiet: true, batchSize: 3 });
      expect(tf.memory().numTensors).toBe(before);
      expect(probe.pairs).toBe(p.length);
      expect(probe.constant.follow_b).toBeCloseTo(p.filter((q) => onB[q.b].predicted === pairs.samples[q.b].answer).length / p.length, 12);
      for (const f of [probe, probe.constant]) expect(f.follow_a + f.follow_b + f.neither).toBeCloseTo(1, 12);
    });
  });

  it("steers the attribute questions' latents to another object, deterministically", () => {
    const ood = loadSplit(dataDir, "test-ood");
    withModel(loadModelFor(join(root, "lavit"), ood, dataDir), (m) => {
      const before = tf.memory().numTensors;
      const a = steerProbe(m.vlm, m.tokenizer, ood, m.latents, { quiet: true, batchSize: 5 });
      expect(tf.memory().numTensors).toBe(before);
      expect(a.samples + a.skipped).toBe(ood.samples.length);
      expect(a.samples).toBeGreaterThan(0);
      expect(a.samples).toBeLessThanOrEqual(ood.samples.filter((s) => s.family === "attribute").length);
      expect(a.to_other).toBeLessThanOrEqual(a.changed);
      // With the latents hidden from the text, where they look cannot change the answer (the first word is the unsteered one).
      expect(a.constant).toEqual({ changed: 0, to_other: 0 });
      expect(steerProbe(m.vlm, m.tokenizer, ood, m.latents, { quiet: true })).toEqual(a);
    });
  });

  it("the evaluation cache probes a model with latents when asked, redoes an entry that lacks an asked probe or predates the two read-outs", async () => {
    const dir = join(root, "cache");
    const run = (model: string, probes: ("swap" | "steer")[]) =>
      cachedEvaluation(join(dir, model), join(root, model), pairs, dataDir, { quiet: true, probes }, () => {});
    const first = await run("lavit", ["swap"]);
    expect(first.seconds).toBeGreaterThan(0);
    expect(first.result.probes?.swap?.pairs).toBe(pairs.samples.length);
    expect(first.thoughtMaps?.attention).toHaveLength(pairs.samples.length);
    const again = await run("lavit", ["swap"]);
    expect(again.seconds).toBe(0);
    expect(again.result.probes).toEqual(first.result.probes);
    // The maps are kept to 5 decimals.
    expect(Object.keys(again.thoughtMaps!).sort()).toEqual(["attention", "head"]);
    expect(again.thoughtMaps!.attention![3][0][5]).toBeCloseTo(first.thoughtMaps!.attention![3][0][5], 5);
    const more = await run("lavit", ["swap", "steer"]);
    expect(more.seconds).toBeGreaterThan(0);
    expect(more.result.probes?.steer).toBeDefined();
    // A model without latents has nothing to probe, and its entry stands.
    expect((await run("teacher", ["swap"])).result).not.toHaveProperty("probes");
    expect((await run("teacher", ["swap"])).seconds).toBe(0);
    const file = join(dir, "lavit", "test-pairs.json");
    const { thoughts_head, thoughts_attention, ...rest } = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...rest, thoughts: thoughts_head ?? thoughts_attention }));
    const redone = await run("lavit", []);
    expect(redone.seconds).toBeGreaterThan(0);
    expect(redone.result).toHaveProperty("thoughts_attention");
  });

  it("`lavit eval --probe swap,steer --json` reports both probes; a model without latents exits 2 naming it", () => {
    const r = runCli(["eval", "--model", join(root, "lavit"), "--data", dataDir, "--split", "test-pairs", "--probe", "swap", "--probe", "steer", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.probes.swap).sort()).toEqual(["constant", "follow_a", "follow_b", "neither", "pairs"]);
    expect(Object.keys(out.probes.steer).sort()).toEqual(["changed", "constant", "samples", "skipped", "to_other"]);
    expect(out.probes.swap.pairs).toBe(pairs.samples.length);
    const text = runCli(["eval", "--model", join(root, "lavit"), "--data", dataDir, "--split", "test-pairs", "--probe", "swap", "--quiet"]);
    expect(text.stdout).toMatch(/swap probe .*follows A/);
    expect(text.stdout).toMatch(/thoughts_head/);
    const none = runCli(["eval", "--model", join(root, "teacher"), "--data", dataDir, "--split", "test-pairs", "--probe", "swap"]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain(`--probe: ${join(root, "teacher")} has no latent thoughts`);
    const bad = runCli(["eval", "--model", join(root, "lavit"), "--data", dataDir, "--split", "test-pairs", "--probe", "swap,look"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--probe: unknown probe "look"/);
  });
});
