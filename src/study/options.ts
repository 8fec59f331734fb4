import { UserError } from "../errors.js";
import { extractOptionsSchema } from "../stages/extract.js";
import { generateOptionsSchema } from "../stages/generate.js";
import { partialOptions, validateOptions } from "../stages/options-schema.js";
import { studentOptionsSchema } from "../stages/train-student.js";

export type OptionStage = "data" | "extract" | "student";

/** What the study itself decides for every cell (folders, seeds, models, resuming, output), so a study file may not set it. */
const DECIDED_BY_STUDY = new Set([
  "out",
  "data",
  "signals",
  "teacher",
  "config",
  "metadata",
  "allowOutsideRoot",
  "strict",
  "split",
  "initFrom",
  "seed",
  "resume",
  "force",
  "quiet",
]);

/** The options a study may set, per stage: the stage's own options (its schema) less what the study decides. */
function allowed(schema: { shape: Record<string, unknown> }): readonly string[] {
  return Object.keys(schema.shape).filter((k) => !DECIDED_BY_STUDY.has(k));
}

const ALLOWED: Record<OptionStage, readonly string[]> = {
  data: allowed(generateOptionsSchema),
  extract: allowed(extractOptionsSchema),
  student: allowed(studentOptionsSchema),
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
