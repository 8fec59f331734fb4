import { join } from "node:path";
import { Command, Option } from "commander";
import { writeFileAtomic } from "../util/atomic.js";
import { UserError } from "../errors.js";
import { choicesOf, optionParser, parsePositiveInt } from "./parse.js";
import { input, outputFile, withOutputs, type IoSpec } from "../util/io-guard.js";
import { declareIo } from "./io.js";
import { checkRaster } from "../util/limits.js";
import { generate, GENERATE_DEFAULTS, GENERATE_IO, generateOptionsSchema, type GenerateOptions } from "../stages/generate.js";
import { givenOptions } from "./options.js";
import { importData, IMPORT_DEFAULTS, IMPORT_IO, importOptionsSchema, type ImportOptions } from "../stages/import.js";
import { checkSplit, readDatasetInfo, readManifest } from "../data/manifest.js";
import { computeStats, formatStats } from "../data/stats.js";
import { encodePng } from "../data/png.js";
import { loadImages } from "../data/images.js";
import { renderGroundTruth } from "../data/show.js";
import { quoteInput } from "../util/errors-text.js";

/** What `data show` reads and writes (positional <dir> is `dir`). */
const SHOW_IO: IoSpec = { dir: input("<dir>"), out: outputFile() };

export function register(program: Command): void {
  const data = program.command("data").description("datasets: generate the built-in benchmark, import your own, show statistics and samples");
  declareIo(data.command("generate"), GENERATE_IO)
    .description("generate the benchmark (all five splits) into a new folder")
    .requiredOption("--out <dir>", "output folder (must not exist or be empty, unless --force)")
    .option("--seed <n>", "random seed", optionParser(generateOptionsSchema.shape, "seed"), GENERATE_DEFAULTS.seed)
    .addOption(
      new Option("--setting <name>", "benchmark setting: default, or hard (crowded scenes of small objects; docs/benchmark.md)")
        .choices(choicesOf(generateOptionsSchema.shape, "setting"))
        .default(GENERATE_DEFAULTS.setting),
    )
    .option("--size <px>", "image side in pixels", optionParser(generateOptionsSchema.shape, "size"), GENERATE_DEFAULTS.size)
    .option("--patch <px>", "patch side in pixels (must divide --size)", optionParser(generateOptionsSchema.shape, "patch"), GENERATE_DEFAULTS.patch)
    .option(
      "--prior <p>",
      "probability that a train/test-id answer is its template's prior answer",
      optionParser(generateOptionsSchema.shape, "prior"),
      GENERATE_DEFAULTS.prior,
    )
    .option("--train <n>", "train samples", optionParser(generateOptionsSchema.shape, "train"), GENERATE_DEFAULTS.train)
    .option(
      "--test <n>",
      "samples in each test split (test-pairs: rounded down to whole pairs)",
      optionParser(generateOptionsSchema.shape, "test"),
      GENERATE_DEFAULTS.test,
    )
    .option("--teacher-train <n>", "teacher-train samples", optionParser(generateOptionsSchema.shape, "teacherTrain"), GENERATE_DEFAULTS.teacherTrain)
    .option("--force", "replace an existing output folder")
    .option("--quiet", "no progress output")
    .action(async (_: unknown, cmd: Command) => {
      await generate(givenOptions<GenerateOptions>(cmd));
    });

  declareIo(data.command("import"), IMPORT_IO)
    .description("import your own data: a JSONL or CSV of id, image, question, answer (optional split, family, choices, rationale, boxes) and its images")
    .option("--from <file>", "JSONL or CSV file, one row per sample")
    .option(
      "--from-official <file>",
      "instead of --from: the official pipeline's lavit_15k_for_training.json, or Visual-CoT's JSON (question, answer, image, bbox)",
    )
    .requiredOption("--images <dir>", "folder the rows' image paths are relative to (PNG or JPEG, any size)")
    .requiredOption("--out <dir>", "output folder (must not exist or be empty, unless --force)")
    .option(
      "--size <px>",
      "image side in pixels: every image is fitted to it, aspect kept, padded",
      optionParser(importOptionsSchema.shape, "size"),
      IMPORT_DEFAULTS.size,
    )
    .option("--patch <px>", "patch side in pixels (must divide --size)", optionParser(importOptionsSchema.shape, "patch"), IMPORT_DEFAULTS.patch)
    .option("--seed <n>", "seed of the split drawn for rows without a split column", optionParser(importOptionsSchema.shape, "seed"), IMPORT_DEFAULTS.seed)
    .option("--val <share>", "rows without a split: share put in val", optionParser(importOptionsSchema.shape, "val"), IMPORT_DEFAULTS.val)
    .option("--test <share>", "rows without a split: share put in test", optionParser(importOptionsSchema.shape, "test"), IMPORT_DEFAULTS.test)
    .option("--force", "replace an existing output folder lavit made")
    .option("--quiet", "no progress output")
    .action(async (_: unknown, cmd: Command) => {
      await importData(givenOptions<ImportOptions>(cmd));
    });

  declareIo(data.command("stats"), { dir: input("<dir>") })
    .description("per split and family: counts, prior-only answerer accuracy, chance accuracy (n/a where the data lacks templates or choices)")
    .argument("<dir>", "dataset folder")
    .option("--json", "print one JSON object")
    .action((dir: string, opts: { json?: boolean }) => {
      const stats = computeStats(dir);
      if (opts.json) process.stdout.write(JSON.stringify({ splits: stats.splits }) + "\n");
      else process.stdout.write(formatStats(stats) + "\n");
    });

  declareIo(data.command("show"), SHOW_IO)
    .description("write one sample enlarged, with each rationale step's ground-truth region outlined")
    .argument("<dir>", "dataset folder")
    .requiredOption("--split <split>", "split name")
    .requiredOption("--id <id>", "sample id")
    .requiredOption("--out <file>", "output PNG")
    .option("--scale <n>", "enlargement factor", parsePositiveInt("--scale", false, 64), 8)
    .option("--allow-outside-root", "read a manifest image that leads outside <dir>")
    .option("--force", "replace an existing --out file")
    .action(async (dir: string, opts: { split: string; id: string; out: string; scale: number; allowOutsideRoot?: boolean; force?: boolean }) =>
      withOutputs(SHOW_IO, { dir, ...opts }, () => show(dir, opts)),
    );
}

function show(dir: string, opts: { split: string; id: string; out: string; scale: number; allowOutsideRoot?: boolean }): void {
  const split = checkSplit(opts.split);
  const info = readDatasetInfo(dir);
  checkRaster(info.size * opts.scale, `--scale ${opts.scale}`);
  const sample = readManifest(dir, split).find((s) => s.id === opts.id);
  if (!sample) throw new UserError(`--id: no sample ${quoteInput(opts.id)} in ${join(dir, split, "manifest.jsonl")}`);
  const img = { rgb: loadImages(dir, split, [sample], info.size, { allowOutsideRoot: opts.allowOutsideRoot })[0] };
  const big = renderGroundTruth(img.rgb, info.size, info.patch, sample, opts.scale);
  writeFileAtomic(opts.out, encodePng(big.rgb, big.size, big.size));
  const steps = sample.rationale.map(
    (r, t) => `  step ${t + 1} (${["white", "black", "orange", "magenta"][t % 4]}): ${r.text} -> patches ${r.patches.join(",")}`,
  );
  process.stdout.write(`${sample.question}  answer: ${sample.answer}\n${steps.join("\n")}\nwrote ${opts.out}\n`);
}
