import type { TrainCallbacks } from "./result.js";

/** The trainer's options (a module without tensors: the stages' public types name them). */

export interface TrainOptions extends TrainCallbacks {
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  minLrRatio: number;
  weightDecay: number;
  clip: number;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Evaluate every n steps and at the last (task.evaluate); 0 or absent: never. */
  evalEvery?: number;
  resume: boolean;
  quiet?: boolean;
  /** Stops right after this step, as a crash would (tests of resume use it). */
  haltAfter?: number;
  /**
   * Called between the files of a checkpoint with the stage just completed (tests throw from
   * it to stop the writer at every file boundary, as a kill -9 would).
   */
  checkpointHook?: (stage: CheckpointStage, step: number) => void;
}

/** The boundaries of a checkpoint write, in order. */
export const CHECKPOINT_STAGES = ["model", "optimizer", "step-folder", "pointer", "published", "cleaned"] as const;
export type CheckpointStage = (typeof CHECKPOINT_STAGES)[number];
