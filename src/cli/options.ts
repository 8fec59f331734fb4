import type { Command } from "commander";
import { TRAINER_DEFAULTS, TRAINER_FIELDS } from "../stages/trainer-options.js";
import { optionParser } from "./parse.js";

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
    .option("--steps <n>", "optimisation steps", optionParser(TRAINER_FIELDS, "steps"), steps)
    .option("--seed <n>", "random seed (initialisation and batch order)", optionParser(TRAINER_FIELDS, "seed"), d.seed)
    .option("--batch-size <n>", "samples per step", optionParser(TRAINER_FIELDS, "batchSize"), d.batchSize)
    .option("--lr <x>", "peak learning rate", optionParser(TRAINER_FIELDS, "lr"), d.lr)
    .option("--warmup <n>", "linear warm-up steps (default: 10% of --steps, at most 100)", optionParser(TRAINER_FIELDS, "warmup"))
    .option("--min-lr-ratio <x>", "final learning rate as a fraction of the peak (cosine decay)", optionParser(TRAINER_FIELDS, "minLrRatio"), d.minLrRatio)
    .option("--weight-decay <x>", "AdamW decoupled weight decay", optionParser(TRAINER_FIELDS, "weightDecay"), d.weightDecay)
    .option("--clip <x>", "clip gradients to this global norm", optionParser(TRAINER_FIELDS, "clip"), d.clip)
    .option("--log-every <n>", "write a metrics.jsonl line every n steps", optionParser(TRAINER_FIELDS, "logEvery"), d.logEvery)
    .option("--checkpoint-every <n>", "checkpoint every n steps", optionParser(TRAINER_FIELDS, "checkpointEvery"), d.checkpointEvery)
    .option("--resume", "continue the run in --out from its last checkpoint")
    .option("--quiet", "no progress output");
}
