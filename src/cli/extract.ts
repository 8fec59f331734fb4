import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { initEngine } from "../engine/index.js";
import { loadSplit } from "../data/dataset.js";
import { buildDirAtomic } from "../util/atomic.js";
import { loadModelFor } from "./eval.js";
import { extractSignals, type SignalMethod } from "../signals/extract.js";
import { UserError } from "../errors.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";

interface ExtractFlags {
  teacher: string;
  data: string;
  split: string;
  out: string;
  method: SignalMethod;
  layout?: "lavit" | "official";
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
  const data = loadSplit(f.data, f.split, f.limit);
  if (f.topk > (data.info.size / data.info.patch) ** 2) throw new UserError(`--topk ${f.topk} exceeds the number of image patches`);
  const teacher = loadModelFor(f.teacher, data, f.data);
  try {
    // Paths inside are relative to the final folder, so compute them as if written there.
    const summary = await buildDirAtomic(out, (tmp) => extractSignals(teacher.vlm, teacher.tokenizer, data, tmp, { method: f.method, topk: f.topk, tau: f.tau, quiet: f.quiet, finalDir: out, layout: f.layout }));
    process.stderr.write(`signals for ${summary.count} samples in ${f.out}: teacher accuracy ${summary.teacher_accuracy.toFixed(3)}, grounding mass ${summary.grounding_mass.toFixed(3)} (uniform ${summary.grounding_mass_uniform.toFixed(3)}; ${Object.entries(summary.grounding_mass_by_family).map(([f, m]) => `${f} ${m.toFixed(3)}`).join(", ")})\n`);
  } finally {
    teacher.vlm.dispose();
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
    .addOption(new Option("--layout <l>", "signals layout: lavit's (safetensors) or the official LaViT one (.pth, for its PyTorch trainer)").choices(["lavit", "official"]).default("lavit"))
    .option("--topk <k>", "top-k patch indices stored per step", parsePositiveInt("--topk"), 8)
    .option("--tau <t>", "softmax temperature of the gradient method", parseNumberIn("--tau", 1e-4, 10), 0.05)
    .option("--limit <n>", "only the first n samples", parsePositiveInt("--limit"))
    .option("--force", "replace an existing --out folder")
    .option("--quiet", "no progress output")
    .action((f: ExtractFlags) => runExtract(f));
}
