import { join } from "node:path";
import { withDefaults } from "./defaults.js";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit, type LoadedSplit } from "../data/dataset.js";
import { MAX_LATENTS, type Tokenizer } from "../data/tokenizer.js";
import { initFromFolder, readModelFolder } from "../model/checkpoint.js";
import { answerFormatOf, DATASET_FORMAT, isImportedDataset } from "../data/manifest.js";
import { readVlmConfig, type VlmConfig } from "../model/config.js";
import type { ParamStore } from "../model/params.js";
import { studentConfig } from "../model/presets.js";
import { SHIPPED_STUDENT_BASE } from "../model/shipped.js";
import { buildVlm, isHeadParam } from "../model/vlm.js";
import { openSignals, readSignalsSummary, type SampleSignals } from "../signals/layout.js";
import type { OfficialReadOptions as ReadSignalsOptions } from "../signals/official-layout.js";
import { checkJoin, joinSignals } from "../signals/join.js";
import { isTwoStage } from "../train/gate.js";
import type { GateMode, GateSchedule } from "../train/gate-options.js";
import { lavitTask, type LavitSettings, type StudentSignals } from "../train/student.js";
import type { TrajSource, TrajTarget, VtopTarget } from "../train/student-options.js";
import { checkExtraction, flagOf, OFFICIAL_STUDENT, PRESETS, withPreset, type Preset } from "./presets.js";
import { answerTarget, studentTargetText, type AnswerFormat, type TargetText } from "../train/target-text.js";
import { teacherTask } from "../train/teacher.js";
import type { TrainCallbacks, TrainResult } from "../train/result.js";
import { trainToFolder } from "./train-folder.js";
import { trainerOptions, TRAINER_FIELDS, withoutCallbacks, type CommonTrainOptions } from "./trainer-options.js";
import { z } from "zod";
import { countOrZero, flag, named, numIn, partialOptions, positiveInt, text, validateOptions } from "./options-schema.js";
import { SPLITS, type Split } from "../data/manifest.js";
import { duringTrainingEval } from "./student-eval.js";
import { GATE_MODES, GATE_SCHEDULES } from "../train/gate-options.js";
import { TARGET_TEXTS } from "../train/target-text.js";
import { checkBatchSize, checkLatents, checkModelFits } from "../util/limits.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";

export type StudentMode = "lavit" | "distill";

export interface StudentOptions extends CommonTrainOptions {
  /** Dataset folder the signals were extracted from. */
  data: string;
  /** Teacher signals folder (from `extract`). */
  signals: string;
  /** lavit: latents, alignment losses and the sensory gate; distill: CE on the teacher's text only. */
  mode?: StudentMode;
  /** Teacher model folder, to check the signals against its config. */
  teacher?: string;
  /** Student model config JSON (default: the initFrom model's size, else the built-in student size). */
  config?: string;
  /** The official layout's metadata file, when not at its usual place under the signals root. */
  metadata?: string;
  /** Read signal files whose paths lead outside the signals root. */
  allowOutsideRoot?: boolean;
  /** A sample in the signals but not in the split, or the reverse, is an error (else counted and reported). */
  strict?: boolean;
  /** Split the signals were extracted from (default: from the signals' summary.json, else train). */
  split?: string;
  /** Base model to start from; null trains from scratch. The LaViT heads start fresh either way. */
  initFrom?: string | null;
  /** Keep the initFrom vision tower as it is (default: yes when starting from a base). */
  freezeVision?: boolean;
  /** Latent visual thought tokens K. */
  latents?: number;
  wVtop?: number;
  wTraj?: number;
  vtopTarget?: VtopTarget;
  /** Sparsify the teacher's maps to their top k; 0 keeps them whole. */
  trajTopk?: number;
  trajSource?: TrajSource;
  /** steps: latent k aligns to step k; first-last: step 1 from the last latent only (public code). */
  trajTarget?: TrajTarget;
  /** The alignment heads' form and tensor names: lavit's, or the public code's. */
  trajHead?: "lavit" | "official";
  gateSchedule?: GateSchedule;
  /** two-stage: stage 2's peak learning rate as a fraction of --lr. */
  stage2LrRatio?: number;
  /** two-stage: start stage 2 with a fresh optimiser, as the public code's second job does. */
  stage2ResetOptimizer?: boolean;
  /** official: every training choice of the public code at once (a contradicting option is an error). */
  preset?: Preset;
  /** Fraction of training by which vision is fully open again. */
  gateOpenAt?: number;
  gateMode?: GateMode;
  gatePrompt?: boolean;
  /** false drops the trajectory loss (ablation). */
  traj?: boolean;
  /** false drops the V_top loss (ablation). */
  vtop?: boolean;
  /** false: no sensory gate (ablation). */
  gate?: boolean;
  answerWeight?: number;
  targetText?: TargetText;
  /** Evaluate the held-out split every n steps and at the last, as "eval" lines in metrics.jsonl; 0: never. */
  evalEvery?: number;
  /** The split of the same dataset those evaluations answer. */
  evalSplit?: Split;
  /** Only the first n samples of that split. */
  evalLimit?: number;
  /** Called after each of those evaluations with its metrics (library only). */
  onEval?: TrainCallbacks["onEval"];
}

/**
 * The defaults are the demo's recipe, so `lavit train student` as the README writes it trains
 * the demo's students.
 */
export const STUDENT_DEFAULTS = {
  mode: "lavit" as StudentMode,
  steps: 500,
  initFrom: SHIPPED_STUDENT_BASE as string | null,
  latents: 8,
  wVtop: 0.3,
  wTraj: 0.3,
  vtopTarget: "pooled" as VtopTarget,
  trajTopk: 8,
  trajSource: "head" as TrajSource,
  trajTarget: "steps" as TrajTarget,
  trajHead: "lavit" as "lavit" | "official",
  gateSchedule: "cosine" as GateSchedule,
  // The answer leans on the latents longest when the gate opens over the whole run.
  gateOpenAt: 1,
  gateMode: "hard" as GateMode,
  gatePrompt: false,
  traj: true,
  vtop: true,
  gate: true,
  answerWeight: 1,
  targetText: "full" as TargetText,
  preset: "lavit" as Preset,
  evalEvery: 0,
  evalSplit: "test-ood" as Split,
  strict: false,
  /**
   * What `--gate-schedule two-stage` means unless told otherwise: the public code's two jobs
   * (400 + 600 steps: the gate opens at 0.4 of the run; stage 2 at 2e-6 / 5e-6 of the first
   * stage's learning rate with a fresh optimiser; the question blocked from the image in stage 1).
   * `two-stage-visual-only` keeps one schedule and optimiser and an open question unless told.
   */
  twoStage: { gateOpenAt: 0.4, gatePrompt: true, stage2LrRatio: 0.4, stage2ResetOptimizer: true },
};

/** The options of `trainStudent` and their ranges (the CLI's parsers read them from here). */
export const studentOptionsSchema = named(
  z
    .object({
      ...TRAINER_FIELDS,
      data: text(),
      signals: text(),
      mode: z.enum(["lavit", "distill"]).optional(),
      teacher: text().optional(),
      config: text().optional(),
      metadata: text().optional(),
      allowOutsideRoot: flag().optional(),
      strict: flag().optional(),
      split: text().optional(),
      initFrom: text().nullable().optional(),
      freezeVision: flag().optional(),
      latents: countOrZero().optional(),
      wVtop: numIn(0, 100).optional(),
      wTraj: numIn(0, 100).optional(),
      vtopTarget: z.enum(["pooled", "mean", "mean-last"]).optional(),
      trajTopk: countOrZero().optional(),
      trajSource: z.enum(["head", "attention"]).optional(),
      trajTarget: z.enum(["steps", "first-last"]).optional(),
      trajHead: z.enum(["lavit", "official"]).optional(),
      gateSchedule: z.enum(GATE_SCHEDULES).optional(),
      stage2LrRatio: numIn(1e-6, 100).optional(),
      stage2ResetOptimizer: flag().optional(),
      preset: z.enum(PRESETS).optional(),
      gateOpenAt: numIn(0, 1).optional(),
      gateMode: z.enum(GATE_MODES).optional(),
      gatePrompt: flag().optional(),
      traj: flag().optional(),
      vtop: flag().optional(),
      gate: flag().optional(),
      answerWeight: numIn(0, 100).optional(),
      targetText: z.enum(TARGET_TEXTS).optional(),
      evalEvery: countOrZero().optional(),
      evalSplit: z.enum(SPLITS).optional(),
      evalLimit: positiveInt().optional(),
    })
    .strict(),
  "student option",
);

/** A study's student option sets: any student option, none required (the study supplies data, signals and out). */
export const partialStudentOptionsSchema = partialOptions(studentOptionsSchema);

/** Options that mean something only for a LaViT student: giving one with mode distill is a contradiction, not a no-op. */
export const LAVIT_ONLY = [
  "latents",
  "wVtop",
  "wTraj",
  "vtopTarget",
  "trajTopk",
  "trajSource",
  "trajTarget",
  "trajHead",
  "gateSchedule",
  "gateOpenAt",
  "gateMode",
  "gatePrompt",
  "stage2LrRatio",
  "stage2ResetOptimizer",
  "traj",
  "vtop",
  "gate",
] as const;
export type LavitOnlyOption = (typeof LAVIT_ONLY)[number];

/**
 * The split's samples that have signals, in the manifest's order (so the order of the signals'
 * metadata never changes what is trained), joined by id with their questions checked (join.ts),
 * and the signals, read a sample at a time.
 */
function joinStudentSignals(
  dataDir: string,
  signalsDir: string,
  split: string | undefined,
  read: ReadSignalsOptions,
  o: { strict: boolean; targetText: TargetText },
): { data: LoadedSplit; signals: StudentSignals } {
  const chosen = split ?? readSignalsSummary(signalsDir)?.split ?? "train";
  const full = loadSplit(dataDir, chosen);
  const source = openSignals(signalsDir, full.info.size / full.info.patch, read);
  const where = { signals: signalsDir, data: dataDir, split: chosen };
  const j = joinSignals(source.results, full.samples, where);
  // A warning, not progress: printed with --quiet too.
  const notice = checkJoin(j, where, o.strict);
  if (notice) process.stderr.write(notice + "\n");
  const data = { ...full, samples: j.pairs.map((p) => full.samples[p.sample]), images: j.pairs.map((p) => full.images[p.sample]) };
  // The dataset's answer format decides the target's (lavit's own datasets: "answer X").
  const format: AnswerFormat = answerFormatOf(full.info);
  const targets = j.pairs.map((p, k) =>
    studentTargetText(answerTarget(source.results[p.result].ground_truth_enriched, data.samples[k].answer, format), o.targetText),
  );
  const readSample = (k: number) => source.read(j.pairs[k].result) as SampleSignals;
  return {
    data,
    signals: { size: j.pairs.length, vTopDim: readSample(0).vTop.dim, target: (k) => targets[k], read: readSample },
  };
}

/**
 * Starts a student from a base model (`trainBase`): same vision tower and decoder; the LaViT
 * heads, absent from the base, keep their fresh initialisation.
 */
function initFromBase(store: ParamStore, config: VlmConfig, tokenizer: Tokenizer, dir: string): void {
  initFromFolder(store, dir, { config, tokenizer }, isHeadParam);
}

/** What `trainStudent` reads and writes (the output guard's declaration; the CLI shares it). */
export const STUDENT_IO: IoSpec = {
  data: input(),
  signals: input(),
  teacher: input(),
  initFrom: input(),
  config: input(),
  metadata: input(),
  out: outputFolder("model", "run"),
};

/** Trains a student: LaViT (latent visual thoughts, alignment, gating) or the distill baseline. */
export async function trainStudent(given: StudentOptions): Promise<TrainResult> {
  validateOptions(studentOptionsSchema, withoutCallbacks(given, ["onStep", "onEval"]));
  // A distill student takes the preset's training choices, not the LaViT-only ones (it has no latents).
  const distill = (given.mode ?? STUDENT_DEFAULTS.mode) === "distill";
  const table = distill
    ? Object.fromEntries(Object.entries(OFFICIAL_STUDENT).filter(([k]) => !(LAVIT_ONLY as readonly string[]).includes(k)))
    : OFFICIAL_STUDENT;
  const opts = withPreset(given.preset, table, given);
  const two = (opts.gateSchedule ?? STUDENT_DEFAULTS.gateSchedule) === "two-stage" ? STUDENT_DEFAULTS.twoStage : {};
  const o = withDefaults(withDefaults(STUDENT_DEFAULTS, two), opts);
  const schedule = o.gate ? o.gateSchedule : "none";
  for (const k of ["stage2LrRatio", "stage2ResetOptimizer"] as const)
    if (opts[k] !== undefined && !isTwoStage(schedule))
      throw new UserError(`${optionFlag(k)} needs --gate-schedule two-stage or two-stage-visual-only (there is no second stage otherwise)`);
  const stages =
    isTwoStage(schedule) && (o.stage2LrRatio !== undefined || o.stage2ResetOptimizer !== undefined)
      ? { lrRatio: o.stage2LrRatio ?? 1, resetOptimizer: o.stage2ResetOptimizer ?? false }
      : undefined;
  if (o.mode === "distill") {
    const given = LAVIT_ONLY.filter((k) => opts[k] !== undefined);
    if (given.length) throw new UserError(`${optionFlag(given[0])} has no meaning with --mode distill (the baseline has no latents, alignment losses or gate)`);
  }
  checkLatents(o.latents, MAX_LATENTS);
  if (o.mode === "lavit" && o.latents === 0) throw new UserError("--latents 0 leaves LaViT nothing to align; use --mode distill for a student without latents");
  // The shipped base knows only the benchmark's words and images: a student of imported data starts from nothing unless told.
  const initFrom = (opts.initFrom === undefined && isImportedDataset(o.data) ? null : o.initFrom) ?? undefined;
  const freezeVision = o.freezeVision ?? !!initFrom;
  if (freezeVision && !initFrom) throw new UserError("--freeze-vision needs --init-from: a vision tower trained from nothing cannot stay as it starts");
  for (const k of ["evalSplit", "evalLimit"] as const)
    if (opts[k] !== undefined && !o.evalEvery) throw new UserError(`${flagOf(k)} needs --eval-every (evaluations during training are off)`);
  const options = { ...trainerOptions(o, o.steps), evalEvery: o.evalEvery, onEval: o.onEval };
  return withOutputs(STUDENT_IO, { ...o, initFrom }, async () => {
    await initEngine();
    checkExtraction(readSignalsSummary(o.signals), join(o.signals, "summary.json"), o.preset);
    const { data, signals } = joinStudentSignals(
      o.data,
      o.signals,
      o.split,
      { metadata: o.metadata, allowOutsideRoot: o.allowOutsideRoot },
      { strict: o.strict, targetText: o.targetText },
    );
    const vDim = signals.vTopDim;
    if (o.teacher) {
      const t = readModelFolder(o.teacher);
      if (t.config.decoder.hidden_size !== vDim)
        throw new UserError(
          `${o.signals}: V_top width ${vDim} disagrees with the teacher config ${join(o.teacher, "config.json")} (hidden_size ${t.config.decoder.hidden_size})`,
        );
    }
    const latents = o.mode === "lavit" ? o.latents : 0;
    // A student starting from a base has the base's size (on resume too: the checkpoint has it);
    // the base's vocabulary may be a prefix of the data's (initFromFolder checks), so the data's size wins.
    const sizeSource = o.config ?? (initFrom ? join(initFrom, "config.json") : undefined);
    const sized = sizeSource ? readVlmConfig(sizeSource) : studentConfig(data.tokenizer.size, data.info.size, data.info.patch);
    const config: VlmConfig = {
      ...sized,
      decoder: o.config ? sized.decoder : { ...sized.decoder, vocab_size: data.tokenizer.size },
      latent:
        latents > 0
          ? {
              num_latents: latents,
              teacher_hidden_size: vDim,
              ...(o.trajHead === "official" ? { heads: "official" as const } : {}),
              ...(o.gate && o.gateSchedule === "closed" ? { closed_gate: { prompt: o.gatePrompt } } : {}),
            }
          : undefined,
    };
    if (config.vision.image_size !== data.info.size || config.vision.patch_size !== data.info.patch)
      throw new UserError(
        `${sizeSource ?? "the built-in student config"}: vision image_size/patch_size do not match the dataset (${data.info.size}/${data.info.patch})${opts.initFrom === undefined && !o.config ? "; the default --init-from is the shipped student base: give --init-from none (or a base of your data's size)" : ""}`,
      );
    checkBatchSize(options.batchSize, data.samples.length, `${data.split} (with signals)`);
    checkModelFits(config, { training: true, batch: options.batchSize }, sizeSource ?? "the built-in student config");
    const vlm = buildVlm(config, options.seed);
    if (initFrom && !o.resume) initFromBase(vlm.store, config, data.tokenizer, initFrom);
    const settings = {
      mode: o.mode,
      init_from: initFrom ?? null,
      ...(freezeVision ? { freeze_vision: true } : {}),
      signals: o.signals,
      samples: data.samples.length,
      // The benchmark setting it learnt from: evaluating it on another setting's data is refused (model/training-record.ts).
      ...(data.info.format === DATASET_FORMAT && data.info.setting ? { data_setting: data.info.setting } : {}),
      latents,
      wVtop: o.vtop ? o.wVtop : 0,
      wTraj: o.traj ? o.wTraj : 0,
      vtopTarget: o.vtopTarget,
      trajTopk: o.trajTopk,
      trajSource: o.trajSource,
      ...(o.trajTarget !== "steps" ? { trajTarget: o.trajTarget } : {}),
      ...(o.trajHead !== "lavit" ? { trajHead: o.trajHead } : {}),
      ...(stages ? { stage2LrRatio: stages.lrRatio, stage2ResetOptimizer: stages.resetOptimizer } : {}),
      ...(o.preset !== "lavit" ? { preset: o.preset } : {}),
      gate: o.gate ? o.gateSchedule : "none",
      gateOpenAt: o.gateOpenAt,
      gateMode: o.gateMode,
      gatePrompt: o.gatePrompt,
      ...(o.answerWeight !== 1 ? { answer_weight: o.answerWeight } : {}),
      ...(o.targetText !== "full" ? { target_text: o.targetText } : {}),
    };
    if (!o.quiet)
      process.stderr.write(
        `student (${o.mode}): ${vlm.store.count().toLocaleString("en-US")} parameters, ${latents} latents, ${data.samples.length} samples with signals\n`,
      );
    let task;
    if (o.mode === "distill") {
      task = teacherTask(vlm, data, {
        kind: "student-distill",
        targets: Array.from({ length: signals.size }, (_, i) => signals.target(i)),
        frozenVision: freezeVision,
        answerWeight: o.answerWeight,
      });
      task.settings = settings;
    } else {
      const s: LavitSettings = {
        latents,
        wVtop: settings.wVtop,
        wTraj: settings.wTraj,
        vtopTarget: o.vtopTarget,
        trajTopk: o.trajTopk,
        trajSource: o.trajSource,
        trajTarget: o.trajTarget,
        stages,
        gate: { schedule: o.gate ? o.gateSchedule : "none", openAt: o.gateOpenAt, mode: o.gateMode, gatePrompt: o.gatePrompt },
        answerWeight: o.answerWeight,
      };
      task = lavitTask(vlm, data, signals, s, options.steps, options.seed, settings, freezeVision);
    }
    if (o.evalEvery)
      task.evaluate = duringTrainingEval(vlm, data.tokenizer, {
        data: o.data,
        split: o.evalSplit,
        limit: o.evalLimit,
        teacher: o.teacher,
        latents,
        headTrained: latents > 0 && settings.wTraj > 0 && o.trajSource !== "attention",
      });
    return trainToFolder(o.out, task, options, vlm);
  });
}

const FLAGS: Record<LavitOnlyOption, string> = {
  latents: "--latents",
  wVtop: "--w-vtop",
  wTraj: "--w-traj",
  vtopTarget: "--vtop-target",
  trajTopk: "--traj-topk",
  trajSource: "--traj-source",
  trajTarget: "--traj-target",
  trajHead: "--traj-head",
  stage2LrRatio: "--stage2-lr-ratio",
  stage2ResetOptimizer: "--no-stage2-reset-optimizer",
  gateSchedule: "--gate-schedule",
  gateOpenAt: "--gate-open-at",
  gateMode: "--gate-mode",
  gatePrompt: "--gate-prompt",
  traj: "--no-traj",
  vtop: "--no-vtop",
  gate: "--no-gate",
};

function optionFlag(k: LavitOnlyOption): string {
  return FLAGS[k];
}
