import { SHIPPED_TEACHER } from "../model/shipped.js";
import { GENERATE_DEFAULTS, generateOptionsSchema } from "../stages/generate.js";
import { STUDENT_DEFAULTS, type StudentOptions } from "../stages/train-student.js";
import { contradicts, OFFICIAL_STUDENT, PRESETS, type Preset } from "../stages/presets.js";
import { z } from "zod";
import { flag, named, numIn, positiveInt, text } from "../stages/options-schema.js";

/**
 * What the demo trains. The students' recipe (K, gate, steps, base) is the student stage's
 * defaults and the data sizes are the generator's, so the README's stage commands give the
 * demo's students; this file adds only what is the demo's own.
 */
export const DEMO_DEFAULTS = {
  out: "runs/demo",
  seeds: 1,
  /** Seeds 101, 102, ... keep the demo's data apart from the shipped teacher's training data (seeds 1-3) and its model card's evaluation seeds (77-81). */
  firstSeed: 101,
  prior: GENERATE_DEFAULTS.prior,
  setting: GENERATE_DEFAULTS.setting,
  latents: STUDENT_DEFAULTS.latents,
  teacher: SHIPPED_TEACHER,
  studentBase: STUDENT_DEFAULTS.initFrom,
  full: false,
  quick: false,
};

/** The options of `demo` and their ranges (the CLI's parsers read them from here). */
export const demoOptionsSchema = named(
  z
    .object({
      out: text().optional(),
      seeds: positiveInt().optional(),
      firstSeed: positiveInt().optional(),
      prior: numIn(0, 1).optional(),
      setting: generateOptionsSchema.shape.setting,
      full: flag().optional(),
      quick: flag().optional(),
      resume: flag().optional(),
      force: flag().optional(),
      teacher: text().optional(),
      studentBase: text().nullable().optional(),
      latents: positiveInt().optional(),
      preset: z.enum(PRESETS).optional(),
      jobs: positiveInt().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "demo option",
);

/** Data and training sizes; --quick is a smoke test for one integration test, not a result. */
export function demoSizes(quick: boolean): { train: number; test: number; steps: number } {
  return quick ? { train: 160, test: 40, steps: 40 } : { train: GENERATE_DEFAULTS.train, test: GENERATE_DEFAULTS.test, steps: STUDENT_DEFAULTS.steps };
}

export interface StudentVariant {
  name: string;
  options: Partial<StudentOptions>;
}

/**
 * The students of a run: the baseline and LaViT with K latents, plus the ablations with --full.
 * With a preset every student takes it, and the ablations that would contradict it (other K,
 * another curriculum) are left out: they are ablations of lavit's recipe.
 */
export function variants(full: boolean, latents: number, preset: Preset = "lavit"): StudentVariant[] {
  const all = lavitVariants(full, latents);
  if (preset === "lavit") return all;
  return all.filter((v) => !contradicts(preset, OFFICIAL_STUDENT, v.options)).map((v) => ({ ...v, options: { ...v.options, preset } }));
}

function lavitVariants(full: boolean, latents: number): StudentVariant[] {
  const base: StudentVariant[] = [
    { name: "distill", options: { mode: "distill" } },
    { name: "lavit", options: { mode: "lavit", latents } },
    // LaViT without its alignment losses: what the alignment itself adds, beside what the latent slots and the gate add.
    { name: "no-align", options: { mode: "lavit", latents, traj: false, vtop: false } },
  ];
  if (!full) return base;
  return [
    ...base,
    { name: "lavit-no-traj", options: { mode: "lavit", latents, traj: false } },
    { name: "lavit-no-vtop", options: { mode: "lavit", latents, vtop: false } },
    { name: "lavit-no-gate", options: { mode: "lavit", latents, gate: false } },
    { name: "lavit-two-stage", options: { mode: "lavit", latents, gateSchedule: "two-stage", gateOpenAt: 0.4 } },
    { name: "lavit-two-stage-visual-only", options: { mode: "lavit", latents, gateSchedule: "two-stage-visual-only", gateOpenAt: 0.4 } },
    ...[1, 2, 4, 8].filter((k) => k !== latents).map((k) => ({ name: `lavit-k${k}`, options: { mode: "lavit" as const, latents: k } })),
  ];
}
