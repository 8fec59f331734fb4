import { join } from "node:path";
import { z } from "zod";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import { checkJson, parseJsonText, readJsonValue } from "../util/json.js";
import { FAMILIES } from "./families/family.js";
import { COLOURS, SHAPES, SIZES } from "./vocab.js";
import { SETTING_NAMES, type SettingName } from "./settings.js";
import { quoteInput } from "../util/errors-text.js";

/** The built-in benchmark's splits. An imported dataset has splits of any name (see checkSplit). */
export const SPLITS = ["teacher-train", "train", "test-id", "test-ood", "test-pairs"] as const;
export type Split = (typeof SPLITS)[number];

const objectSchema = z
  .object({
    shape: z.enum(SHAPES),
    colour: z.enum(COLOURS),
    size: z.enum(SIZES),
    x0: z.number().int(),
    y0: z.number().int(),
    w: z.number().int().positive(),
    h: z.number().int().positive(),
    depth: z.number().int().nonnegative(),
  })
  .strict();

const stepSchema = z
  .object({
    text: z.string().min(1),
    objects: z.array(z.number().int().nonnegative()),
    /** Ground-truth patches (row-major patch indices) the step must look at. */
    patches: z.array(z.number().int().nonnegative()).min(1),
  })
  .strict();

/** One manifest line of the built-in benchmark: every field is known, since lavit drew the scene. */
export const benchmarkSampleSchema = z
  .object({
    id: z.string().min(1),
    image: z.string().min(1),
    question: z.string().min(1),
    answer: z.string().min(1),
    family: z.enum(FAMILIES),
    template: z.string().min(1),
    choices: z.array(z.string()).min(2),
    rationale: z.array(stepSchema).min(1).max(8),
    objects: z.array(objectSchema),
    pair: z.string().optional(),
    noise_seed: z.number().int().optional(),
  })
  .strict();

export type SampleObject = z.infer<typeof objectSchema>;

/**
 * How an imported image was fitted into the dataset's square: scaled by `scale` (aspect kept),
 * then placed at (`dx`, `dy`) on a padded size x size canvas. A point (x, y) of the original
 * is at (x * scale + dx, y * scale + dy) in the dataset's image.
 */
const transformSchema = z
  .object({
    source: z.string().min(1),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    scale: z.number().positive(),
    dx: z.number().int().nonnegative(),
    dy: z.number().int().nonnegative(),
  })
  .strict();
export type ImageTransform = z.infer<typeof transformSchema>;

const boxSchema = z.tuple([z.number(), z.number(), z.number(), z.number()]);

const importedStepSchema = z
  .object({
    text: z.string().min(1),
    /** Patches of the step's boxes; empty when the step has none (its grounding is then unknown). */
    patches: z.array(z.number().int().nonnegative()),
    boxes: z.array(boxSchema).optional(),
  })
  .strict();

/**
 * One manifest line of an imported dataset (`lavit data import`). Only `id`, `image`,
 * `question` and `answer` are required; a field the source did not have is absent, and so is
 * every metric that needs it.
 */
export const importedSampleSchema = z
  .object({
    id: z.string().min(1),
    image: z.string().min(1),
    question: z.string().min(1),
    answer: z.string().min(1),
    family: z.string().min(1).optional(),
    choices: z.array(z.string().min(1)).min(2).optional(),
    rationale: z.array(importedStepSchema).max(8),
    /** The answer's evidence: boxes in the original image's pixels, and the patches they cover. */
    boxes: z.array(boxSchema).optional(),
    evidence: z.array(z.number().int().nonnegative()).optional(),
    transform: transformSchema,
  })
  .strict();

/** A rationale step: its text and the patches it must look at (empty: not known). */
export interface SampleStep {
  text: string;
  objects?: number[];
  patches: number[];
  boxes?: [number, number, number, number][];
}

/**
 * A sample as every stage sees it, whichever kind of dataset it comes from. The fields after
 * `answer` are optional: the benchmark has them all, an imported dataset those its source had.
 * An empty `rationale` means the trajectory has one step, the answer's, whose patches are
 * `evidence` when known.
 */
export interface Sample {
  id: string;
  image: string;
  question: string;
  answer: string;
  family?: string;
  template?: string;
  choices?: string[];
  rationale: SampleStep[];
  objects?: SampleObject[];
  pair?: string;
  noise_seed?: number;
  boxes?: [number, number, number, number][];
  evidence?: number[];
  transform?: ImageTransform;
}
export type BenchmarkSample = z.infer<typeof benchmarkSampleSchema>;

export function manifestPath(dir: string, split: string): string {
  return join(dir, split, "manifest.jsonl");
}

/** A split name is a folder name: letters, digits, ".", "_" and "-", not starting with "." (so never ".." or a path). */
const SPLIT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** Any split name a dataset can hold: the benchmark's five, or an imported dataset's own. */
export function checkSplit(split: string, flag = "--split"): string {
  if (!SPLIT_NAME.test(split))
    throw new UserError(`${flag}: ${quoteInput(split)} is not a split name (letters, digits, ".", "_" and "-", at most 64, not starting with ".")`);
  return split;
}

/** The splits a dataset folder lists in its dataset.json, the benchmark's in their own order. */
export function datasetSplits(info: DatasetInfo): string[] {
  const names = Object.keys(info.splits);
  return [...SPLITS.filter((s) => names.includes(s)), ...names.filter((s) => !(SPLITS as readonly string[]).includes(s))];
}

/** Parses manifest text; every problem is reported as file:line: field: message. */
export function parseManifest(text: string, file: string, kind: DatasetKind = "benchmark"): Sample[] {
  const schema = kind === "imported" ? importedSampleSchema : benchmarkSampleSchema;
  const out: Sample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const where = `${file}:${i + 1}`;
    out.push(checkJson(parseJsonText(line, where), schema, where));
  }
  return out;
}

/** The splits a folder's dataset.json lists, or null when it has no readable one. */
function listedSplits(dir: string): string[] | null {
  try {
    return datasetSplits(readDatasetInfo(dir));
  } catch {
    return null;
  }
}

/** The dataset kind of a folder (benchmark when it has no readable dataset.json: the reader then says what is wrong). */
function kindOf(dir: string): DatasetKind {
  try {
    return datasetKind(readDatasetInfo(dir));
  } catch {
    return "benchmark";
  }
}

export function readManifest(dir: string, split: string, kind: DatasetKind = kindOf(dir)): Sample[] {
  const s = checkSplit(split);
  const file = manifestPath(dir, s);
  let text: string;
  try {
    text = readRegularFile(file, "utf8");
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      const listed = listedSplits(dir);
      if (listed && !listed.includes(s)) throw new UserError(`--split: unknown split "${s}" (${dir} has ${listed.join(", ")})`);
    }
    throw new UserError(`${file}: cannot read manifest (${code === "ENOENT" ? "no such file" : (code ?? String(e))})`);
  }
  return parseManifest(text, file, kind);
}

/** A benchmark split, every field present (what the scene-drawing code and its tests read). */
export function readBenchmarkManifest(dir: string, split: string): BenchmarkSample[] {
  return readManifest(dir, split, "benchmark") as BenchmarkSample[];
}

/** The scene of a benchmark sample; an imported one has none (a stage that needs it says so). */
export function sceneObjects(s: Sample, what: string): SampleObject[] {
  if (!s.objects) throw new UserError(`${what} needs the benchmark's scene descriptions; sample ${s.id} is imported and has none`);
  return s.objects;
}

export function formatManifest(samples: readonly Sample[]): string {
  return samples.map((s) => JSON.stringify(s)).join("\n") + (samples.length ? "\n" : "");
}

/**
 * Version 2: rationale steps locate objects ("look red circle 3 5"), and spatial and depth
 * questions end with where the first object is ("look red circle left"). Version 3: a depth
 * rationale names the colour hidden at the overlap first ("look hidden blue"). An older
 * folder would teach a model the old text.
 */
export const DATASET_FORMAT = "lavit-shapes/3";
/** A dataset made by `lavit data import` from someone's own files (fields may be absent, splits of any name). */
export const IMPORT_FORMAT = "lavit-import/1";

/**
 * How answers are written and scored. `lavit`: one word after "answer" (the benchmark's).
 * `free`: the whole text after the rationale, normalised (case, punctuation, articles, number
 * words) and exact-matched.
 */
export const ANSWER_FORMATS = ["lavit", "free"] as const;
export type AnswerFormat = (typeof ANSWER_FORMATS)[number];

const benchmarkInfoSchema = z
  .object({
    format: z.literal(DATASET_FORMAT),
    seed: z.number().int(),
    /** The benchmark setting (absent: default). */
    setting: z.enum(SETTING_NAMES as [SettingName, ...SettingName[]]).optional(),
    size: z.number().int().positive(),
    patch: z.number().int().positive(),
    prior: z.number().min(0).max(1),
    splits: z.record(z.string(), z.number().int().nonnegative()),
  })
  .strict();

const importedInfoSchema = z
  .object({
    format: z.literal(IMPORT_FORMAT),
    seed: z.number().int(),
    size: z.number().int().positive(),
    patch: z.number().int().positive(),
    splits: z.record(z.string(), z.number().int().nonnegative()),
    answer_format: z.enum(ANSWER_FORMATS),
    /** The file the dataset was imported from, as given. */
    source: z.string(),
  })
  .strict();

/** dataset.json: how a dataset folder was made (and the image geometry every stage needs). */
export const datasetInfoSchema = z.discriminatedUnion("format", [benchmarkInfoSchema, importedInfoSchema]);
export type DatasetInfo = z.infer<typeof datasetInfoSchema>;
export type DatasetKind = "benchmark" | "imported";

export function datasetKind(info: DatasetInfo): DatasetKind {
  return info.format === IMPORT_FORMAT ? "imported" : "benchmark";
}

/** The answer format a dataset's answers are scored in. */
/**
 * Whether `dir` holds an imported dataset, for the defaults that differ on one. A folder that
 * cannot be read counts as not imported: the stage reads it again after its output guard, and
 * reports the problem there.
 */
export function isImportedDataset(dir: string): boolean {
  try {
    return datasetKind(readDatasetInfo(dir)) === "imported";
  } catch {
    return false;
  }
}

export function answerFormatOf(info: DatasetInfo): AnswerFormat {
  return info.format === IMPORT_FORMAT ? info.answer_format : "lavit";
}

export function readDatasetInfo(dir: string): DatasetInfo {
  const file = join(dir, "dataset.json");
  const raw = readJsonValue(file, { what: "dataset description", hint: `is ${dir} a folder made by \`lavit data generate\`?` });
  const format = (raw as { format?: unknown } | null)?.format;
  if (typeof format === "string" && format.startsWith("lavit-shapes/") && format !== DATASET_FORMAT)
    throw new UserError(
      `${file}: format ${format} was written by an older lavit (this one reads ${DATASET_FORMAT}, whose rationales differ); regenerate the folder with \`lavit data generate\``,
    );
  return checkJson(raw, datasetInfoSchema, file);
}
