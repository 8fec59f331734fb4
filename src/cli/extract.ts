import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Command, Option } from "commander";
import { initEngine } from "../engine/index.js";
import { loadSplit } from "../data/dataset.js";
import { loadWeightsInto, readModelFolder } from "../model/checkpoint.js";
import { buildVlm } from "../model/vlm.js";
import { extractSignals, type SignalMethod } from "../signals/extract.js";
import { UserError } from "./errors.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";

interface ExtractFlags {
  teacher: string;
  data: string;
  split: string;
  out: string;
  method: SignalMethod;
  topk: number;
  tau: number;
  limit?: number;
  force?: boolean;
  quiet?: boolean;
}

export async function runExtract(f: ExtractFlags): Promise<void> {
  await initEngine();
  const out = resolve(f.out);
  if (existsSync(out) && readdirSync(out).length && !f.force) throw new UserError(`--out ${f.out} already exists and is not empty (use --force to replace it)`);
  const folder = readModelFolder(f.teacher);
  const data = loadSplit(f.data, f.split, f.limit);
  if (data.tokenizer.vocab.join(" ") !== folder.tokenizer.vocab.join(" ")) throw new UserError(`${f.teacher}/tokenizer.json differs from ${f.data}/tokenizer.json`);
  if (folder.config.vision.image_size !== data.info.size || folder.config.vision.patch_size !== data.info.patch) throw new UserError(`${f.teacher}: the teacher takes ${folder.config.vision.image_size}px images in ${folder.config.vision.patch_size}px patches, the dataset has ${data.info.size}/${data.info.patch}`);
  if (f.topk > (data.info.size / data.info.patch) ** 2) throw new UserError(`--topk ${f.topk} exceeds the number of image patches`);
  const teacher = buildVlm(folder.config, 0);
  loadWeightsInto(teacher.store, folder.weights);
  const tmp = join(dirname(out), `.tmp-${basename(out)}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    // Paths inside are relative to the final folder, so compute them as if written there.
    const summary = extractSignals(teacher, folder.tokenizer, data, tmp, { method: f.method, topk: f.topk, tau: f.tau, quiet: f.quiet, finalDir: out });
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    process.stderr.write(`signals for ${summary.count} samples in ${f.out}: teacher accuracy ${summary.teacher_accuracy.toFixed(3)}, grounding mass ${summary.grounding_mass.toFixed(3)} (uniform ${summary.grounding_mass_uniform.toFixed(3)})\n`);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    teacher.dispose();
  }
}

export function register(program: Command): void {
  program
    .command("extract")
    .description("run the teacher and write its white-box signals (trajectories + V_top) in the LaViT layout")
    .requiredOption("--teacher <dir>", "teacher model folder")
    .requiredOption("--data <dir>", "dataset folder")
    .requiredOption("--split <split>", "split to extract (usually train)")
    .requiredOption("--out <dir>", "signals folder to write")
    .addOption(new Option("--method <m>", "trajectory signal").choices(["attention", "gradient"]).default("attention"))
    .option("--topk <k>", "top-k patch indices stored per step", parsePositiveInt("--topk"), 8)
    .option("--tau <t>", "softmax temperature of the gradient method", parseNumberIn("--tau", 1e-4, 10), 0.05)
    .option("--limit <n>", "only the first n samples", parsePositiveInt("--limit"))
    .option("--force", "replace an existing --out folder")
    .option("--quiet", "no progress output")
    .action((f: ExtractFlags) => runExtract(f));
}
