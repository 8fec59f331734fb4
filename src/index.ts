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
  type GazeMetrics,
  type GapMetrics,
} from "./eval/gap.js";
export { SHIPPED_TEACHER, SHIPPED_STUDENT_BASE } from "./model/shipped.js";
export { UserError, isUserError } from "./errors.js";
export type { TrainResult } from "./train/trainer.js";
export { initEngine } from "./engine/index.js";
