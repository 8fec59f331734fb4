import { UserError } from "../errors.js";
import { withDefaults } from "./defaults.js";
import { OFFICIAL_GRADIENT_TAU } from "../signals/gradient.js";
import { LAVIT_EXTRACTION } from "../signals/extract.js";
import type { ExtractionSettings } from "../signals/extract-summary.js";

/**
 * `--preset official`: every choice where the public LaViT code (Svardfox/LaViT) differs from
 * lavit's defaults, at once. One table per stage; docs/fidelity.md says why lavit's defaults
 * differ. A flag the user gives that contradicts the preset is refused rather than silently
 * winning, so a run labelled "official" is one.
 */
export const PRESETS = ["lavit", "official"] as const;
export type Preset = (typeof PRESETS)[number];

/** The extractor's choices (data_construction/ and src/attention_hook_utils.py). */
export const OFFICIAL_EXTRACT = {
  layers: "official",
  queries: "prefix",
  gradientRecipe: "official",
  tau: OFFICIAL_GRADIENT_TAU,
  vtopLayer: "pre-norm",
  onlyCorrect: true,
} as const;

/**
 * The trainer's choices (training/src/modeling_lavit.py, dataset.py, scripts/run_two_stage_train.sh):
 * 4 latents; V_top as the mean over image tokens from the last latent; trajectory step 1 from the
 * last latent, not sparsified; the head with a biased query and no scale; two stages of 400 and
 * 600 steps, the second at 2e-6 / 5e-6 of the first's learning rate with a fresh optimiser, the
 * question blocked from the image in the first; weight decay 0.1. lavit keeps its own learning
 * rate and step count: those are the model's scale, not a method choice.
 */
export const OFFICIAL_STUDENT = {
  latents: 4,
  wVtop: 0.3,
  wTraj: 0.3,
  vtopTarget: "mean-last",
  trajTarget: "first-last",
  trajTopk: 0,
  trajSource: "head",
  trajHead: "official",
  gateSchedule: "two-stage",
  gateOpenAt: 0.4,
  gatePrompt: true,
  stage2LrRatio: 0.4,
  stage2ResetOptimizer: true,
  weightDecay: 0.1,
} as const;

/** camelCase option name -> its command-line flag. */
export function flagOf(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

function shown(key: string, value: unknown): string {
  if (value === true) return flagOf(key);
  if (value === false) return `--no-${flagOf(key).slice(2)}`;
  return `${flagOf(key)} ${String(value)}`;
}

/** Whether options contradict a preset's table (what withPreset would refuse). */
export function contradicts(preset: Preset, table: Record<string, unknown>, given: object): boolean {
  if (preset === "lavit") return false;
  return Object.entries(table).some(([k, v]) => (given as Record<string, unknown>)[k] !== undefined && (given as Record<string, unknown>)[k] !== v);
}

/**
 * The preset's values under the options the user gave; a given option with another value than
 * the preset's is an error naming both.
 */
export function withPreset<T extends object>(preset: Preset | undefined, table: Record<string, unknown>, given: T): T {
  if (!preset || preset === "lavit") return given;
  for (const [k, v] of Object.entries(table)) {
    const g = (given as Record<string, unknown>)[k];
    if (g !== undefined && g !== v) throw new UserError(`${shown(k, g)} contradicts --preset ${preset} (which sets ${shown(k, v)}); drop one of them`);
  }
  return withDefaults(table, given) as T;
}

/** The extraction settings a student with this preset was designed for (undefined: any). */
export function expectedExtraction(preset: Preset | undefined): Partial<ExtractionSettings> | undefined {
  if (preset !== "official") return undefined;
  const e = OFFICIAL_EXTRACT;
  return { layers: e.layers, queries: e.queries, gradient_recipe: e.gradientRecipe, tau: e.tau, vtop_layer: e.vtopLayer, only_correct: e.onlyCorrect };
}

/**
 * Refuses signals made with other settings than the student's preset expects, naming the
 * setting. Method-specific settings are compared only for their method; a summary.json from
 * before these settings were recorded holds lavit's defaults.
 */
export function checkExtraction(summary: Record<string, unknown> | undefined, file: string, preset: Preset | undefined): void {
  const want = expectedExtraction(preset);
  if (!want) return;
  if (!summary)
    throw new UserError(
      `--preset ${preset}: ${file} is missing, so the settings the signals were made with are unknown; extract them with \`lavit extract --preset ${preset}\``,
    );
  const method = summary.method === "gradient" ? "gradient" : "attention";
  const only: Record<string, "attention" | "gradient"> = { layers: "attention", queries: "attention", gradient_recipe: "gradient", tau: "gradient" };
  for (const [k, v] of Object.entries(want)) {
    if (only[k] && only[k] !== method) continue;
    const had = summary[k] ?? (LAVIT_EXTRACTION as Record<string, unknown>)[k];
    if (had !== v)
      throw new UserError(
        `--preset ${preset} expects signals extracted with ${k} = ${String(v)}, but ${file} records ${k} = ${String(had)}; extract them with \`lavit extract --preset ${preset}\``,
      );
  }
}
