import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit } from "../data/dataset.js";
import { readDatasetInfo } from "../data/manifest.js";
import type { EvalResult } from "../eval/evaluate.js";
import { uniformGaze, type GazeMetrics } from "../eval/gap.js";
import { readVlmConfig } from "../model/config.js";
import { extract } from "../stages/extract.js";
import { generate } from "../stages/generate.js";
import { trainStudent, type StudentOptions } from "../stages/train-student.js";
import { checkLatents } from "../util/limits.js";
import { MAX_LATENTS } from "../data/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { acquireLock } from "../util/lock.js";
import { assertNotProtected, readMarker, writeMarker } from "../util/marker.js";
import { assertOutputApart, assertOutputLocation } from "../util/paths.js";
import { cachedEvaluation } from "../study/eval-cache.js";
import { writeHeatmaps, type HeatmapFigure } from "./heatmaps.js";
import { planJobs, runJobs } from "../study/pool.js";
import { DEMO_DEFAULTS, demoOptionsSchema, demoSizes, variants } from "./recipe.js";
import { validateOptions } from "../stages/options-schema.js";
import { aggregate, htmlReport, markdownReport, markdownTable, svgCurves, thoughtsRow, verdict, type DemoReport } from "./report.js";
import { checkDemoSettings, DEMO_SETTINGS_FILE, recordDemoSettings, weightsDigest, type DemoSettings } from "./settings.js";
import { STUDENT_DEFAULTS } from "../stages/train-student.js";
import { OFFICIAL_STUDENT, withPreset, type Preset } from "../stages/presets.js";
import { defaultWarmup } from "../stages/trainer-options.js";
import { isLossLine } from "../train/trainer.js";

export interface DemoOptions {
  out?: string;
  seeds?: number;
  /** The first data/training seed; the run uses firstSeed, firstSeed + 1, ... */
  firstSeed?: number;
  /** Probability that a train/test-id answer is its template's prior answer (the shortcut's strength). */
  prior?: number;
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
  /** Students trained at once, each in its own process (default: one per thread); 1 trains them in this process. */
  jobs?: number;
  quiet?: boolean;
}

type Resolved = typeof DEMO_DEFAULTS & DemoOptions & { resume: boolean; force: boolean; quiet: boolean };

const SPLITS = ["test-id", "test-ood", "test-pairs"] as const;
type Timings = Record<string, number>;

function done(dir: string): boolean {
  return existsSync(join(dir, ".done"));
}

function markDone(dir: string): void {
  writeFileAtomic(join(dir, ".done"), new Date().toISOString() + "\n");
}

function log(opts: Resolved, msg: string): void {
  if (!opts.quiet) process.stderr.write(`demo: ${msg}\n`);
}

async function timed<T>(timings: Timings, key: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  timings[key] = (timings[key] ?? 0) + (performance.now() - t0) / 1000;
  return r;
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
  assertOutputLocation(o.out);
  assertOutputApart(o.out, [
    { flag: "--teacher", path: o.teacher },
    { flag: "--student-base", path: o.studentBase ?? undefined },
  ]);
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
  const ours = (name: string) => name.startsWith("seed-") || ["heatmaps", DEMO_SETTINGS_FILE, "report.json", "report.md", "report.html"].includes(name);
  if (existsSync(out) && !o.resume && !o.force && readdirSync(out).some(ours))
    throw new UserError(`--out ${o.out} holds a previous, unfinished demo; use --resume to continue it or --force to start over`);
  mkdirSync(out, { recursive: true });
  writeMarker(out, "demo");
  if (o.force && !o.resume) for (const name of readdirSync(out)) if (ours(name)) rmSync(join(out, name), { recursive: true, force: true });
  const settings: DemoSettings = {
    quick: o.quick,
    prior: o.prior,
    latents: o.latents,
    preset: o.preset ?? "lavit",
    gate_open_at: STUDENT_DEFAULTS.gateOpenAt,
    teacher_weights_sha256: weightsDigest(o.teacher),
    student_base_weights_sha256: o.studentBase && weightsDigest(o.studentBase),
  };
  checkDemoSettings(out, o.out, settings);
  // A folder begun before the record existed gets one only at the end, once its per-stage checks (dataset prior, students' K) have passed.
  if (!readdirSync(out).some((name) => name.startsWith("seed-"))) recordDemoSettings(out, settings);
  return { out, settings };
}

/** The seed's dataset, made once (a resume checks it was made with the same prior). */
async function seedData(o: Resolved, seed: number, dataDir: string, timings: Timings): Promise<void> {
  if (existsSync(join(dataDir, "dataset.json"))) {
    const made = readDatasetInfo(dataDir).prior;
    if (made !== o.prior)
      throw new UserError(
        `${join(dataDir, "dataset.json")} was generated with prior ${made}, not ${o.prior}: resume with --prior ${made}, or give another --out`,
      );
    return;
  }
  log(o, `seed ${seed}: generating data`);
  const sizes = demoSizes(o.quick);
  await timed(timings, "data", () => generate({ out: dataDir, seed, prior: o.prior, train: sizes.train, test: sizes.test, force: true, quiet: o.quiet }));
}

/** Trains the seed's students that are not done yet: side by side in worker processes, or here. */
async function seedStudents(o: Resolved, seed: number, root: string, dataDir: string, sigDir: string, threads: number, timings: Timings): Promise<void> {
  const sizes = demoSizes(o.quick);
  const pending: { name: string; options: StudentOptions }[] = [];
  for (const v of variants(o.full, o.latents, o.preset)) {
    const dir = join(root, "students", v.name);
    if (done(dir)) {
      // A finished student is skipped, so the trainer's own settings check never sees it.
      const k = v.options.latents;
      const saved = k && readVlmConfig(join(dir, "config.json")).latent?.num_latents;
      if (k && saved !== k)
        throw new UserError(`${dir} was trained with ${saved} latent tokens, not ${k}: resume with --latents ${saved}, or give another --out`);
      continue;
    }
    const resume = existsSync(join(dir, "trainer_state.json"));
    // A start stopped before its first checkpoint left only metrics.jsonl: begin it again.
    if (!resume) rmSync(join(dir, "metrics.jsonl"), { force: true });
    const options: StudentOptions = {
      data: dataDir,
      out: dir,
      signals: sigDir,
      teacher: o.teacher,
      initFrom: o.studentBase,
      steps: sizes.steps,
      seed,
      resume,
      quiet: o.quiet,
      ...v.options,
    };
    pending.push({ name: v.name, options });
  }
  const plan = planJobs(pending.length, threads, o.jobs);
  if (pending.length && plan.jobs > 1) {
    log(
      o,
      `seed ${seed}: training ${pending.map((j) => j.name).join(", ")} (${sizes.steps} steps each), ${plan.jobs} at a time on ${plan.threadsPerJob} thread${plan.threadsPerJob > 1 ? "s" : ""} each`,
    );
    await timed(timings, "train (wall)", () =>
      runJobs(
        pending.map((j) => ({ name: j.name, task: { kind: "student" as const, options: j.options } })),
        plan,
        {
          quiet: o.quiet,
          onFinish: ({ name }, seconds) => {
            timings[`train ${name}`] = (timings[`train ${name}`] ?? 0) + seconds;
            markDone(join(root, "students", name));
          },
        },
      ),
    );
    return;
  }
  for (const job of pending) {
    log(o, `seed ${seed}: training ${job.name} (${sizes.steps} steps)`);
    await timed(timings, `train ${job.name}`, () => trainStudent(job.options));
    markDone(job.options.out);
  }
}

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
  const engine = await initEngine();
  const lock = acquireLock(resolve(o.out));
  try {
    return await demoIn(o, engine.info.threads);
  } finally {
    lock.release();
  }
}

async function demoIn(o: Resolved, threads: number): Promise<DemoReport> {
  const { out, settings } = prepareOut(o);
  const sizes = demoSizes(o.quick);
  const seeds = Array.from({ length: o.seeds }, (_, i) => o.firstSeed + i);
  const students = variants(o.full, o.latents, o.preset);
  const timings: Timings = {};
  const perSeed: Record<string, Record<string, Partial<EvalResult> & GazeMetrics>>[] = [];
  const referencePerSeed: Record<string, Record<string, GazeMetrics>>[] = [];
  const heatmaps: HeatmapFigure[] = [];

  for (const seed of seeds) {
    const root = join(out, `seed-${seed}`);
    const dataDir = join(root, "data");
    await seedData(o, seed, dataDir, timings);
    const sigDir = join(root, "signals");
    if (!existsSync(join(sigDir, "summary.json"))) {
      log(o, `seed ${seed}: extracting the teacher's signals on train`);
      await timed(timings, "signals", () =>
        extract({ teacher: o.teacher, data: dataDir, out: sigDir, force: true, quiet: o.quiet, ...(o.preset ? { preset: o.preset } : {}) }),
      );
    }
    await seedStudents(o, seed, root, dataDir, sigDir, threads, timings);
    const results: Record<string, Record<string, Partial<EvalResult> & GazeMetrics>> = {};
    const reference: Record<string, GazeMetrics> = {};
    const models = [{ name: "teacher", dir: o.teacher }, ...students.map((v) => ({ name: v.name, dir: join(root, "students", v.name) }))];
    for (const split of SPLITS) {
      const data = loadSplit(dataDir, split);
      let teacherMaps: Float32Array[][] | undefined;
      const mapsByModel: Record<string, Float32Array[][]> = {};
      for (const m of models) {
        const ev = cachedEvaluation(join(root, "eval", m.name), m.dir, data, dataDir, { teacherMaps, quiet: o.quiet }, () =>
          log(o, `seed ${seed}: evaluating ${m.name} on ${split}`),
        );
        timings.eval = (timings.eval ?? 0) + ev.seconds;
        mapsByModel[m.name] = ev.maps;
        if (m.name === "teacher") teacherMaps = ev.maps;
        const { thoughts, ...said } = ev.result;
        (results[m.name] ??= {})[split] = said;
        // A student with latent thoughts gets a second gaze row: where its thoughts look, not its words.
        if (thoughts) (results[thoughtsRow(m.name)] ??= {})[split] = thoughts;
        if (ev.thoughtMaps) mapsByModel[thoughtsRow(m.name)] = ev.thoughtMaps;
      }
      reference[split] = uniformGaze(data.samples, teacherMaps!);
      if (seed === seeds[0] && split === "test-ood")
        heatmaps.push(
          ...writeHeatmaps(
            out,
            data,
            mapsByModel,
            ["teacher", "distill", "lavit", thoughtsRow("lavit")].filter((m) => mapsByModel[m]),
            { contrast: ["distill", mapsByModel[thoughtsRow("lavit")] ? thoughtsRow("lavit") : "lavit"], seed },
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
    },
    verdict: verdict(results, reference),
    timings_s: timings,
  };
  const curves = ["loss_ce", "loss_traj", "loss_vtop"].map((key) =>
    svgCurves(
      Object.fromEntries(
        students
          .map((v) => [v.name, readMetrics(join(out, `seed-${seeds[0]}`, "students", v.name, "metrics.jsonl"), key)])
          .filter(([, pts]) => (pts as unknown[]).length),
      ),
      `${key} (seed ${seeds[0]})`,
    ),
  );
  recordDemoSettings(out, settings);
  writeFileAtomic(join(out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(join(out, "report.md"), markdownReport(report, heatmaps));
  writeFileAtomic(join(out, "report.html"), htmlReport(report, curves, heatmaps));
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
