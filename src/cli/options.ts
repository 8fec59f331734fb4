import type { Command } from "commander";
import { TRAINER_DEFAULTS } from "../stages/trainer-options.js";
import { parseNumberIn, parsePositiveInt, parseSeedFlag } from "./parse.js";

/**
 * The options the user gave, without commander's defaults: the stage fills those in from its
 * own defaults object, so the CLI shows a default but never decides it.
 */
export function givenOptions<T>(cmd: Command): T {
  const all = cmd.opts();
  return Object.fromEntries(Object.entries(all).filter(([k]) => cmd.getOptionValueSource(k) !== "default")) as T;
}

/** Flags every trainer shares (teacher, base and students). */
export function addTrainerOptions(cmd: Command, steps: number, dataRequired = true): Command {
  const d = TRAINER_DEFAULTS;
  const data = "dataset folder (from `lavit data generate`)";
  return (dataRequired ? cmd.requiredOption("--data <dir>", data) : cmd.option("--data <dir>", data))
    .requiredOption("--out <dir>", "output folder for checkpoints and metrics.jsonl")
    .option("--steps <n>", "optimisation steps", parsePositiveInt("--steps"), steps)
    .option("--seed <n>", "random seed (initialisation and batch order)", parseSeedFlag(), d.seed)
    .option("--batch-size <n>", "samples per step", parsePositiveInt("--batch-size"), d.batchSize)
    .option("--lr <x>", "peak learning rate", parseNumberIn("--lr", 0, 1), d.lr)
    .option("--warmup <n>", "linear warm-up steps (default: 10% of --steps, at most 100)", parsePositiveInt("--warmup", true))
    .option("--min-lr-ratio <x>", "final learning rate as a fraction of the peak (cosine decay)", parseNumberIn("--min-lr-ratio", 0, 1), d.minLrRatio)
    .option("--weight-decay <x>", "AdamW decoupled weight decay", parseNumberIn("--weight-decay", 0, 1), d.weightDecay)
    .option("--clip <x>", "clip gradients to this global norm", parseNumberIn("--clip", 0, 1e6), d.clip)
    .option("--log-every <n>", "write a metrics.jsonl line every n steps", parsePositiveInt("--log-every"), d.logEvery)
    .option("--checkpoint-every <n>", "checkpoint every n steps", parsePositiveInt("--checkpoint-every"), d.checkpointEvery)
    .option("--resume", "continue the run in --out from its last checkpoint")
    .option("--quiet", "no progress output");
}
