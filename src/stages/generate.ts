import { resolve } from "node:path";
import { withDefaults } from "./defaults.js";
import { UserError } from "../errors.js";
import { generateDataset, type GenerateOptions as DataOptions } from "../data/generate.js";
import type { DatasetInfo } from "../data/manifest.js";
import { buildDirAtomic } from "../util/atomic.js";
import { checkImageSize } from "../util/limits.js";
import { outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { z } from "zod";
import { SETTING_NAMES, type SettingName } from "../data/settings.js";
import { countOrZero, flag, named, numIn, positiveInt, seedField, text, validateOptions } from "./options-schema.js";

/** The built-in benchmark's sizes: the demo's, so a dataset made with the defaults is the demo's. */
export const GENERATE_DEFAULTS: Readonly<Required<Omit<DataOptions, "quiet">>> = {
  seed: 0,
  setting: "default",
  size: 64,
  patch: 8,
  prior: 0.8,
  teacherTrain: 0,
  train: 1200,
  test: 300,
};

export interface GenerateOptions extends Partial<Omit<DataOptions, "quiet">> {
  /** A new (or empty) folder; with force, a previous dataset there is replaced. */
  out: string;
  force?: boolean;
  quiet?: boolean;
}

/** The options of `generate` and their ranges (the CLI's parsers read them from here). */
export const generateOptionsSchema = named(
  z
    .object({
      out: text(),
      seed: seedField().optional(),
      setting: z.enum(SETTING_NAMES as [SettingName, ...SettingName[]]).optional(),
      size: positiveInt().optional(),
      patch: positiveInt().optional(),
      prior: numIn(0, 1).optional(),
      train: positiveInt().optional(),
      test: positiveInt().optional(),
      teacherTrain: countOrZero().optional(),
      force: flag().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "generate option",
);

/** What `generate` writes (the output guard's declaration; the CLI's `data generate` shares it). */
export const GENERATE_IO: IoSpec = { out: outputFolder("dataset") };

export function checkGeometry(size: number, patch: number): void {
  if (size % patch !== 0) throw new UserError(`--size ${size} is not divisible by --patch ${patch}`);
  if (size < 32) throw new UserError(`--size must be at least 32 (objects would not fit), got ${size}`);
  if (size / patch > 32) throw new UserError(`--size / --patch must be at most 32 patches per side, got ${size / patch}`);
}

/** Generates the benchmark (all five splits) into `out`; resolves to the dataset's info. */
export async function generate(opts: GenerateOptions): Promise<DatasetInfo> {
  validateOptions(generateOptionsSchema, opts);
  const o = withDefaults(GENERATE_DEFAULTS, opts);
  checkGeometry(o.size, o.patch);
  checkImageSize(o.size, o.patch);
  const out = resolve(o.out);
  const t0 = Date.now();
  // Built in a temp sibling and renamed into place: an interrupted run never leaves a half dataset.
  const info = await withOutputs(GENERATE_IO, o, () => buildDirAtomic(out, (tmp) => generateDataset(tmp, o), "dataset"));
  const total = Object.values(info.splits).reduce((a, b) => a + b, 0);
  if (!o.quiet)
    process.stderr.write(
      `wrote ${total} samples to ${o.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${Object.entries(info.splits)
        .map(([s, n]) => `${s} ${n}`)
        .join(", ")})\n`,
    );
  return info;
}
