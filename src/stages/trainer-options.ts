import { UserError } from "../errors.js";
import { flag, intIn, numIn, positiveInt, seedField, text } from "./options-schema.js";
import type { TrainOptions } from "../train/train-options.js";
import type { TrainCallbacks } from "../train/result.js";

/** What every training stage (teacher, base, student) shares; each stage adds its own steps. */
export interface CommonTrainOptions extends Pick<TrainCallbacks, "onStep"> {
  /** Output folder for checkpoints and metrics.jsonl. */
  out: string;
  steps?: number;
  seed?: number;
  batchSize?: number;
  lr?: number;
  /** Linear warm-up steps; by default 10% of the steps, at most 100. */
  warmup?: number;
  minLrRatio?: number;
  weightDecay?: number;
  clip?: number;
  logEvery?: number;
  checkpointEvery?: number;
  resume?: boolean;
  quiet?: boolean;
}

/** The ranges of the options every trainer shares (the CLI's parsers read them from here). */
export const TRAINER_FIELDS = {
  out: text(),
  steps: positiveInt().optional(),
  seed: seedField().optional(),
  batchSize: positiveInt().optional(),
  lr: numIn(0, 1).optional(),
  warmup: intIn(0).optional(),
  minLrRatio: numIn(0, 1).optional(),
  weightDecay: numIn(0, 1).optional(),
  clip: numIn(0, 1e6).optional(),
  logEvery: positiveInt().optional(),
  checkpointEvery: positiveInt().optional(),
  resume: flag().optional(),
  quiet: flag().optional(),
};

export const TRAINER_DEFAULTS = {
  seed: 0,
  batchSize: 32,
  lr: 1e-3,
  minLrRatio: 0.1,
  weightDecay: 0.05,
  clip: 1,
  logEvery: 10,
  checkpointEvery: 100,
} as const;

/** Warm-up scales with the run: 10% of the steps, at most 100. */
export function defaultWarmup(steps: number): number {
  return Math.min(100, Math.floor(steps / 10));
}

/** The trainer's options from a stage's (defaults filled in); refuses a warm-up as long as the run. */
export function trainerOptions(o: CommonTrainOptions, stageSteps: number): TrainOptions {
  const steps = o.steps ?? stageSteps;
  const warmup = o.warmup ?? defaultWarmup(steps);
  if (warmup >= steps) throw new UserError(`--warmup ${warmup} must be smaller than --steps ${steps}`);
  const d = TRAINER_DEFAULTS;
  return {
    steps,
    warmup,
    batchSize: o.batchSize ?? d.batchSize,
    lr: o.lr ?? d.lr,
    minLrRatio: o.minLrRatio ?? d.minLrRatio,
    weightDecay: o.weightDecay ?? d.weightDecay,
    clip: o.clip ?? d.clip,
    seed: o.seed ?? d.seed,
    logEvery: o.logEvery ?? d.logEvery,
    checkpointEvery: o.checkpointEvery ?? d.checkpointEvery,
    resume: !!o.resume,
    quiet: o.quiet,
    onStep: o.onStep,
  };
}

const CALLBACKS = ["onStep", "onEval"] as const;

/**
 * A stage's options without its callbacks, which are the library's alone (no flag, no study
 * file can give a function), so the options schema, which the CLI shares, never lists them.
 */
export function withoutCallbacks(o: object, allowed: readonly (typeof CALLBACKS)[number][] = ["onStep"]): object {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return o;
  const rest: Record<string, unknown> = { ...o };
  // A callback the stage does not call is left in, for the schema to refuse as unknown.
  for (const k of CALLBACKS.filter((c) => allowed.includes(c))) {
    const f = rest[k];
    if (f !== undefined && typeof f !== "function") throw new UserError(`${k} must be a function, got ${f === null ? "null" : typeof f}`);
    delete rest[k];
  }
  return rest;
}
