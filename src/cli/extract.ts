import { Command, Option } from "commander";
import { EXTRACT_DEFAULTS, extract, type ExtractStageOptions } from "../stages/extract.js";
import { givenOptions } from "./options.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";

export function register(program: Command): void {
  const d = EXTRACT_DEFAULTS;
  program
    .command("extract")
    .description("run the teacher and write its white-box signals (trajectories + V_top) in the LaViT layout")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--out <dir>", "signals folder to write")
    .option("--teacher <dir>", "teacher model folder", d.teacher)
    .option("--split <split>", "split to extract", d.split)
    .addOption(new Option("--method <m>", "trajectory signal").choices(["attention", "gradient"]).default(d.method))
    .addOption(new Option("--layout <l>", "signals layout: lavit's (safetensors) or the official LaViT one (.pth, for its PyTorch trainer)").choices(["lavit", "official"]).default(d.layout))
    .option("--topk <k>", "top-k patch indices stored per step", parsePositiveInt("--topk"), d.topk)
    .option("--tau <t>", "softmax temperature of the gradient method", parseNumberIn("--tau", 1e-4, 10), d.tau)
    .option("--limit <n>", "only the first n samples", parsePositiveInt("--limit"))
    .option("--allow-outside-root", "read manifest images that lead outside the --data folder")
    .option("--force", "replace an existing --out folder made by lavit extract")
    .option("--quiet", "no progress output")
    .action(async (_: unknown, cmd: Command) => {
      await extract(givenOptions<ExtractStageOptions>(cmd));
    });
}
