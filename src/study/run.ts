import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { LAVIT_ONLY } from "../stages/train-student.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/json.js";
import { checkReplaceable, writeMarker } from "../util/marker.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { codeVersion } from "../util/version.js";
import { flag, named, positiveInt, text, validateOptions } from "../stages/options-schema.js";
import { weightsDigest } from "./weights.js";
import { expandCells, parseShard, shardCells, type Cell, type Shard } from "./cells.js";
import { planJobs, runInProcesses, type Job } from "./pool.js";
import { firstDifference, loadStudy, type LoadedStudy } from "./spec.js";
import { CELL_RECORD, REFERENCE_FILE, type CellTask, type StudyTask } from "./tasks.js";

export const studyRunOptionsSchema = named(
  z
    .object({
      file: text(),
      out: text(),
      jobs: positiveInt().optional(),
      shard: z.union([text(), z.object({ index: positiveInt(), count: positiveInt() }).strict()]).optional(),
      resume: flag().optional(),
      force: flag().optional(),
      maxCells: positiveInt().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "study run option",
);

export const STUDY_DEFAULTS = {
  /** A grid larger than this is refused before anything runs: it is more likely a typo than a plan. */
  maxCells: 500,
};

export interface StudyRunOptions {
  /** The study file (JSON). */
  file: string;
  out: string;
  /** Jobs at once, each in its own process with an equal share of the threads (default: one per thread). */
  jobs?: number;
  /** Run only shard I of N ("I/N"): a deterministic, contiguous 1/N of the cells. */
  shard?: string | Shard;
  resume?: boolean;
  /** Start over in a folder a previous study run made. */
  force?: boolean;
  maxCells?: number;
  quiet?: boolean;
}

export interface StudyRunResult {
  out: string;
  /** Cells of the study, of this shard, run now, and found finished. */
  cells: number;
  shardCells: number;
  ran: number;
  skipped: number;
  seconds: number;
  /** Wall-clock seconds of each finished job, by kind (data, signals, reference, cell). */
  timings: Record<string, number>;
  /** Wall-clock seconds of each job run now, by its name ("cell <id>", "data <key>", ...). */
  jobs: Record<string, number>;
}

/** What a study folder was begun with; a --resume with anything else is refused. */
const runRecordSchema = z
  .object({
    study_file: z.string(),
    study_sha256: z.string(),
    spec: z.unknown(),
    teacher_weights_sha256: z.string(),
    student_base_weights_sha256: z.string().nullable(),
  })
  .loose();
export const RUN_RECORD = "study-run.json";

/** The study's folders: data, signals and references are shared by the cells that can share them. */
export function studyPaths(out: string) {
  return {
    data: (key: string) => join(out, "data", key),
    signals: (key: string) => join(out, "signals", key),
    ref: (key: string) => join(out, "refs", key),
    cell: (id: string) => join(out, "cells", id),
  };
}

function checkCells(study: LoadedStudy, cells: readonly Cell[]): void {
  for (const c of cells) {
    if (c.student.mode !== "distill") continue;
    const clash = LAVIT_ONLY.find((k) => c.student[k] !== undefined);
    if (clash)
      throw new UserError(
        `${study.file}: cell ${c.id}: variant ${c.variant} is a distill student, which has no "${clash}" (it has no latents, alignment losses or gate); move "${clash}" into the LaViT variants`,
      );
  }
}

/**
 * What a study run reads and writes (the output guard's declaration; `lavit study run` shares
 * it). The teacher and student base are named by the study file.
 */
export const STUDY_RUN_IO: IoSpec = {
  file: input("<file>"),
  teacher: input("the study's teacher"),
  studentBase: input("the study's student base"),
  out: outputFolder("study", "run"),
};

function prepareOut(study: LoadedStudy, o: StudyRunOptions): void {
  const out = resolve(o.out);
  const record = {
    study_file: o.file,
    study_sha256: study.sha256,
    spec: study.spec,
    teacher_weights_sha256: weightsDigest(study.teacher),
    student_base_weights_sha256: study.studentBase && weightsDigest(study.studentBase),
  };
  const recordFile = join(out, RUN_RECORD);
  if (existsSync(recordFile) && !o.force) {
    if (!o.resume)
      throw new UserError(`--out ${o.out} holds a study run (${RUN_RECORD}); use --resume to continue it, --force to start over, or another --out`);
    const saved = readJson(recordFile, runRecordSchema, { what: "study run record", hint: "give another --out" });
    const diff = firstDifference(saved.spec, study.spec);
    if (diff)
      throw new UserError(
        `--resume: ${o.file} changed since ${o.out} was begun: ${diff} differs (${RUN_RECORD} has ${JSON.stringify(pick(saved.spec, diff))}, the file now ${JSON.stringify(pick(study.spec, diff))}); a changed study is a new study: give another --out`,
      );
    for (const [role, key] of [
      ["teacher", "teacher_weights_sha256"],
      ["student base", "student_base_weights_sha256"],
    ] as const)
      if (saved[key] !== record[key])
        throw new UserError(
          `--resume: ${o.out} was begun with other ${role} weights than the study's ${role} now (${RUN_RECORD} records their sha256); give another --out`,
        );
    return;
  }
  checkReplaceable(out, "study", !!o.force);
  if (existsSync(out)) for (const name of readdirSync(out)) rmSync(join(out, name), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeMarker(out, "study");
  writeFileAtomic(recordFile, JSON.stringify({ ...record, begun_by: codeVersion() }, null, 2) + "\n");
}

function pick(value: unknown, path: string): unknown {
  let v = value;
  for (const k of path.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Runs a study file's cells (or one shard of them) into `out`: data, signals, references, then each cell's student and evaluation. */
export async function runStudy(o: StudyRunOptions): Promise<StudyRunResult> {
  validateOptions(studyRunOptionsSchema, o);
  if (typeof o.shard === "object") parseShard(`${o.shard.index}/${o.shard.count}`);
  // Guarded before the file is read, and again once it names the teacher and student base.
  return withOutputs(STUDY_RUN_IO, { file: o.file, out: o.out }, () => runLoadedStudy(loadStudy(o.file), o));
}

/**
 * Runs a checked study (a file's, or a built-in one such as the demo's). `embedded`: the
 * caller owns the folder (its checks, marker and lock) and records what a resume must match;
 * this only runs the cells that are not finished.
 */
export async function runLoadedStudy(study: LoadedStudy, o: StudyRunOptions, embedded = false): Promise<StudyRunResult> {
  const t0 = performance.now();
  const cells = expandCells(study);
  const maxCells = o.maxCells ?? STUDY_DEFAULTS.maxCells;
  if (cells.length > maxCells)
    throw new UserError(`${o.file}: the grid has ${cells.length} cells, over --max-cells ${maxCells}; split the study or raise --max-cells`);
  checkCells(study, cells);
  const shard = typeof o.shard === "string" ? parseShard(o.shard) : o.shard;
  const mine = shardCells(cells, shard);
  for (const [role, dir] of [
    ["teacher", study.teacher],
    ["student base", study.studentBase],
  ] as const)
    if (dir && !existsSync(join(dir, "model.safetensors"))) throw new UserError(`${o.file}: the study's ${role} ${dir} has no model.safetensors`);
  const engine = await initEngine();
  const out = resolve(o.out);
  if (embedded) return runCells(study, mine, cells.length, o, out, engine.info.threads, t0, true);
  const paths = { file: o.file, out: o.out, teacher: study.teacher, studentBase: study.studentBase };
  return withOutputs(STUDY_RUN_IO, paths, async () => {
    mkdirSync(out, { recursive: true });
    prepareOut(study, o);
    return runCells(study, mine, cells.length, o, out, engine.info.threads, t0);
  });
}

async function runCells(
  study: LoadedStudy,
  mine: readonly Cell[],
  total: number,
  o: StudyRunOptions,
  out: string,
  threads: number,
  t0: number,
  embedded = false,
): Promise<StudyRunResult> {
  const quiet = !!o.quiet;
  const log = (msg: string) => !quiet && process.stderr.write(`study: ${msg}\n`);
  const p = studyPaths(out);
  const s = study.spec;
  const pending = mine.filter((c) => !existsSync(join(p.cell(c.id), CELL_RECORD)));
  const skipped = mine.length - pending.length;
  log(
    `${study.spec.name}: ${total} cells${mine.length < total ? `, ${mine.length} in this shard` : ""}; ${skipped ? `${skipped} already finished, ` : ""}${pending.length} to run`,
  );

  type State = "todo" | "running" | "done";
  const state = new Map<string, State>();
  const needs = (path: string, file: string): State => (existsSync(join(path, file)) ? "done" : "todo");
  const tasks = new Map<string, { name: string; after: string[]; task: StudyTask }>();
  for (const c of pending) {
    const dataDir = p.data(c.dataKey);
    const sigDir = p.signals(c.signalsKey);
    const refDir = p.ref(c.dataKey);
    const dataId = `data ${c.dataKey}`;
    const sigId = `signals ${c.signalsKey}`;
    const refId = `reference ${c.dataKey}`;
    if (!tasks.has(dataId)) {
      state.set(dataId, needs(dataDir, "dataset.json"));
      tasks.set(dataId, { name: dataId, after: [], task: { kind: "data", options: { ...c.data, seed: c.seed, out: dataDir, force: true, quiet } } });
    }
    if (!tasks.has(sigId)) {
      state.set(sigId, needs(sigDir, "summary.json"));
      tasks.set(sigId, {
        name: sigId,
        after: [dataId],
        task: { kind: "signals", options: { ...c.extract, teacher: study.teacher, data: dataDir, out: sigDir, force: true, quiet } },
      });
    }
    if (!tasks.has(refId)) {
      // The teacher's maps too: a folder kept as records only (reference.json, cell.json) is resumed by making them again.
      const maps = s.eval.splits.every((split) => existsSync(join(refDir, "teacher", `${split}.maps.json`)));
      state.set(refId, maps ? needs(refDir, REFERENCE_FILE) : "todo");
      tasks.set(refId, {
        name: refId,
        after: [dataId],
        task: { kind: "reference", dir: refDir, dataDir, teacher: study.teacher, splits: s.eval.splits, limit: s.eval.limit, quiet },
      });
    }
    const cellId = `cell ${c.id}`;
    state.set(cellId, "todo");
    const task: CellTask = {
      kind: "cell",
      dir: p.cell(c.id),
      dataDir,
      signalsDir: sigDir,
      refDir,
      teacher: study.teacher,
      studentBase: study.studentBase,
      student: c.student,
      splits: s.eval.splits,
      limit: s.eval.limit,
      probes: c.student.mode === "distill" ? [] : s.eval.probes,
      record: {
        id: c.id,
        seed: c.seed,
        variant: c.variant,
        levels: c.levels,
        dataKey: c.dataKey,
        options: { data: c.data, extract: c.extract, student: c.student },
        study: { file: o.file, sha256: study.sha256 },
      },
      quiet,
    };
    tasks.set(cellId, { name: c.id, after: [sigId, refId], task });
  }
  // Cells first, so results arrive early; then what unblocks cells; data last.
  const order = [...tasks.keys()].sort((a, b) => rank(a) - rank(b));
  const next = (): Job | null | undefined => {
    let waiting = false;
    for (const id of order) {
      if (state.get(id) !== "todo") continue;
      const t = tasks.get(id)!;
      if (t.after.every((d) => state.get(d) === "done")) {
        state.set(id, "running");
        return { name: id, task: t.task };
      }
      waiting = true;
    }
    return waiting || [...state.values()].includes("running") ? null : undefined;
  };
  let finished = 0;
  const timings: Record<string, number> = {};
  const jobs: Record<string, number> = {};
  // Threads per job follow from the whole study's cell count, not from what is left to run:
  // another thread count sums in another order, so a cell resumed alone or run in a shard must
  // get the threads it would have had in the whole run to give the same bits.
  const plan = planJobs(Math.max(1, total), threads, o.jobs);
  await runInProcesses(next, plan, {
    quiet,
    onFinish: (job, seconds) => {
      state.set(job.name, "done");
      timings[job.task.kind] = (timings[job.task.kind] ?? 0) + seconds;
      jobs[job.name] = seconds;
      if (job.task.kind === "cell") log(`cell ${++finished}/${pending.length} done: ${job.task.record.id} (${seconds.toFixed(1)} s)`);
      else log(`${job.name} done (${seconds.toFixed(1)} s)`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (!embedded)
    log(`${pending.length} cells run, ${skipped} found finished, in ${seconds.toFixed(0)} s; report with: lavit study report ${o.out} --out <folder>`);
  return { out, cells: total, shardCells: mine.length, ran: pending.length, skipped, seconds, timings, jobs };
}

function rank(id: string): number {
  return id.startsWith("cell ") ? 0 : id.startsWith("signals ") ? 1 : id.startsWith("reference ") ? 2 : 3;
}
