import { warmupCosine } from "./lr.js";
import type { TrainOptions } from "./trainer.js";

/**
 * The public code's curriculum runs as two training jobs: each stage has its own warm-up and
 * decay, the second a lower peak learning rate, and (being a new job) a fresh optimiser.
 */
export interface StageSchedule {
  /** The first step of stage 2. */
  boundary: number;
  /** Stage 2's peak learning rate as a fraction of stage 1's. */
  lrRatio: number;
  resetOptimizer: boolean;
}

/** The step where the gate opens, the first of stage 2 (the gate is shut while step < openAt * total). */
export function stageBoundary(openAt: number, totalSteps: number): number {
  return Math.ceil(openAt * totalSteps);
}

/** Each stage's warm-up + cosine over its own steps; the warm-up is split between them in proportion. */
export function twoStageLr(step: number, opts: Pick<TrainOptions, "steps" | "lr" | "warmup" | "minLrRatio">, s: StageSchedule): number {
  const total = opts.steps;
  const b = Math.min(Math.max(s.boundary, 0), total);
  if (step < b) return warmupCosine(step, b, opts.lr, Math.round((opts.warmup * b) / total), opts.minLrRatio);
  return warmupCosine(step - b, total - b, opts.lr * s.lrRatio, Math.round((opts.warmup * (total - b)) / total), opts.minLrRatio);
}
