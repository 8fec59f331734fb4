import { join } from "node:path";
import { z } from "zod";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import { checkJson, parseJsonText, readJsonValue } from "../util/json.js";
import { FAMILIES } from "./families/family.js";
import { COLOURS, SHAPES, SIZES } from "./vocab.js";
import { SETTING_NAMES, type SettingName } from "./settings.js";

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

/**
 * One manifest line. Only `id`, `image`, `question` and `answer` are needed to train on data
 * from elsewhere; the rest is what the built-in benchmark knows about its own scenes.
 */
export const sampleSchema = z
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

export type Sample = z.infer<typeof sampleSchema>;
export type SampleObject = z.infer<typeof objectSchema>;

export function manifestPath(dir: string, split: string): string {
  return join(dir, split, "manifest.jsonl");
}

export function checkSplit(split: string, flag = "--split"): Split {
  if (!(SPLITS as readonly string[]).includes(split)) throw new UserError(`${flag}: unknown split "${split}" (expected one of ${SPLITS.join(", ")})`);
  return split as Split;
}

/** Parses manifest text; every problem is reported as file:line: field: message. */
export function parseManifest(text: string, file: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const where = `${file}:${i + 1}`;
    out.push(checkJson(parseJsonText(line, where), sampleSchema, where));
  }
  return out;
}

export function readManifest(dir: string, split: string): Sample[] {
  const s = checkSplit(split);
  const file = manifestPath(dir, s);
  let text: string;
  try {
    text = readRegularFile(file, "utf8");
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read manifest (${code === "ENOENT" ? "no such file" : (code ?? String(e))})`);
  }
  return parseManifest(text, file);
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

/** dataset.json: how a dataset folder was made (and the image geometry every stage needs). */
export const datasetInfoSchema = z
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
export type DatasetInfo = z.infer<typeof datasetInfoSchema>;

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
