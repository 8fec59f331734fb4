/**
 * lavit as a library: one typed function per pipeline stage, each with its defaults object.
 * The CLI (`lavit ...`) is a thin layer over these.
 */
export { generate, GENERATE_DEFAULTS, generateOptionsSchema, type GenerateOptions } from "./stages/generate.js";
export { importData, IMPORT_DEFAULTS, type ImportOptions } from "./stages/import.js";
export { extract, EXTRACT_DEFAULTS, extractOptionsSchema, type ExtractStageOptions } from "./stages/extract.js";
export {
  trainTeacher,
  trainBase,
  TEACHER_DEFAULTS,
  BASE_DEFAULTS,
  teacherOptionsSchema,
  baseOptionsSchema,
  type TeacherOptions,
  type BaseOptions,
} from "./stages/pretrain.js";
export {
  trainStudent,
  STUDENT_DEFAULTS,
  studentOptionsSchema,
  partialStudentOptionsSchema,
  type StudentOptions,
  type StudentMode,
} from "./stages/train-student.js";
export { TRAINER_DEFAULTS, defaultWarmup, type CommonTrainOptions } from "./stages/trainer-options.js";
export {
  ANSWER_PROBES,
  EVALUATE_DEFAULTS,
  evaluate,
  evaluateTeacherForced,
  evaluateVisionTower,
  evaluateLoaded,
  evaluateOptionsSchema,
  diagnosticOptionsSchema,
  type AnswerProbe,
  type EvaluateOptions,
  type Evaluation,
} from "./stages/evaluate.js";
export { gap, GAP_DEFAULTS, gapOptionsSchema, type GapOptions } from "./stages/gap.js";
export type { GapReport } from "./report/gap-report.js";
export { ask, ASK_DEFAULTS, askOptionsSchema, type AskOptions, type AskResult } from "./stages/ask.js";
export { runStudy, STUDY_DEFAULTS, type StudyRunOptions, type StudyRunResult } from "./study/run.js";
export { reportStudy, type StudyReportOptions, type StudyReport } from "./study/report.js";
export { runDemo as demo, type DemoOptions } from "./demo/pipeline.js";
export { DEMO_DEFAULTS, demoOptionsSchema } from "./demo/recipe.js";
export { validateOptions, partialOptions } from "./stages/options-schema.js";
export type { DemoReport } from "./demo/report.js";
export {
  jensenShannon,
  entropy,
  topkIou,
  sampleGaze,
  meanGaze,
  mapGaze,
  meanGap,
  uniformGap,
  uniformGaze,
  sampleRegions,
  type GazeMetrics,
  type GapMetrics,
  type StepRegions,
} from "./eval/gap.js";
export { SHIPPED_TEACHER, SHIPPED_STUDENT_BASE } from "./model/shipped.js";
export { UserError, isUserError } from "./errors.js";
export { initEngine } from "./engine/public.js";
export type { Engine, EngineInfo, EngineTier } from "./engine/info.js";

// Training results and the per-step callbacks (onStep on every trainer, onEval on trainStudent).
export type { TrainResult, StepInfo, EvalInfo, TrainCallbacks } from "./train/result.js";
export type {
  EvalResult,
  GroupAccuracy,
  Prediction,
  ThoughtsMetrics,
  ThoughtsReadout,
  ForcedResult,
  ForcedAccuracy,
  VisionHeadsResult,
  HeadAccuracy,
} from "./eval/result.js";
export type { AnswerProbes, SwapProbe, SteerProbe } from "./eval/probe-results.js";

// Readers: datasets, model folders, signals in either layout (lavit's or the official pipeline's).
export { loadSplit, type LoadedSplit } from "./data/dataset.js";
export { readDatasetInfo, readManifest, parseManifest, SPLITS, type DatasetInfo, type Sample, type SampleObject, type Split } from "./data/manifest.js";
export type { ImageReadOptions } from "./data/images.js";
export { Tokenizer, SPECIAL_TOKENS, MAX_LATENTS } from "./data/tokenizer.js";
export { readVlmConfig, type VlmConfig, type VisionConfig, type DecoderConfig } from "./model/config.js";
export { readModelFolder, loadModel, type ModelFolder, type ModelHandle, type LoadedEvaluation } from "./eval/handle.js";
export {
  openSignals,
  detectLayout,
  readSignalsSummary,
  type SignalsSource,
  type SignalsLayout,
  type SampleSignals,
  type TrajectorySignals,
  type SignalResult,
  type ReadSignalsOptions,
} from "./signals/layout.js";
export type { OfficialReadOptions, OfficialSampleInfo } from "./signals/official-layout.js";
export { joinSignals, checkJoin, normaliseQuestion, type JoinResult, type JoinWhere } from "./signals/join.js";
