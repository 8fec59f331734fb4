import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { buildDirAtomic, writeFileAtomic } from "../util/atomic.js";
import { UserError } from "../errors.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";
import { generateDataset, GENERATE_DEFAULTS } from "../data/generate.js";
import { checkSplit, readDatasetInfo, readManifest } from "../data/manifest.js";
import { computeStats, formatStats } from "../data/stats.js";
import { encodePng } from "../data/png.js";
import { readSizedImage } from "../data/images.js";
import { renderGroundTruth } from "../data/show.js";

interface GenerateFlags {
  out: string;
  seed: number;
  size: number;
  patch: number;
  prior: number;
  train: number;
  test: number;
  teacherTrain: number;
  force?: boolean;
  quiet?: boolean;
}

function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new UserError(`--seed must be an integer in [0, 2147483647], got "${value}"`);
  return n;
}

export async function runGenerate(flags: GenerateFlags): Promise<void> {
  if (flags.size % flags.patch !== 0) throw new UserError(`--size ${flags.size} is not divisible by --patch ${flags.patch}`);
  if (flags.size < 32) throw new UserError(`--size must be at least 32 (objects would not fit), got ${flags.size}`);
  if (flags.size / flags.patch > 32) throw new UserError(`--size / --patch must be at most 32 patches per side, got ${flags.size / flags.patch}`);
  const out = resolve(flags.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !flags.force) throw new UserError(`--out ${flags.out} already exists and is not empty (use --force to replace it)`);
  const t0 = Date.now();
  // Built in a temp sibling and renamed into place: an interrupted run never leaves a half dataset.
  const info = await buildDirAtomic(out, (tmp) => generateDataset(tmp, flags));
  const total = Object.values(info.splits).reduce((a, b) => a + b, 0);
  process.stderr.write(`wrote ${total} samples to ${flags.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${Object.entries(info.splits).map(([s, n]) => `${s} ${n}`).join(", ")})\n`);
}

export function register(program: Command): void {
  const data = program.command("data").description("the built-in benchmark: generate scenes and questions, show statistics and samples");
  data
    .command("generate")
    .description("generate the benchmark (all five splits) into a new folder")
    .requiredOption("--out <dir>", "output folder (must not exist or be empty, unless --force)")
    .option("--seed <n>", "random seed", parseSeed, GENERATE_DEFAULTS.seed)
    .option("--size <px>", "image side in pixels", parsePositiveInt("--size"), GENERATE_DEFAULTS.size)
    .option("--patch <px>", "patch side in pixels (must divide --size)", parsePositiveInt("--patch"), GENERATE_DEFAULTS.patch)
    .option("--prior <p>", "probability that a train/test-id answer is its template's prior answer", parseNumberIn("--prior", 0, 1), GENERATE_DEFAULTS.prior)
    .option("--train <n>", "train samples", parsePositiveInt("--train"), GENERATE_DEFAULTS.train)
    .option("--test <n>", "samples in each test split (test-pairs: rounded down to whole pairs)", parsePositiveInt("--test"), GENERATE_DEFAULTS.test)
    .option("--teacher-train <n>", "teacher-train samples", parsePositiveInt("--teacher-train", true), GENERATE_DEFAULTS.teacherTrain)
    .option("--force", "replace an existing output folder")
    .option("--quiet", "no progress output")
    .action((flags: GenerateFlags) => runGenerate(flags));

  data
    .command("stats")
    .description("per split and family: counts, prior-only answerer accuracy, chance accuracy")
    .argument("<dir>", "dataset folder")
    .option("--json", "print one JSON object")
    .action((dir: string, opts: { json?: boolean }) => {
      const stats = computeStats(dir);
      if (opts.json) process.stdout.write(JSON.stringify({ splits: stats.splits }) + "\n");
      else process.stdout.write(formatStats(stats) + "\n");
    });

  data
    .command("show")
    .description("write one sample enlarged, with each rationale step's ground-truth region outlined")
    .argument("<dir>", "dataset folder")
    .requiredOption("--split <split>", "split name")
    .requiredOption("--id <id>", "sample id")
    .requiredOption("--out <file>", "output PNG")
    .option("--scale <n>", "enlargement factor", parsePositiveInt("--scale"), 8)
    .action((dir: string, opts: { split: string; id: string; out: string; scale: number }) => {
      const split = checkSplit(opts.split);
      const info = readDatasetInfo(dir);
      const sample = readManifest(dir, split).find((s) => s.id === opts.id);
      if (!sample) throw new UserError(`--id: no sample "${opts.id}" in ${join(dir, split, "manifest.jsonl")}`);
      const img = readSizedImage(join(dir, split, sample.image), info.size, { whose: "the dataset's size" });
      const big = renderGroundTruth(img.rgb, info.size, info.patch, sample, opts.scale);
      writeFileAtomic(opts.out, encodePng(big.rgb, big.size, big.size));
      const steps = sample.rationale.map((r, t) => `  step ${t + 1} (${["white", "black", "orange", "magenta"][t % 4]}): ${r.text} -> patches ${r.patches.join(",")}`);
      process.stdout.write(`${sample.question}  answer: ${sample.answer}\n${steps.join("\n")}\nwrote ${opts.out}\n`);
    });
}
