import { resolve } from "node:path";
import { withDefaults } from "./defaults.js";
import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit } from "../data/dataset.js";
import { loadModelFor } from "../model/load.js";
import { SHIPPED_TEACHER } from "../model/shipped.js";
import { extractSignals } from "../signals/extract.js";
import type { ExtractSummary, GradientRecipe, QuerySpan, SignalMethod, VtopLayer } from "../signals/extract-summary.js";
import { layersUsed, parseLayerSpec } from "../model/readout.js";
import type { LayerSpec } from "../model/layer-spec.js";
import { OFFICIAL_EXTRACT, withPreset, type Preset } from "./presets.js";
import { buildDirAtomic } from "../util/atomic.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import type { SignalsLayout } from "../signals/layout.js";
import { z } from "zod";
import { flag, named, numIn, positiveInt, text, validateOptions } from "./options-schema.js";
import { PRESETS } from "./presets.js";

export const EXTRACT_DEFAULTS = {
  teacher: SHIPPED_TEACHER,
  split: "train",
  method: "attention" as SignalMethod,
  layout: "lavit" as SignalsLayout,
  topk: 8,
  tau: 0.05,
  layers: "all" as LayerSpec,
  queries: "step" as QuerySpan,
  gradientRecipe: "lavit" as GradientRecipe,
  vtopLayer: "final" as VtopLayer,
  onlyCorrect: false,
  preset: "lavit" as Preset,
};

export interface ExtractStageOptions {
  /** Dataset folder. */
  data: string;
  /** Signals folder to write. */
  out: string;
  teacher?: string;
  split?: string;
  method?: SignalMethod;
  /** lavit's layout (safetensors V_top) or the official LaViT builder's (.pth V_top, its paths and names). */
  layout?: SignalsLayout;
  topk?: number;
  tau?: number;
  /** Decoder layers the attention maps average: all, last:N, or official (the last 8, all when fewer). */
  layers?: LayerSpec;
  /** Query rows of step t's attention map: the step's own tokens, or every token after the image up to step t. */
  queries?: QuerySpan;
  /** How --method gradient makes its maps. */
  gradientRecipe?: GradientRecipe;
  /** V_top after the final norm, or the last layer's output before it. */
  vtopLayer?: VtopLayer;
  /** Keep only the samples the teacher answers correctly. */
  onlyCorrect?: boolean;
  /** official: every choice of the public code at once (a contradicting option is an error). */
  preset?: Preset;
  /** Only the first n samples. */
  limit?: number;
  /** Read manifest images that lead outside the dataset folder. */
  allowOutsideRoot?: boolean;
  force?: boolean;
  quiet?: boolean;
}

/** The options of `extract` and their ranges (the CLI's parsers read them from here). */
export const extractOptionsSchema = named(
  z
    .object({
      data: text(),
      out: text(),
      teacher: text().optional(),
      split: text().optional(),
      method: z.enum(["attention", "gradient"]).optional(),
      layout: z.enum(["lavit", "official"]).optional(),
      topk: positiveInt().optional(),
      tau: numIn(1e-4, 10).optional(),
      layers: z
        .string()
        .refine((v) => parseLayerSpec(v) !== null)
        .describe("all, official or last:N")
        .optional(),
      queries: z.enum(["step", "prefix"]).optional(),
      gradientRecipe: z.enum(["lavit", "official"]).optional(),
      vtopLayer: z.enum(["final", "pre-norm"]).optional(),
      onlyCorrect: flag().optional(),
      preset: z.enum(PRESETS).optional(),
      limit: positiveInt().optional(),
      allowOutsideRoot: flag().optional(),
      force: flag().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "extract option",
);

/** What `extract` reads and writes (the output guard's declaration; the CLI shares it). */
export const EXTRACT_IO: IoSpec = { data: input(), teacher: input(), out: outputFolder("signals") };

/** Runs the teacher on a split and writes its white-box signals (trajectories + V_top). */
export async function extract(opts: ExtractStageOptions): Promise<ExtractSummary> {
  validateOptions(extractOptionsSchema, opts);
  const given = withPreset(opts.preset, OFFICIAL_EXTRACT, opts);
  const o = withDefaults(EXTRACT_DEFAULTS, given);
  const method = o.method;
  if (method === "gradient" && (opts.layers !== undefined || opts.queries !== undefined))
    throw new UserError(`${opts.layers !== undefined ? "--layers" : "--queries"} chooses attention rows and has no meaning with --method gradient`);
  if (method === "attention" && opts.gradientRecipe !== undefined) throw new UserError("--gradient-recipe has no meaning with --method attention");
  return withOutputs(EXTRACT_IO, o, () => extractInto(o));
}

async function extractInto(o: ExtractStageOptions & typeof EXTRACT_DEFAULTS): Promise<ExtractSummary> {
  await initEngine();
  const out = resolve(o.out);
  const data = loadSplit(o.data, o.split, o.limit, { allowOutsideRoot: o.allowOutsideRoot });
  if (o.topk > (data.info.size / data.info.patch) ** 2) throw new UserError(`--topk ${o.topk} exceeds the number of image patches`);
  const teacher = loadModelFor(o.teacher, data, o.data);
  try {
    const layers = teacher.vlm.config.decoder.num_layers;
    if (!layersUsed(o.layers, layers))
      throw new UserError(`--layers ${o.layers}: the teacher ${o.teacher} has ${layers} decoder layers (give last:1 to last:${layers}, all, or official)`);
    // Paths inside are relative to the final folder, so compute them as if written there.
    const summary = await buildDirAtomic(
      out,
      (tmp) =>
        extractSignals(teacher.vlm, teacher.tokenizer, data, tmp, {
          method: o.method,
          topk: o.topk,
          tau: o.tau,
          layers: o.layers,
          queries: o.queries,
          gradientRecipe: o.gradientRecipe,
          vtopLayer: o.vtopLayer,
          onlyCorrect: o.onlyCorrect,
          quiet: o.quiet,
          finalDir: out,
          layout: o.layout,
        }),
      "signals",
    );
    const byFamily = Object.entries(summary.grounding_mass_by_family)
      .map(([f, m]) => `${f} ${m.toFixed(3)}`)
      .join(", ");
    if (!o.quiet)
      process.stderr.write(
        `signals for ${summary.count}${summary.count < summary.samples_total ? ` of ${summary.samples_total} (teacher correct)` : ""} samples in ${o.out}: teacher accuracy ${summary.teacher_accuracy.toFixed(3)}, grounding mass ${
          summary.grounding_mass === null
            ? "n/a (no sample has boxes)"
            : `${summary.grounding_mass.toFixed(3)} (uniform ${summary.grounding_mass_uniform!.toFixed(3)}${byFamily ? `; ${byFamily}` : ""})`
        }\n`,
      );
    return summary;
  } finally {
    teacher.vlm.dispose();
  }
}
