import { createHash } from "node:crypto";
import { readRegularFile } from "../util/read-guard.js";
import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { SHIPPED_TEACHER } from "../model/shipped.js";
import { STUDENT_DEFAULTS } from "../stages/train-student.js";
import { checkJson, parseJsonText } from "../util/json.js";
import { MAX_SEED } from "../util/limits.js";
import { checkOptionSet, type OptionStage } from "./options.js";
import { checkMetricName, DEFAULT_METRICS } from "./metrics.js";

export const PROBES = ["swap", "steer"] as const;
export type ProbeName = (typeof PROBES)[number];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const level = z.union([z.number(), z.string(), z.boolean(), z.null()]);
const optionSet = z.record(z.string(), z.unknown());
const factorTable = z.record(z.string(), z.array(level).min(1));

/**
 * A study file: a grid of runs. Every cell is one student (a variant) trained on one seed's data
 * at one combination of the factors' levels; data and signals are shared by the cells that can
 * share them. Option names are the stage functions' (camelCase), not the CLI's flags.
 */
const studySchema = z
  .object({
    name: z.string().regex(NAME, "a name of letters, digits, '.', '_', '+' or '-'"),
    description: z.string().optional(),
    /** Each seed is both the data seed and the students' training seed, as in the demo. */
    seeds: z
      .array(z.number().int().min(0).max(MAX_SEED))
      .min(1)
      .refine((s) => new Set(s).size === s.length, "seeds must be distinct"),
    /** Teacher model folder, relative to the study file (default: the shipped teacher). */
    teacher: z.string().min(1).optional(),
    /** Base model the students start from, relative to the study file; null trains from scratch (default: the shipped base). */
    studentBase: z.string().min(1).nullable().optional(),
    /** Options every cell shares, per stage. */
    data: optionSet.default({}),
    extract: optionSet.default({}),
    student: optionSet.default({}),
    /** The grid: per stage, option name → its levels. */
    factors: z.object({ data: factorTable.optional(), extract: factorTable.optional(), student: factorTable.optional() }).strict().default({}),
    /** Named sets of student options, e.g. "no-align": { "traj": false, "vtop": false }. */
    variants: z.record(z.string().regex(NAME, "a variant name of letters, digits, '.', '_', '+' or '-'"), optionSet).refine((v) => Object.keys(v).length > 0, {
      message: "at least one variant",
    }),
    eval: z
      .object({
        splits: z.array(z.string().min(1)).min(1),
        /** Only the first n samples of each split. */
        limit: z.number().int().positive().optional(),
        /** Probes of whether the answer reads the thoughts, run on every variant with latents. */
        probes: z.array(z.enum(PROBES)).default([]),
      })
      .strict(),
    /** What the report shows, per split (every cell's record keeps every metric). */
    metrics: z.array(z.string()).min(1).optional(),
    /** Differences the report draws, each [a, b] meaning a minus b, paired by seed. */
    compare: z.array(z.tuple([z.string(), z.string()])).default([]),
  })
  .strict();

export type StudySpec = z.infer<typeof studySchema>;
export type Level = z.infer<typeof level>;

export interface LoadedStudy {
  file: string;
  sha256: string;
  spec: StudySpec;
  /** Resolved model folders. */
  teacher: string;
  studentBase: string | null;
  metrics: string[];
}

const STAGES = ["data", "extract", "student"] as const satisfies readonly OptionStage[];

/** Reads and checks a study file; every problem names the file and the key. */
export function loadStudy(file: string): LoadedStudy {
  if (!existsSync(file)) throw new UserError(`study file ${file} does not exist`);
  const bytes = readRegularFile(file);
  return checkStudy(parseJsonText(bytes.toString("utf8"), file), file, createHash("sha256").update(bytes).digest("hex"));
}

/** Checks a study (a file's parsed JSON, or the copy a study folder records). */
export function checkStudy(raw: unknown, file: string, sha256: string): LoadedStudy {
  const spec = checkJson(raw, studySchema, file);
  const where = (key: string) => `${file}: ${key}`;
  for (const stage of STAGES) checkOptionSet(stage, spec[stage], where(stage));
  for (const stage of STAGES) {
    for (const [key, levels] of Object.entries(spec.factors[stage] ?? {})) {
      if (key in spec[stage]) throw new UserError(`${where(`factors.${stage}.${key}`)} is also fixed in "${stage}"; give it in one place`);
      if (new Set(levels.map((l) => JSON.stringify(l))).size !== levels.length) throw new UserError(`${where(`factors.${stage}.${key}`)} repeats a level`);
      levels.forEach((l, i) => checkOptionSet(stage, { [key]: l }, where(`factors.${stage}.${key}[${i}]`)));
    }
  }
  for (const [name, options] of Object.entries(spec.variants)) {
    checkOptionSet("student", options, where(`variants.${name}`));
    for (const key of Object.keys(options))
      if (spec.factors.student && key in spec.factors.student)
        throw new UserError(`${where(`variants.${name}.${key}`)} is also a factor (factors.student.${key}); a variant cannot fix a factor`);
  }
  for (const [i, [a, b]] of spec.compare.entries())
    for (const v of [a, b])
      if (!(v in spec.variants)) throw new UserError(`${where(`compare[${i}]`)}: "${v}" is not a variant (${Object.keys(spec.variants).join(", ")})`);
  const metrics = spec.metrics ?? DEFAULT_METRICS;
  metrics.forEach((m, i) => checkMetricName(m, where(`metrics[${i}]`)));
  const base = dirname(resolve(file));
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    file,
    sha256,
    spec,
    teacher: spec.teacher ? rel(spec.teacher) : SHIPPED_TEACHER,
    studentBase: spec.studentBase === undefined ? STUDENT_DEFAULTS.initFrom : spec.studentBase && rel(spec.studentBase),
    metrics,
  };
}

/** The first place where two study specs differ, as a dotted key, or null when they are the same. */
export function firstDifference(a: unknown, b: unknown, path = ""): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
  }
  return path || "(the whole file)";
}
