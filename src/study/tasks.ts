import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { initEngine } from "../engine/index.js";
import type { EngineInfo } from "../engine/info.js";
import { loadSplit } from "../data/dataset.js";
import { readManifest } from "../data/manifest.js";
import { baselineStats, fitPriorAnswerer } from "../data/stats.js";
import { uniformGaze } from "../eval/gap.js";
import { extract, type ExtractStageOptions } from "../stages/extract.js";
import { generate, type GenerateOptions } from "../stages/generate.js";
import { trainStudent, type StudentOptions } from "../stages/train-student.js";
import { writeFileAtomic } from "../util/atomic.js";
import { codeVersion } from "../util/version.js";
import { cachedEvaluation } from "./eval-cache.js";
import { flatten } from "./metrics.js";
import type { Level, ProbeName } from "./spec.js";

/** What a worker process runs: one stage of a study (or of the demo). */
export type StudyTask =
  | { kind: "student"; options: StudentOptions }
  | { kind: "data"; options: GenerateOptions }
  | { kind: "signals"; options: ExtractStageOptions }
  | ReferenceTask
  | CellTask;

/** The teacher's answers and maps on a seed's evaluation splits, and the constants every figure is read beside. */
export interface ReferenceTask {
  kind: "reference";
  dir: string;
  dataDir: string;
  teacher: string;
  splits: string[];
  limit?: number;
  quiet: boolean;
}

/** One cell: train its student (resuming a checkpoint), evaluate it on the study's splits, write its record. */
export interface CellTask {
  kind: "cell";
  dir: string;
  dataDir: string;
  signalsDir: string;
  refDir: string;
  teacher: string;
  studentBase: string | null;
  student: Record<string, unknown>;
  splits: string[];
  limit?: number;
  probes: ProbeName[];
  record: Pick<CellRecord, "id" | "seed" | "variant" | "levels" | "dataKey" | "options" | "study">;
  quiet: boolean;
}

export interface CellRecord {
  id: string;
  seed: number;
  variant: string;
  /** Factor levels, "stage.option" → level. */
  levels: Record<string, Level>;
  /** The data folder it shares (its reference figures are under refs/<dataKey>). */
  dataKey: string;
  options: { data: Record<string, unknown>; extract: Record<string, unknown>; student: Record<string, unknown> };
  /** Per split, every figure the evaluation gave, as dotted keys. */
  metrics: Record<string, Record<string, number>>;
  /** The student's evaluations during training (metrics.jsonl lines of kind "eval"). */
  curve: Record<string, number | string>[];
  seconds: { train: number; eval: number };
  study: { file: string; sha256: string };
  lavit: ReturnType<typeof codeVersion>;
  /** What the bits depend on besides the options: the kernel tier, OpenBLAS's core and the threads the cell ran with. */
  engine: Pick<EngineInfo, "tier" | "blas" | "threads">;
}

/** Per split: the teacher's figures and the constants (prior-only answerer, chance, even gaze). */
export type Reference = Record<string, Record<string, number>>;

export const CELL_RECORD = "cell.json";
export const REFERENCE_FILE = "reference.json";
const DONE = ".done";

export function isDone(dir: string): boolean {
  return existsSync(join(dir, DONE));
}

function markDone(dir: string): void {
  writeFileAtomic(join(dir, DONE), "done\n");
}

export async function runTask(task: StudyTask): Promise<void> {
  switch (task.kind) {
    case "student":
      await trainStudent(task.options);
      return;
    case "data":
      await generate(task.options);
      return;
    case "signals":
      await extract(task.options);
      return;
    case "reference":
      await runReference(task);
      return;
    case "cell":
      await runCell(task);
      return;
  }
}

function teacherMapsFile(refDir: string, split: string): string {
  return join(refDir, "teacher", `${split}.maps.json`);
}

async function runReference(t: ReferenceTask): Promise<void> {
  await initEngine();
  const answerer = fitPriorAnswerer(readManifest(t.dataDir, "train"));
  const out: Reference = {};
  for (const split of t.splits) {
    const data = loadSplit(t.dataDir, split, t.limit);
    const ev = await cachedEvaluation(join(t.dir, "teacher"), t.teacher, data, t.dataDir, { quiet: t.quiet }, () => {});
    const base = baselineStats(data.samples, answerer, split === "test-pairs");
    out[split] = flatten({
      teacher: ev.result,
      prior_only: { accuracy: base.prior_only_accuracy, pair_accuracy: base.prior_only_pair_accuracy },
      chance: { accuracy: base.chance_accuracy },
      even_gaze: uniformGaze(data.samples, ev.maps),
    });
  }
  mkdirSync(t.dir, { recursive: true });
  writeFileAtomic(join(t.dir, REFERENCE_FILE), JSON.stringify(out, null, 2) + "\n");
}

function readMaps(file: string): Float32Array[][] {
  return (JSON.parse(readFileSync(file, "utf8")) as number[][][]).map((s) => s.map((x) => Float32Array.from(x)));
}

/** The student's evaluations during training, from its metrics.jsonl. */
function readCurve(file: string): Record<string, number | string>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.kind === "eval")
    .map((r) => ({ ...flatten(r), ...(typeof r.split === "string" ? { split: r.split } : {}) }));
}

async function runCell(t: CellTask): Promise<void> {
  const studentDir = join(t.dir, "student");
  let train = 0;
  if (!isDone(studentDir)) {
    const resume = existsSync(join(studentDir, "trainer_state.json"));
    // A start stopped before its first checkpoint left only metrics.jsonl: begin it again.
    if (!resume) rmSync(studentDir, { recursive: true, force: true });
    const t0 = performance.now();
    await trainStudent({
      ...(t.student as Partial<StudentOptions>),
      data: t.dataDir,
      signals: t.signalsDir,
      out: studentDir,
      teacher: t.teacher,
      initFrom: t.studentBase,
      seed: t.record.seed,
      resume,
      quiet: t.quiet,
    });
    train = (performance.now() - t0) / 1000;
    markDone(studentDir);
  }
  const { tier, blas, threads } = (await initEngine()).info;
  let evalSeconds = 0;
  const metrics: CellRecord["metrics"] = {};
  for (const split of t.splits) {
    const data = loadSplit(t.dataDir, split, t.limit);
    const teacherMaps = readMaps(teacherMapsFile(t.refDir, split));
    const ev = await cachedEvaluation(join(t.dir, "eval"), studentDir, data, t.dataDir, { teacherMaps, quiet: t.quiet, probes: t.probes }, () => {});
    evalSeconds += ev.seconds;
    metrics[split] = flatten(ev.result);
  }
  const record: CellRecord = {
    ...t.record,
    metrics,
    curve: readCurve(join(studentDir, "metrics.jsonl")),
    seconds: { train, eval: evalSeconds },
    lavit: codeVersion(),
    engine: { tier, blas, threads },
  };
  writeFileAtomic(join(t.dir, CELL_RECORD), JSON.stringify(record, null, 2) + "\n");
}
