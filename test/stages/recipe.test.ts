import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit } from "../../src/data/dataset.js";
import { readRecipe, runRecipe } from "../../src/stages/recipe.js";
import { trainBase, trainTeacher } from "../../src/stages/pretrain.js";
import { tinyConfig } from "../helpers/tiny.js";
import { runCli } from "../helpers/cli.js";
import { Tokenizer } from "../../src/data/tokenizer.js";

function recipe(root: string, body: unknown): string {
  const file = join(root, `recipe-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ model: "teacher", ...(body as object) }));
  return file;
}

describe("recipe", () => {
  let root: string;
  let cfg: string;
  const phase = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    data: { seed: 5, teacher_train: 12, train: 2, test: 2, size: 32, patch: 8 },
    train: {
      steps: 3,
      warmup: 1,
      batch_size: 4,
      lr: 0.003,
      checkpoint_every: 2,
      log_every: 1,
      config: cfg,
      aux_patch: 0.5,
      answer_weight: 2,
      ground_attention: 0.5,
      family_weight: { depth: 2 },
    },
    ...extra,
  });
  beforeAll(async () => {
    await initEngine();
    root = mkdtempSync(join(tmpdir(), "lavit-recipe-"));
    cfg = join(root, "tiny.json");
    writeFileSync(cfg, JSON.stringify(tinyConfig(Tokenizer.forGrammar().size, { hidden: 16, layers: 1, maxPositions: 64 })));
  });

  it("reads init_from relative to the recipe file, wherever lavit runs from", () => {
    const file = recipe(root, { init_from: "no-such-start", phases: [phase("a")] });
    const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, "rel")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(join(root, "no-such-start"));
  });

  it("an unknown key names the file and the key, exit 2", () => {
    const good = { phases: [phase("a")] };
    const bad = structuredClone(good) as { phases: { train: Record<string, unknown> }[] };
    bad.phases[0].train.stepz = 3;
    const file = recipe(root, bad);
    const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, "x")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('unknown key "phases[0].train.stepz"');
    expect(() => readRecipe(recipe(root, { ...good, phasez: [] }))).toThrow(/unknown key "phasez"/);
  });

  it("an unknown phase, a demo seed or a repeated phase name is refused, naming the key", () => {
    const file = recipe(root, { phases: [phase("a"), phase("b", { init_from: { phase: "nope" } })] });
    const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, "y")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: phases[1].init_from.phase: unknown phase "nope"`);
    const demoSeed = phase("a");
    demoSeed.data.seed = 101;
    expect(() => readRecipe(recipe(root, { phases: [demoSeed] }))).toThrow(/phases\[0\]\.data\.seed: seeds >= 100/);
    expect(() => readRecipe(recipe(root, { phases: [phase("a"), phase("a")] }))).toThrow(/phases\[1\]\.name: phase "a" is named twice/);
    expect(() => readRecipe(recipe(root, { phases: [phase("Bad Name")] }))).toThrow(/phases\[0\]\.name/);
  });

  it("flags that the recipe sets are refused beside --recipe", () => {
    const file = recipe(root, { phases: [phase("a")] });
    const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, "z"), "--steps", "5"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--steps cannot be combined with --recipe");
  });

  it("runs the phases in order, each as `train teacher` with the same flags would; --resume skips finished phases", async () => {
    const file = recipe(root, { phases: [phase("first"), phase("second", { data: { seed: 6, teacher_train: 8, train: 2, test: 2, size: 32, patch: 8 } })] });
    const out = join(root, "run");
    const r = await runRecipe(file, out, { model: "teacher", quiet: true });
    expect(r.model).toBe(join(out, "second"));
    // The second phase started from the first's weights: the same run by hand gives the same bytes.
    const byHand = join(root, "by-hand");
    const loaded = loadSplit(join(out, "data-second"), "teacher-train");
    expect(loaded.info.seed).toBe(6);
    await trainTeacher({
      data: join(out, "data-second"),
      out: byHand,
      config: cfg,
      initFrom: join(out, "first"),
      auxPatch: 0.5,
      answerWeight: 2,
      groundAttention: 0.5,
      familyWeight: { depth: 2 },
      ...{
        steps: 3,
        batchSize: 4,
        lr: 0.003,
        warmup: 1,
        minLrRatio: 0.1,
        weightDecay: 0.05,
        clip: 1,
        seed: 0,
        logEvery: 1,
        checkpointEvery: 2,
        resume: false,
        quiet: true,
      },
    });
    expect(readFileSync(join(byHand, "model.safetensors")).equals(readFileSync(join(out, "second", "model.safetensors")))).toBe(true);
    const metrics = readFileSync(join(out, "second", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
    expect(metrics[0].loss_ground).toBeGreaterThan(0);

    await expect(runRecipe(file, out, { model: "teacher", quiet: true })).rejects.toThrow(/already holds a recipe run/);
    const before = statSync(join(out, "second", "model.safetensors")).mtimeMs;
    const lines: string[] = [];
    await runRecipe(file, out, { model: "teacher", resume: true, quiet: true, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.includes("skipped"))).toHaveLength(2);
    expect(statSync(join(out, "second", "model.safetensors")).mtimeMs).toBe(before);

    // A phase stopped before it finished (here: never started) runs on --resume; the finished one is skipped.
    rmSync(join(out, "second"), { recursive: true });
    const again: string[] = [];
    await runRecipe(file, out, { model: "teacher", resume: true, quiet: true, log: (l) => again.push(l) });
    expect(again[0]).toMatch(/phase first: finished .* skipped/);
    expect(readFileSync(join(byHand, "model.safetensors")).equals(readFileSync(join(out, "second", "model.safetensors")))).toBe(true);

    // A recipe that changes or drops a phase that ran is refused; one that adds a phase after them runs it.
    const other = recipe(root, { phases: [phase("first")] });
    await expect(runRecipe(other, out, { model: "teacher", resume: true, quiet: true })).rejects.toThrow(
      /phases\[1\] differs from the recipe .* \(phase "second"\)/,
    );
    const changed = phase("second", { data: { seed: 6, teacher_train: 8, train: 2, test: 2, size: 32, patch: 8 } }) as ReturnType<typeof phase>;
    changed.train.lr = 0.001;
    await expect(runRecipe(recipe(root, { phases: [phase("first"), changed] }), out, { model: "teacher", resume: true, quiet: true })).rejects.toThrow(
      /phases\[1\] differs/,
    );
    const longer = recipe(root, {
      phases: [
        phase("first"),
        phase("second", { data: { seed: 6, teacher_train: 8, train: 2, test: 2, size: 32, patch: 8 } }),
        phase("third", { init_from: { phase: "first" } }),
      ],
    });
    const grown: string[] = [];
    const r3 = await runRecipe(longer, out, { model: "teacher", resume: true, quiet: true, log: (l) => grown.push(l) });
    expect(r3.model).toBe(join(out, "third"));
    expect(grown.filter((l) => l.includes("skipped"))).toHaveLength(2);
    expect(grown.some((l) => l.includes(`from ${join(out, "first")}`))).toBe(true);
  }, 120_000);
  it('a "from_scratch" recipe that starts outside its own phases is exit 2, naming the key', () => {
    const shipped = JSON.parse(readFileSync("recipes/teacher.json", "utf8"));
    const cases: [string, (r: { init_from?: string; phases: Record<string, unknown>[] }) => void][] = [
      ["phases[2].init_from", (r) => (r.phases[2].init_from = "../models/teacher-shapes")],
      ["init_from", (r) => (r.init_from = "teacher-start")],
    ];
    for (const [key, edit] of cases) {
      const body = structuredClone(shipped);
      edit(body);
      const file = recipe(root, body);
      const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, `scratch-${key}`)]);
      expect(r.status, key).toBe(2);
      expect(r.stderr).toContain(`${file}: ${key}: `);
      expect(r.stderr).toContain("from_scratch");
    }
    // The same start in a recipe that does not claim to be from scratch is its business.
    const body = structuredClone(shipped);
    body.from_scratch = false;
    body.phases[2].init_from = "elsewhere";
    expect(readRecipe(recipe(root, body)).phases[2].init_from).toBe("elsewhere");
    const base = JSON.parse(readFileSync("recipes/student-base.json", "utf8"));
    base.phases[1].vision_from = "../models/teacher-shapes";
    expect(() => readRecipe(recipe(root, base))).toThrow(
      /: phases\[1\]\.vision_from: "[^"]*teacher-shapes" is outside the recipe; a "from_scratch": true recipe/,
    );
  });

  it("flag combinations a stage refuses are refused when the recipe is read, in a late phase too, naming the recipe's keys", () => {
    const late = (train: Record<string, unknown>) => recipe(root, { phases: [phase("a"), phase("b", { train: { ...phase("b").train, ...train } })] });
    expect(() => readRecipe(late({ vision_only: true, ground_attention: 0 }))).not.toThrow();
    expect(() => readRecipe(late({ vision_only: true, ground_attention: 0, aux_patch: 0 }))).toThrow(
      /phases\[1\]\.train\.vision_only: .*aux_patch must be above 0/,
    );
    expect(() => readRecipe(late({ vision_only: true }))).toThrow(/phases\[1\]\.train\.vision_only: .*cannot be combined with ground_attention/);
    expect(() => readRecipe(late({ warmup: 3 }))).toThrow(/phases\[1\]\.train\.warmup: 3 must be smaller than steps 3/);
    const r = runCli(["train", "teacher", "--recipe", late({ vision_only: true, aux_patch: 0, ground_attention: 0 }), "--out", join(root, "flags")]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/--aux-patch|--vision-only/);
  });

  it("stages: a base phase takes no teacher-only key, starts only from its own kind of phase, and the last phase makes the recipe's model", () => {
    const teacherPhase = { ...phase("a"), stage: "teacher" };
    const base = (extra: Record<string, unknown> = {}) => {
      const p = phase("b", extra) as { train: Record<string, unknown> } & Record<string, unknown>;
      for (const k of ["answer_weight", "ground_attention", "family_weight"]) delete p.train[k];
      return { ...p, stage: "base" };
    };
    expect(() => readRecipe(recipe(root, { model: "student-base", phases: [{ ...base(), train: { ...base().train, ground_attention: 1 } }] }))).toThrow(
      /phases\[0\]\.train\.ground_attention: a base phase has no ground_attention/,
    );
    expect(() => readRecipe(recipe(root, { model: "student-base", phases: [{ ...base(), train: { ...base().train, vision_only: true } }] }))).toThrow(
      /phases\[0\]\.train\.vision_only: a base phase has no vision_only/,
    );
    expect(() => readRecipe(recipe(root, { model: "student-base", phases: [teacherPhase, base()] }))).toThrow(/phases\[1\]: follows a teacher phase/);
    expect(() => readRecipe(recipe(root, { model: "student-base", phases: [teacherPhase, base({ init_from: { phase: "a" } })] }))).toThrow(
      /phases\[1\]\.init_from\.phase: phase "a" is a teacher phase/,
    );
    expect(() => readRecipe(recipe(root, { model: "student-base", phases: [teacherPhase] }))).toThrow(
      /phases\[0\]\.stage: the last phase makes the recipe's model/,
    );
    expect(() => readRecipe(recipe(root, { phases: [phase("a", { vision_from: "x" })] }))).toThrow(/phases\[0\]\.vision_from: only a base phase/);
    const ok = readRecipe(recipe(root, { model: "student-base", phases: [teacherPhase, base({ vision_from: { phase: "a" } })] }));
    expect(ok.phases[1].vision_from).toEqual({ phase: "a" });
    // A student-base recipe is `train base`'s, not `train teacher`'s.
    const file = recipe(root, { model: "student-base", phases: [teacherPhase, base({ vision_from: { phase: "a" } })] });
    const r = runCli(["train", "teacher", "--recipe", file, "--out", join(root, "wrong-command")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: model: the recipe makes a student-base; run it with \`lavit train base --recipe\``);
    const q = runCli(["train", "base", "--data", "x", "--out", join(root, "q"), "--quick"]);
    expect(q.status).toBe(2);
    expect(q.stderr).toContain("--quick needs --recipe");
  });

  it("a base phase takes its vision tower from an earlier teacher phase, as `train base --vision-from` would", async () => {
    const teacherPhase = { ...phase("a"), stage: "teacher" };
    const basePhase = phase("b", { stage: "base", vision_from: { phase: "a" } }) as { train: Record<string, unknown> } & Record<string, unknown>;
    for (const k of ["answer_weight", "ground_attention", "family_weight"]) delete basePhase.train[k];
    const tinyBase = join(root, "tiny-base.json");
    writeFileSync(tinyBase, JSON.stringify(tinyConfig(Tokenizer.forGrammar().size, { hidden: 12, layers: 1, maxPositions: 64 })));
    basePhase.train.config = tinyBase;
    const file = recipe(root, { model: "student-base", phases: [teacherPhase, basePhase] });
    const out = join(root, "base-run");
    const r = await runRecipe(file, out, { model: "student-base", quiet: true });
    expect(r.model).toBe(join(out, "b"));
    const byHand = join(root, "base-by-hand");
    // b asks for a's data, so it reads a's folder: generated once.
    expect(existsSync(join(out, "data-b"))).toBe(false);
    await trainBase({
      data: join(out, "data-a"),
      out: byHand,
      config: tinyBase,
      visionFrom: join(out, "a"),
      auxPatch: 0.5,
      steps: 3,
      batchSize: 4,
      lr: 0.003,
      warmup: 1,
      logEvery: 1,
      checkpointEvery: 2,
      quiet: true,
    });
    expect(readFileSync(join(byHand, "model.safetensors")).equals(readFileSync(join(out, "b", "model.safetensors")))).toBe(true);
  }, 120_000);
});
