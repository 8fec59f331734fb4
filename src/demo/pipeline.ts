import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit } from "../data/dataset.js";
import { THOUGHTS_READOUTS, type ThoughtsReadout } from "../eval/evaluate.js";
import type { EvalResult } from "../eval/result.js";
import { uniformGaze, type GazeMetrics } from "../eval/gap.js";
import type { Evaluation } from "../stages/evaluate.js";
import { checkLatents } from "../util/limits.js";
import { MAX_LATENTS } from "../data/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { assertNotProtected, readMarker, writeMarker } from "../util/marker.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { writeHeatmaps, type HeatmapFigure } from "./heatmaps.js";
import { demoExplorerSamples, readPredictions } from "./explorer-data.js";
import type { ExplorerSample } from "../report/explorer.js";
import { RUN_RECORD, runLoadedStudy, studyPaths } from "../study/run.js";
import { checkStudy, type LoadedStudy } from "../study/spec.js";
import { DEMO_DEFAULTS, demoOptionsSchema, demoSizes, variants } from "./recipe.js";
import { validateOptions } from "../stages/options-schema.js";
import { aggregate, htmlReport, markdownReport, markdownTable, curveChart, thoughtsRow, verdict, type DemoReport } from "./report.js";
import { checkDemoSettings, DEMO_SETTINGS_FILE, recordDemoSettings, weightsDigest, type DemoSettings } from "./settings.js";
import { STUDENT_DEFAULTS } from "../stages/train-student.js";
import { OFFICIAL_STUDENT, withPreset, type Preset } from "../stages/presets.js";
import { defaultWarmup } from "../stages/trainer-options.js";
import { isLossLine } from "../train/trainer.js";
import type { SettingName } from "../data/settings.js";

export interface DemoOptions {
  out?: string;
  seeds?: number;
  /** The first data/training seed; the run uses firstSeed, firstSeed + 1, ... */
  firstSeed?: number;
  /** Probability that a train/test-id answer is its template's prior answer (the shortcut's strength). */
  prior?: number;
  /** The benchmark setting of the demo's data (data/settings.ts). */
  setting?: SettingName;
  /** Also train the ablations. */
  full?: boolean;
  /** Tiny sizes: a smoke test, not a result. */
  quick?: boolean;
  resume?: boolean;
  force?: boolean;
  teacher?: string;
  /** Base model both students start from; null trains them from scratch. */
  studentBase?: string | null;
  /** Latent visual thought tokens of the `lavit` student (the --full ablations try the other K). */
  latents?: number;
  /** official: the public code's choices for the signals and every student (docs/fidelity.md). */
  preset?: Preset;
  /** Students trained at once, each in its own process (default: a seed's students all at once, at least one per thread); 1 trains them one after another. */
  jobs?: number;
  quiet?: boolean;
}

type Resolved = typeof DEMO_DEFAULTS & DemoOptions & { resume: boolean; force: boolean; quiet: boolean };

const SPLITS = ["test-id", "test-ood", "test-pairs"] as const;
type Timings = Record<string, number>;

function log(opts: Resolved, msg: string): void {
  if (!opts.quiet) process.stderr.write(`demo: ${msg}\n`);
}

/** Checks the models and the output folder before any work, and records the run's settings. */
function prepareOut(o: Resolved): { out: string; settings: DemoSettings } {
  const out = resolve(o.out);
  for (const v of variants(o.full, o.latents, o.preset)) if (v.options.latents !== undefined) checkLatents(v.options.latents, MAX_LATENTS);
  if (!existsSync(join(o.teacher, "model.safetensors")))
    throw new UserError(
      `no teacher at ${o.teacher}. Train one with: lavit data generate --out runs/teacher-data --seed 1 --teacher-train 20000 && lavit train teacher --data runs/teacher-data --out ${o.teacher}`,
    );
  if (o.studentBase && !existsSync(join(o.studentBase, "model.safetensors")))
    throw new UserError(
      `no student base model at ${o.studentBase}. Train one with: lavit data generate --out runs/teacher-data --seed 1 --teacher-train 20000 && lavit train base --data runs/teacher-data --out ${o.studentBase}; or give --student-base none to train the students from scratch`,
    );
  if (o.force && existsSync(out)) {
    assertNotProtected(out);
    // --force clears only a demo folder: lavit's marker or a demo.json says it is one.
    if (readdirSync(out).length && readMarker(out)?.kind !== "demo" && !existsSync(join(out, DEMO_SETTINGS_FILE)))
      throw new UserError(
        `--out ${o.out} is not a lavit demo folder (no ${DEMO_SETTINGS_FILE} or marker); --force replaces only a demo's own folder: choose another --out`,
      );
  }
  if (existsSync(join(out, "report.json")) && !o.force && !o.resume)
    throw new UserError(`--out ${o.out} already holds a report (report.json); use --force to recompute it, or another --out`);
  if (existsSync(out) && readdirSync(out).some((name) => name.startsWith("seed-")))
    throw new UserError(`--out ${o.out} holds a demo from an older lavit (seed-* folders, before demos ran as studies); give another --out`);
  const ours = (name: string) =>
    ["data", "signals", "refs", "cells", "heatmaps", RUN_RECORD, DEMO_SETTINGS_FILE, "report.json", "report.md", "report.html"].includes(name);
  if (existsSync(out) && !o.resume && !o.force && readdirSync(out).some(ours))
    throw new UserError(`--out ${o.out} holds a previous, unfinished demo; use --resume to continue it or --force to start over`);
  mkdirSync(out, { recursive: true });
  writeMarker(out, "demo");
  if (o.force && !o.resume) for (const name of readdirSync(out)) if (ours(name)) rmSync(join(out, name), { recursive: true, force: true });
  const settings: DemoSettings = {
    quick: o.quick,
    prior: o.prior,
    setting: o.setting,
    latents: o.latents,
    preset: o.preset ?? "lavit",
    gate_open_at: STUDENT_DEFAULTS.gateOpenAt,
    teacher_weights_sha256: weightsDigest(o.teacher),
    student_base_weights_sha256: o.studentBase && weightsDigest(o.studentBase),
  };
  checkDemoSettings(out, o.out, settings);
  // A folder begun before the record existed gets one only at the end, once its per-stage checks (dataset prior, students' K) have passed.
  if (!existsSync(join(out, "cells"))) recordDemoSettings(out, settings);
  return { out, settings };
}

/** The demo as a study: one cell per seed and student, the data, signals and teacher's evaluation shared per seed. */
export function demoStudy(o: Resolved): LoadedStudy {
  const sizes = demoSizes(o.quick);
  const students = variants(o.full, o.latents, o.preset);
  const spec = {
    name: "demo",
    description: "lavit's demo: the distill baseline, LaViT, and LaViT without its alignment losses (no-align), on the built-in benchmark.",
    seeds: Array.from({ length: o.seeds }, (_, i) => o.firstSeed + i),
    // The default setting is left out, so a default demo's study (and its folders) are what they were.
    data: { prior: o.prior, ...(o.setting !== "default" ? { setting: o.setting } : {}), train: sizes.train, test: sizes.test },
    extract: o.preset ? { preset: o.preset } : {},
    student: { steps: sizes.steps },
    variants: Object.fromEntries(students.map((v) => [v.name, v.options])),
    eval: { splits: [...SPLITS] },
    compare: students.filter((v) => v.name !== "lavit" && ["distill", "no-align"].includes(v.name)).map((v) => ["lavit", v.name]),
  };
  const raw = JSON.stringify(spec);
  const study = checkStudy(JSON.parse(raw), "the demo's built-in study", createHash("sha256").update(raw).digest("hex"));
  return { ...study, teacher: o.teacher, studentBase: o.studentBase };
}

type Results = Record<string, Record<string, Partial<EvalResult> & GazeMetrics>>;

function readEval(
  dir: string,
  split: string,
): { result: Evaluation; maps: Float32Array[][]; thoughtMaps?: Partial<Record<ThoughtsReadout, Float32Array[][]>> } {
  const readMaps = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as number[][][]).map((s) => s.map((x) => Float32Array.from(x)));
  const thoughts = (r: ThoughtsReadout) => join(dir, `${split}.thoughts-${r}.json`);
  const thoughtMaps = Object.fromEntries(THOUGHTS_READOUTS.filter((r) => existsSync(thoughts(r))).map((r) => [r, readMaps(thoughts(r))]));
  return {
    result: JSON.parse(readFileSync(join(dir, `${split}.json`), "utf8")) as Evaluation,
    maps: readMaps(join(dir, `${split}.maps.json`)),
    ...(Object.keys(thoughtMaps).length ? { thoughtMaps } : {}),
  };
}

/**
 * With more students than threads, all of a seed's students at once, one thread each (else the
 * study's plan: one per thread). Why: with one process per thread, the last student trains
 * alone on one thread while the others idle (a student's bits depend on its thread count, so it
 * cannot take them over); three one-thread students sharing two cores keep both busy to the end.
 */
export function defaultJobs(threads: number, students: number): number | undefined {
  return threads > 1 && students > threads ? students : undefined;
}

/** What the demo reads and writes (the output guard's declaration; the CLI shares it). */
export const DEMO_IO: IoSpec = { teacher: input(), studentBase: input(), out: outputFolder("demo", "run") };

/** Runs the whole pipeline on the built-in benchmark: data, teacher signals, students, evaluation, report. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoReport> {
  validateOptions(demoOptionsSchema, opts);
  // The preset's K unless --latents says otherwise (a contradiction is an error).
  const presetK = opts.preset === "official" ? withPreset(opts.preset, { latents: OFFICIAL_STUDENT.latents }, { latents: opts.latents }).latents : opts.latents;
  const o: Resolved = {
    ...DEMO_DEFAULTS,
    ...opts,
    ...(presetK !== undefined ? { latents: presetK } : {}),
    resume: !!opts.resume,
    force: !!opts.force,
    quiet: !!opts.quiet,
  };
  return withOutputs(DEMO_IO, o, async () => {
    await initEngine();
    return demoIn(o);
  });
}

async function demoIn(o: Resolved): Promise<DemoReport> {
  const { out, settings } = prepareOut(o);
  const sizes = demoSizes(o.quick);
  const study = demoStudy(o);
  const seeds = study.spec.seeds;
  const students = variants(o.full, o.latents, o.preset);
  const paths = studyPaths(out);
  log(
    o,
    `seeds ${seeds.join(", ")}: data, the teacher's signals, then ${students.map((s) => s.name).join(", ")} (${sizes.steps} steps each), evaluated on ${SPLITS.join(", ")}`,
  );
  const run = await runLoadedStudy(
    study,
    { file: study.file, out, jobs: o.jobs ?? defaultJobs((await initEngine()).info.threads, students.length), quiet: o.quiet },
    true,
  );
  const timings: Timings = { ...run.timings, wall: run.seconds };

  const perSeed: Results[] = [];
  const referencePerSeed: Record<string, Record<string, GazeMetrics>>[] = [];
  const heatmaps: HeatmapFigure[] = [];
  const explored: ExplorerSample[] = [];
  for (const seed of seeds) {
    const key = `seed-${seed}`;
    const dataDir = paths.data(key);
    const results: Results = {};
    const reference: Record<string, GazeMetrics> = {};
    const models = [
      { name: "teacher", evalDir: join(paths.ref(key), "teacher") },
      ...students.map((v) => ({ name: v.name, evalDir: join(paths.cell(`${key}_${v.name}`), "eval") })),
    ];
    for (const split of SPLITS) {
      const mapsByModel: Record<string, Float32Array[][]> = {};
      for (const m of models) {
        const ev = readEval(m.evalDir, split);
        mapsByModel[m.name] = ev.maps;
        const { thoughts_head, thoughts_attention, ...said } = ev.result;
        (results[m.name] ??= {})[split] = said;
        // A student with latent thoughts gets gaze rows of their own, one per read-out: where its thoughts look, not its words.
        const thoughts = { head: thoughts_head, attention: thoughts_attention };
        for (const r of THOUGHTS_READOUTS) {
          if (thoughts[r]) (results[thoughtsRow(m.name, r)] ??= {})[split] = thoughts[r];
          if (ev.thoughtMaps?.[r]) mapsByModel[thoughtsRow(m.name, r)] = ev.thoughtMaps[r];
        }
      }
      const data = loadSplit(dataDir, split);
      reference[split] = uniformGaze(data.samples, mapsByModel.teacher);
      if (seed === seeds[0])
        explored.push(...demoExplorerSamples(data, mapsByModel, Object.fromEntries(models.map((m) => [m.name, readPredictions(m.evalDir, split)]))));
      if (seed === seeds[0] && split === "test-ood")
        heatmaps.push(
          ...writeHeatmaps(
            out,
            data,
            mapsByModel,
            ["teacher", "distill", "lavit", ...THOUGHTS_READOUTS.map((r) => thoughtsRow("lavit", r))].filter((m) => mapsByModel[m]),
            { contrast: ["distill", [thoughtsRow("lavit", "head"), thoughtsRow("lavit", "attention")].find((m) => mapsByModel[m]) ?? "lavit"], seed },
          ),
        );
    }
    perSeed.push(results);
    referencePerSeed.push({ "uniform-gaze": reference });
  }

  const results = aggregate(perSeed);
  const reference = aggregate(referencePerSeed)["uniform-gaze"];
  const report: DemoReport = {
    seeds,
    results,
    reference,
    config: {
      quick: o.quick,
      full: o.full,
      preset: o.preset ?? "lavit",
      teacher: o.teacher,
      student_base: o.studentBase,
      latents: o.latents,
      ...sizes,
      warmup: defaultWarmup(sizes.steps),
      students: students.map((s) => s.name),
      prior: o.prior,
      setting: o.setting,
    },
    verdict: verdict(results, reference),
    timings_s: timings,
  };
  const curves = ["loss_ce", "loss_traj", "loss_vtop"].map((key) =>
    curveChart(
      Object.fromEntries(
        students
          .map((v) => [v.name, readMetrics(join(paths.cell(`seed-${seeds[0]}_${v.name}`), "student", "metrics.jsonl"), key)])
          .filter(([, pts]) => (pts as unknown[]).length),
      ),
      key,
      seeds[0],
    ),
  );
  recordDemoSettings(out, settings);
  writeFileAtomic(join(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(join(out, "report.md"), markdownReport(report, heatmaps));
  writeFileAtomic(
    join(out, "report.html"),
    htmlReport(report, curves, heatmaps, {
      models: [...new Set(explored.flatMap((s) => Object.keys(s.runs)))],
      samples: explored,
      sort: { metric: "correct", a: "lavit", b: "distill" },
    }),
  );
  if (!o.quiet) process.stdout.write(markdownTable(results, reference) + "\n\n" + report.verdict.statement + `\nreport: ${join(o.out, "report.html")}\n`);
  return report;
}

function readMetrics(file: string, key: string): { step: number; value: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((r) => isLossLine(r) && typeof r[key] === "number")
    .map((r) => ({ step: r.step, value: r[key] }));
}
