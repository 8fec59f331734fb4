import { Command, Option } from "commander";
import { PRESETS } from "../stages/presets.js";
import { DEMO_IO, runDemo, type DemoOptions } from "../demo/pipeline.js";
import { declareIo } from "./io.js";
import { DEMO_DEFAULTS, demoOptionsSchema } from "../demo/recipe.js";
import { givenOptions } from "./options.js";
import { choicesOf, optionParser } from "./parse.js";

export function register(program: Command): void {
  const d = DEMO_DEFAULTS;
  declareIo(program.command("demo"), DEMO_IO)
    .description("the whole pipeline on the built-in benchmark: data, teacher signals, distill vs LaViT students, evaluation, report")
    .option("--out <dir>", "output folder", d.out)
    .option("--seeds <n>", "repeat with n data/training seeds (means and std in the report)", optionParser(demoOptionsSchema.shape, "seeds"), d.seeds)
    .option("--first-seed <n>", "the first seed (the others follow it: n, n + 1, ...)", optionParser(demoOptionsSchema.shape, "firstSeed"), d.firstSeed)
    .option(
      "--prior <p>",
      "probability that a train/test-id answer is its template's prior answer (the shortcut's strength)",
      optionParser(demoOptionsSchema.shape, "prior"),
      d.prior,
    )
    .addOption(
      new Option("--setting <name>", "benchmark setting of the data: default, or hard (crowded scenes of small objects; docs/benchmark.md)")
        .choices(choicesOf(demoOptionsSchema.shape, "setting"))
        .default(d.setting),
    )
    .option("--latents <k>", "latent visual thought tokens K of the lavit student", optionParser(demoOptionsSchema.shape, "latents"), d.latents)
    .addOption(
      new Option(
        "--preset <p>",
        "official: the public code's choices for the signals and every student (docs/fidelity.md); --full then leaves out the ablations that contradict it",
      ).choices([...PRESETS]),
    )
    .option("--full", "also train the ablations (no-traj, no-vtop, no-gate, two-stage, and K among 1, 2, 4, 8 other than --latents)")
    .option("--quick", "tiny sizes (about two minutes): a smoke test, not a result")
    .option("--resume", "continue an interrupted demo in --out")
    .option("--force", "recompute a demo whose report already exists in --out")
    .option("--teacher <dir>", "teacher model folder", d.teacher)
    .option("--student-base <dir>", "base model both students start from (`lavit train base`), or `none` to train them from scratch", d.studentBase ?? "none")
    .option(
      "--jobs <n>",
      "students trained at once, each in its own process with an equal share of the threads (default: a seed's students all at once, one thread each, at least one per thread; 1 trains them one after another on all threads)",
      optionParser(demoOptionsSchema.shape, "jobs"),
    )
    .option("--quiet", "no progress output")
    .action(async (_: unknown, cmd: Command) => {
      const o = givenOptions<DemoOptions & { studentBase?: string }>(cmd);
      await runDemo({ ...o, ...(o.studentBase === "none" ? { studentBase: null } : {}) });
    });
}
