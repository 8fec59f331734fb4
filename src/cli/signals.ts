import type { Command } from "commander";
import { resolve } from "node:path";
import { checkSignals, formatCheck } from "../signals/check.js";
import { input } from "../util/io-guard.js";
import { declareIo } from "./io.js";

interface CheckFlags {
  metadata?: string;
  allowOutsideRoot?: boolean;
  data?: string;
  split?: string;
  json?: boolean;
  strict?: boolean;
}

export function register(program: Command): void {
  const signals = program.command("signals").description("inspect white-box signal folders (lavit's layout or the official LaViT one)");
  declareIo(signals.command("check <root>"), { root: input("<root>"), metadata: input(), data: input() })
    .description("validate every sample of a signals folder and print a summary (exit 2 naming the first bad sample)")
    .option("--metadata <file>", "official layout: the metadata file (default data/metadata/lavit_15k_for_training.json)")
    .option("--allow-outside-root", "accept feature and image paths that resolve outside the root")
    .option("--data <dir>", "lavit dataset whose ground-truth patches give the grounding mass")
    .option("--split <split>", "the dataset split the signals come from (default: as recorded, else train)")
    .option("--strict", "with --data: refuse signals and a split that do not hold the same samples (default: count them)")
    .option("--json", "print one JSON object")
    .action((root: string, f: CheckFlags) => {
      const summary = checkSignals(resolve(root), {
        metadata: f.metadata && resolve(f.metadata),
        allowOutsideRoot: f.allowOutsideRoot,
        data: f.data,
        split: f.split,
        strict: f.strict,
      });
      process.stdout.write(f.json ? JSON.stringify(summary) + "\n" : formatCheck(root, summary));
    });
}
