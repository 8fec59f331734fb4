import { Command } from "commander";
import { GAP_DEFAULTS, GAP_IO, gap, gapOptionsSchema, type GapOptions } from "../stages/gap.js";
import { declareIo } from "./io.js";
import { givenOptions } from "./options.js";
import { optionParser } from "./parse.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  const d = GAP_DEFAULTS;
  declareIo(program.command("gap"), GAP_IO)
    .description("the Perception Gap of any run: compare trajectory folders (student attention dumps, other teachers' signals) with a teacher's")
    .requiredOption("--teacher <dir>", "the teacher's trajectory folder (signals from `lavit extract`, or the LaViT layout)")
    .requiredOption("--compare <dir>", "a folder to compare with the teacher (repeat the flag for several)", collect)
    .requiredOption("--out <dir>", "output folder (gap.json, gap.md, gap.html, heatmaps/); must not exist or be empty, unless --force")
    .option("--boxes <file>", "ground-truth boxes in image pixels: JSONL {question_id, boxes} or a JSON array (Visual-CoT bbox)")
    .option("--data <dir>", "ground truth from a lavit dataset's rationale patches (with --split)")
    .option("--split <split>", "the dataset split the trajectories are of (with --data)")
    .option("--images <dir>", "folder the image paths are relative to (default: each trajectory folder)")
    .option("--strict", "fail when a sample is in one folder but not another (default: compare the samples all hold)")
    .option("--topk <k>", "k of the top-k IoU", optionParser(gapOptionsSchema.shape, "topk"), d.topk)
    .option("--show <n>", "heatmaps of the n samples where the maps differ most", optionParser(gapOptionsSchema.shape, "show"), d.show)
    .option("--random <n>", "plus n samples picked at random", optionParser(gapOptionsSchema.shape, "random"), d.random)
    .option("--seed <n>", "seed of the random picks", optionParser(gapOptionsSchema.shape, "seed"), d.seed)
    .option("--allow-outside-root", "read trajectory and image paths that lead outside their folder, --images and --data")
    .option("--force", "replace an --out folder an earlier `lavit gap` wrote")
    .option("--quiet", "print nothing")
    .action(async (_: unknown, cmd: Command) => {
      await gap(givenOptions<GapOptions>(cmd));
    });
}
