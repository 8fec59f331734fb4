import type { Command } from "commander";
import { expandCells, parseShard, shardCells } from "../study/cells.js";
import { reportStudy, STUDY_REPORT_IO } from "../study/report.js";
import { runStudy, STUDY_DEFAULTS, STUDY_RUN_IO } from "../study/run.js";
import { input } from "../util/io-guard.js";
import { declareIo } from "./io.js";
import { loadStudy } from "../study/spec.js";
import { givenOptions } from "./options.js";
import { parsePositiveInt } from "./parse.js";

export function register(program: Command): void {
  const study = program
    .command("study")
    .description("grids of runs from a study file: data, signals, students and evaluation per cell, resumable and shardable; then one merged report");
  declareIo(study.command("run <file>"), STUDY_RUN_IO)
    .description("run a study file's cells (or one shard of them) into --out; finished cells are kept, so --resume continues")
    .requiredOption("--out <dir>", "study run folder")
    .option("--jobs <n>", "cells at once, each in its own process with an equal share of the threads (default: one per thread)", parsePositiveInt("--jobs"))
    .option("--shard <I/N>", "run only shard I of N: a deterministic, contiguous 1/N of the cells (merge the shards with `lavit study report`)")
    .option("--resume", "continue a study run in --out (refused if the study file changed)")
    .option("--force", "start over in a folder a previous study run made")
    .option("--max-cells <n>", "refuse a grid larger than this before anything runs", parsePositiveInt("--max-cells"), STUDY_DEFAULTS.maxCells)
    .option("--quiet", "no progress output")
    .action(async (file: string, _: unknown, cmd: Command) => {
      const o = givenOptions<{ out: string; jobs?: number; shard?: string; resume?: boolean; force?: boolean; maxCells?: number; quiet?: boolean }>(cmd);
      await runStudy({ ...o, file });
    });
  declareIo(study.command("report <dirs...>"), STUDY_REPORT_IO)
    .description("merge study run folders (whole runs or shards of one study file) into study.json, study.md and study.html")
    .requiredOption("--out <dir>", "report folder")
    .option(
      "--attribute <model,without,baseline[:metric]>",
      "what share of model's gain over baseline the part that `without` lacks carries, per condition, with 95% intervals and a verdict (e.g. lavit,no-align,distill; repeat the flag for several)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--force", "replace a report folder lavit made")
    .option("--quiet", "no progress output")
    .action(async (dirs: string[], _: unknown, cmd: Command) => {
      await reportStudy({ ...givenOptions<{ out: string; attribute?: string[]; force?: boolean; quiet?: boolean }>(cmd), dirs });
    });
  declareIo(study.command("cells <file>"), { file: input("<file>") })
    .description("list a study file's cells (of one shard with --shard), one id per line, without running anything")
    .option("--shard <I/N>", "only shard I of N")
    .action((file: string, o: { shard?: string }) => {
      const cells = shardCells(expandCells(loadStudy(file)), o.shard === undefined ? undefined : parseShard(o.shard));
      process.stdout.write(cells.map((c) => c.id).join("\n") + (cells.length ? "\n" : ""));
    });
}
