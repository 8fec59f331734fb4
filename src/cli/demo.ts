import { Command } from "commander";
import { GENERATE_DEFAULTS } from "../data/generate.js";
import { DEMO_FIRST_SEED, DEMO_LATENTS, runDemo, SHIPPED_STUDENT_BASE, SHIPPED_TEACHER } from "../demo/pipeline.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";

export function register(program: Command): void {
  program
    .command("demo")
    .description("the whole pipeline on the built-in benchmark: data, teacher signals, distill vs LaViT students, evaluation, report")
    .option("--out <dir>", "output folder", "runs/demo")
    .option("--seeds <n>", "repeat with n data/training seeds (means and std in the report)", parsePositiveInt("--seeds"), 1)
    .option("--first-seed <n>", "the first seed (the others follow it: n, n + 1, ...)", parsePositiveInt("--first-seed"), DEMO_FIRST_SEED)
    .option("--prior <p>", "probability that a train/test-id answer is its template's prior answer (the shortcut's strength)", parseNumberIn("--prior", 0, 1), GENERATE_DEFAULTS.prior)
    .option("--latents <k>", "latent visual thought tokens K of the lavit student", parsePositiveInt("--latents"), DEMO_LATENTS)
    .option("--full", "also train the ablations (no-traj, no-vtop, no-gate, two-stage, and K among 1, 2, 4, 8 other than --latents)")
    .option("--quick", "tiny sizes (about two minutes): a smoke test, not a result")
    .option("--resume", "continue an interrupted demo in --out")
    .option("--force", "recompute a demo whose report already exists in --out")
    .option("--teacher <dir>", "teacher model folder", SHIPPED_TEACHER)
    .option("--student-base <dir>", "base model both students start from (`lavit train base`), or `none` to train them from scratch", SHIPPED_STUDENT_BASE)
    .option("--jobs <n>", "students trained at once, each in its own process with an equal share of the threads (default: one per thread; 1 trains them one after another on all threads)", parsePositiveInt("--jobs"))
    .option("--quiet", "no progress output")
    .action(async (f: { out: string; seeds: number; firstSeed: number; prior: number; full?: boolean; quick?: boolean; resume?: boolean; force?: boolean; teacher: string; studentBase: string; latents: number; jobs?: number; quiet?: boolean }) => {
      const studentBase = f.studentBase === "none" ? null : f.studentBase;
      await runDemo({ out: f.out, seeds: f.seeds, firstSeed: f.firstSeed, prior: f.prior, full: !!f.full, quick: !!f.quick, resume: !!f.resume, force: !!f.force, teacher: f.teacher, studentBase, latents: f.latents, jobs: f.jobs, quiet: !!f.quiet });
    });
}
