import { Command, Option } from "commander";
import { runGemmBench } from "../bench/gemm.js";
import { BENCH_CONFIGS, BENCH_STEP_FIELDS, runStepBench, type BenchConfigName } from "../bench/step.js";
import { runTeacherStepBench } from "../bench/teacher-step.js";
import { UserError } from "../errors.js";
import { formatKernelTable, withKernelProfile } from "../engine/profile.js";
import { initEngine } from "../engine/index.js";
import { optionParser, parsePositiveInt } from "./parse.js";

export function register(program: Command): void {
  const bench = program.command("bench").description("performance benchmarks");
  bench
    .command("step")
    .description(
      "time one training step: the transformer of shared/bench/transformer_step.md (small, base), or the teacher's with the grounding term (teacher)",
    )
    .addOption(new Option("--config <name>", "model size").choices([...Object.keys(BENCH_CONFIGS), "teacher"]).default("small"))
    .option("--steps <n>", "timed steps", optionParser(BENCH_STEP_FIELDS, "steps"), 10)
    .option("--warmup <n>", "untimed warm-up steps", optionParser(BENCH_STEP_FIELDS, "warmup"), 3)
    .option(
      "--unfused",
      "teacher only: the grounding term on every head's probabilities through the tfjs formulation (the path before the fused kernel), for comparison",
    )
    .option("--profile", "print a per-kernel time table to stderr")
    .option("--json", "print only the JSON result line")
    .action(async (opts: { config: BenchConfigName | "teacher"; steps: number; warmup: number; unfused?: boolean; profile?: boolean; json?: boolean }) => {
      if (opts.unfused && opts.config !== "teacher")
        throw new UserError(`--unfused: only --config teacher has a grounding term to run unfused, not --config ${opts.config}`);
      await initEngine();
      const onStep = opts.json
        ? undefined
        : (i: number, ms: number) => process.stderr.write(`${i < opts.warmup ? "warm-up" : "step"} ${i + 1}: ${ms.toFixed(1)} ms\n`);
      const run = async (): Promise<object> => {
        if (opts.config === "teacher") return runTeacherStepBench({ steps: opts.steps, warmup: opts.warmup, unfused: opts.unfused, onStep });
        const { loss_first: _f, loss_last: _l, ...line } = await runStepBench(opts.config, opts.steps, opts.warmup, onStep);
        return line;
      };
      let result;
      if (opts.profile) {
        const t0 = performance.now();
        const p = await withKernelProfile(run);
        result = p.result;
        process.stderr.write(formatKernelTable(p.table, performance.now() - t0, 20) + "\n");
      } else {
        result = await run();
      }
      process.stdout.write(JSON.stringify(result) + "\n");
    });
  bench
    .command("gemm")
    .description("the matrix-product peak the step benchmark is measured against (square sgemm on the engine's threads)")
    .option("--size <n>", "matrix size", parsePositiveInt("--size", false, 8192), 1024)
    .option("--reps <n>", "timed products", parsePositiveInt("--reps"), 10)
    .action(async (opts: { size: number; reps: number }) => {
      process.stdout.write(JSON.stringify(await runGemmBench(opts.size, opts.reps)) + "\n");
    });
}
