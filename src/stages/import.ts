import { resolve } from "node:path";
import { z } from "zod";
import { withDefaults } from "./defaults.js";
import { flag, named, numIn, positiveInt, seedField, text, validateOptions } from "./options-schema.js";
import { checkGeometry } from "./generate.js";
import { UserError } from "../errors.js";
import { importDataset, type ImportBuildOptions } from "../data/import/build.js";
import type { DatasetInfo } from "../data/manifest.js";
import { buildDirAtomic } from "../util/atomic.js";
import { checkImageSize } from "../util/limits.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";

/**
 * Images are fitted to the benchmark's size by default, so the stage defaults of every later
 * stage (model sizes, steps) apply as they are. Rows without a split: 80% train, 10% val, 10% test.
 */
export const IMPORT_DEFAULTS = { size: 64, patch: 8, seed: 0, val: 0.1, test: 0.1 } as const;

export interface ImportOptions extends Partial<Omit<ImportBuildOptions, "from" | "official" | "images" | "quiet">> {
  /** JSONL or CSV: id, image, question, answer; optional split, family, choices, rationale, boxes. */
  from?: string;
  /** Instead of `from`: the official pipeline's `lavit_15k_for_training.json`, or Visual-CoT's JSON. */
  fromOfficial?: string;
  /** The folder the rows' image paths are relative to. */
  images: string;
  /** A new (or empty) folder; with force, a dataset lavit made there is replaced. */
  out: string;
  force?: boolean;
  quiet?: boolean;
}

/** The options of `importData` and their ranges (the CLI's parsers read them from here). */
export const importOptionsSchema = named(
  z
    .object({
      from: text().optional(),
      fromOfficial: text().optional(),
      images: text(),
      out: text(),
      size: positiveInt().optional(),
      patch: positiveInt().optional(),
      seed: seedField().optional(),
      val: numIn(0, 1).optional(),
      test: numIn(0, 1).optional(),
      force: flag().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "import option",
);

/** What `importData` reads and writes (the output guard's declaration; the CLI's `data import` shares it). */
export const IMPORT_IO: IoSpec = { from: input(), fromOfficial: input(), images: input(), out: outputFolder("dataset") };

/** Imports your own data (`lavit data import`); resolves to the dataset's info. */
export async function importData(opts: ImportOptions): Promise<DatasetInfo> {
  validateOptions(importOptionsSchema, opts);
  const o = withDefaults(IMPORT_DEFAULTS, opts);
  const out = resolve(o.out);
  const t0 = Date.now();
  // Built in a temp sibling and renamed into place: a bad row leaves nothing behind, and a previous dataset stays as it was.
  const info = await withOutputs(IMPORT_IO, o, () => {
    if (!o.from === !o.fromOfficial)
      throw new UserError("give one of --from (JSONL or CSV rows) and --from-official (the official metadata or Visual-CoT JSON)");
    const from = (o.from ?? o.fromOfficial)!;
    checkGeometry(o.size, o.patch);
    checkImageSize(o.size, o.patch);
    for (const [flag, v] of [
      ["--val", o.val],
      ["--test", o.test],
    ] as const)
      if (!(v >= 0 && v < 1)) throw new UserError(`${flag} must be a share in [0, 1), got ${v}`);
    if (o.val + o.test >= 1) throw new UserError(`--val ${o.val} and --test ${o.test} leave no rows for train`);
    return buildDirAtomic(out, (tmp) => importDataset(tmp, { ...o, from, official: !o.from }), "dataset");
  });
  if (!o.quiet) {
    const total = Object.values(info.splits).reduce((a, b) => a + b, 0);
    const splits = Object.entries(info.splits)
      .map(([s, n]) => `${s} ${n}`)
      .join(", ");
    process.stderr.write(
      `imported ${total} samples to ${o.out} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${splits}; answers: ${info.format === "lavit-import/1" ? info.answer_format : "lavit"})\n`,
    );
  }
  return info;
}
