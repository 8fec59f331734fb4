import { UserError } from "../errors.js";
import { extractOptionsSchema } from "../stages/extract.js";
import { generateOptionsSchema } from "../stages/generate.js";
import { partialOptions, validateOptions } from "../stages/options-schema.js";
import { studentOptionsSchema } from "../stages/train-student.js";

export type OptionStage = "data" | "extract" | "student";

/**
 * The options a study may set, per stage: everything the stage takes except what the study
 * itself decides (folders, seeds, the models, resuming, output).
 */
const ALLOWED: Record<OptionStage, readonly string[]> = {
  data: ["setting", "size", "patch", "prior", "teacherTrain", "train", "test"],
  extract: ["method", "layout", "topk", "tau", "layers", "queries", "gradientRecipe", "vtopLayer", "onlyCorrect", "preset", "limit"],
  student: [
    "mode",
    "latents",
    "wVtop",
    "wTraj",
    "vtopTarget",
    "trajTopk",
    "trajSource",
    "trajTarget",
    "trajHead",
    "gateSchedule",
    "stage2LrRatio",
    "stage2ResetOptimizer",
    "preset",
    "gateOpenAt",
    "gateMode",
    "gatePrompt",
    "traj",
    "vtop",
    "gate",
    "answerWeight",
    "targetText",
    "freezeVision",
    "steps",
    "batchSize",
    "lr",
    "warmup",
    "minLrRatio",
    "weightDecay",
    "clip",
    "logEvery",
    "checkpointEvery",
    "evalEvery",
    "evalSplit",
    "evalLimit",
  ],
};

const STAGE_NAME: Record<OptionStage, string> = { data: "data generate", extract: "extract", student: "train student" };

const SCHEMAS = {
  data: partialOptions(generateOptionsSchema),
  extract: partialOptions(extractOptionsSchema),
  student: partialOptions(studentOptionsSchema),
};

/**
 * Checks one set of a stage's options from a study file, naming `where` and the key: the same
 * ranges and messages as the stage itself (and the CLI), on the options a study may set.
 */
export function checkOptionSet(stage: OptionStage, options: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(options))
    if (!ALLOWED[stage].includes(key))
      throw new UserError(`${where}: "${key}" is not a ${STAGE_NAME[stage]} option a study may set (${ALLOWED[stage].join(", ")})`);
  validateOptions(SCHEMAS[stage], options, where);
}
