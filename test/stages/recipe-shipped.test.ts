import { beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../../src/engine/index.js";
import { phaseDirs, quickRecipe, readRecipe, RECIPE_MODELS, runRecipe, type Recipe } from "../../src/stages/recipe.js";
import { LAVIT, runCli } from "../helpers/cli.js";
import { spawn } from "node:child_process";

/** Every recipe the repository ships, each run at its --quick sizes: the machinery, not the models. */
const RECIPES = readdirSync("recipes")
  .filter((f) => f.endsWith(".json"))
  .map((f) => join("recipes", f));

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** The earlier phases a phase may start from, by name. */
function starts(recipe: Recipe): { at: string; ref: unknown; earlier: string[] }[] {
  return recipe.phases.flatMap((p, i) =>
    (["init_from", "vision_from"] as const)
      .filter((k) => p[k] !== undefined)
      .map((k) => ({ at: `phases[${i}].${k}`, ref: p[k], earlier: recipe.phases.slice(0, i).map((q) => q.name) })),
  );
}

describe("the shipped recipes", () => {
  let root: string;
  beforeAll(async () => {
    await initEngine();
    root = mkdtempSync(join(tmpdir(), "lavit-recipes-"));
  });

  it("the teacher's and the student base's start from random weights and their own earlier phases only", () => {
    for (const file of ["recipes/teacher.json", "recipes/student-base.json"]) {
      const r = readRecipe(file);
      expect(r.from_scratch, file).toBe(true);
      expect(r.init_from, file).toBeUndefined();
      expect(r.model).toBe(file.includes("teacher") ? "teacher" : "student-base");
      for (const s of starts(r)) {
        expect(typeof s.ref, `${file}: ${s.at}`).toBe("object");
        expect(s.earlier, `${file}: ${s.at}`).toContain((s.ref as { phase: string }).phase);
      }
    }
    // The student base's vision tower is trained by the recipe itself.
    const base = readRecipe("recipes/student-base.json");
    expect(base.phases.some((p) => p.vision_from !== undefined)).toBe(true);
  });

  for (const file of RECIPES) {
    it(`${file} --quick: every phase runs; (from scratch) a run stopped mid-phase resumes to the same bytes; the same command twice gives the same bytes`, async () => {
      const recipe = readRecipe(file);
      const quick = quickRecipe(recipe);
      const name = file.replace(/\W/g, "-");

      // Uninterrupted, in this process.
      const clean = join(root, `${name}-clean`);
      const whole = await runRecipe(file, clean, { model: recipe.model, quick: true, quiet: true });
      for (const p of quick.phases) {
        const run = phaseDirs(clean, quick, p).run;
        expect(existsSync(join(run, "model.safetensors")), p.name).toBe(true);
        const steps = readFileSync(join(run, "metrics.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).step);
        expect(steps, p.name).toEqual(Array.from({ length: p.train.steps }, (_, i) => i + 1));
      }
      // What each phase's run says it started from: nothing, or a phase of this run (from scratch), as the recipe says.
      const started = quick.phases.map((p) => {
        const settings = JSON.parse(readFileSync(join(phaseDirs(clean, quick, p).run, "trainer_state.json"), "utf8")).settings;
        return [settings.init_from, settings.vision_from].filter((x) => x != null);
      });
      started.forEach((dirs, i) => expect(dirs.length, quick.phases[i].name).toBeLessThanOrEqual(1));
      if (recipe.from_scratch) {
        expect(started[0], "the first phase starts from random weights").toEqual([]);
        started.forEach((dirs, i) =>
          dirs.forEach((d) =>
            expect(
              quick.phases.slice(0, i).map((p) => phaseDirs(clean, quick, p).run),
              quick.phases[i].name,
            ).toContain(d),
          ),
        );
      }
      expect(whole.model).toBe(phaseDirs(clean, quick, quick.phases.at(-1)!).run);
      expect(whole.sha256).toBe(sha256(join(whole.model, "model.safetensors")));
      expect(JSON.parse(readFileSync(join(clean, "recipe.json"), "utf8"))).toEqual(JSON.parse(JSON.stringify(quick)));
      // A recipe that starts from an outside model keeps its full size at --quick: the shared machinery (resume, bytes) is proven by the from-scratch ones.
      if (!recipe.from_scratch) return;

      // Stopped after the last phase's first checkpoint, as a crash would; --resume skips the finished phases and continues that one.
      const last = quick.phases.at(-1)!;
      const halted = join(root, `${name}-halted`);
      const crash = new Error("crash");
      await expect(
        runRecipe(file, halted, {
          model: recipe.model,
          quick: true,
          quiet: true,
          onStep: (phase, info) => {
            if (phase === last.name && info.step === last.train.checkpoint_every! + 1) throw crash;
          },
        }),
      ).rejects.toBe(crash);
      const lines: string[] = [];
      const resumed = await runRecipe(file, halted, { model: recipe.model, quick: true, quiet: true, resume: true, log: (l) => lines.push(l) });
      expect(lines.filter((l) => l.includes("skipped"))).toHaveLength(quick.phases.length - 1);
      expect(lines.some((l) => l.startsWith(`phase ${last.name}`) && l.includes(`resuming at step ${last.train.checkpoint_every}`))).toBe(true);
      expect(resumed.sha256).toBe(whole.sha256);

      // The CLI, twice, with the same thread count.
      const shas = [1, 2].map((k) => {
        const r = runCli(["train", RECIPE_MODELS[recipe.model], "--recipe", file, "--quick", "--quiet", "--out", join(root, `${name}-cli-${k}`)], {
          LAVIT_THREADS: "2",
        });
        expect(r.status, r.stderr).toBe(0);
        return /sha256 ([0-9a-f]{64})/.exec(r.stderr)![1];
      });
      expect(shas[1]).toBe(shas[0]);
      expect(sha256(join(phaseDirs(join(root, `${name}-cli-1`), quick, last).run, "model.safetensors"))).toBe(shas[0]);
    }, 300_000);
  }
  it("recipes/teacher.json --quick killed (SIGKILL) mid-run: --resume finishes it to the same bytes as a run never stopped", async () => {
    const file = "recipes/teacher.json";
    const quick = quickRecipe(readRecipe(file));
    const env = { ...process.env, LAVIT_NO_PROGRESS: "1", LAVIT_THREADS: "2" };
    const args = (out: string, resume = false) => ["train", "teacher", "--recipe", file, "--quick", "--quiet", "--out", out, ...(resume ? ["--resume"] : [])];
    const whole = runCli(args(join(root, "kill-clean")), { LAVIT_THREADS: "2" });
    expect(whole.status, whole.stderr).toBe(0);
    const killed = join(root, "kill-me");
    // Killed once the third phase has begun: wherever that lands (data, training, a checkpoint), --resume must finish the same run.
    // A plain node process (not the tsx wrapper): the process killed is this one's child, so its exit is seen once it is reaped.
    const child = spawn(LAVIT.command, [...LAVIT.args, ...args(killed)], { env, detached: true, stdio: "ignore" });
    const exited = new Promise<void>((done) => child.on("exit", () => done()));
    // The second phase's model is written just before the third begins (its data may be an earlier phase's folder, so that folder says nothing).
    const secondDone = join(phaseDirs(killed, quick, quick.phases[1]).run, "model.safetensors");
    const watch = setInterval(() => {
      if (existsSync(secondDone)) {
        clearInterval(watch);
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already finished
        }
      }
    }, 20);
    await exited;
    clearInterval(watch);
    expect(existsSync(join(phaseDirs(killed, quick, quick.phases.at(-1)!).run, "model.safetensors")), "killed before it finished").toBe(false);
    const r = runCli(args(killed, true), { LAVIT_THREADS: "2" });
    expect(r.status, r.stderr).toBe(0);
    const sha = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)![1];
    expect(sha(r.stderr)).toBe(sha(whole.stderr));
  }, 300_000);
});
