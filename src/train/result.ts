/**
 * What a training run reports, to its caller and to the callbacks a library user passes in.
 * Plain numbers only (no tensors), so the package's public types need no tensor library.
 */

export interface TrainResult {
  step: number;
  lastLoss: number;
  seconds: number;
  halted: boolean;
  /** --resume of a run that had already reached its last step: nothing was trained. */
  alreadyFinished?: boolean;
}

/** One optimisation step, as its metrics.jsonl line has it (but for every step, not every logEvery-th). */
export interface StepInfo {
  /** Steps done, counting this one (1 after the first step). */
  step: number;
  /** Steps of the whole run. */
  steps: number;
  /** The total loss of this step's batch. */
  loss: number;
  /** The loss terms and step values logged beside the loss (loss_ce, loss_vtop, loss_traj, gate, ...). */
  parts: Record<string, number>;
  /** The learning rate this step used. */
  lr: number;
  /** The gradient's global norm before clipping. */
  gradNorm: number;
  /** Seconds of training so far (across resumes). */
  elapsedSeconds: number;
}

/** One evaluation during training (a student's `evalEvery`), as its "eval" line in metrics.jsonl has it. */
export interface EvalInfo {
  step: number;
  steps: number;
  /** accuracy, count, split, gaze metrics, ... */
  metrics: Record<string, string | number>;
}

/**
 * Called by the trainer after a step's checkpoint (if any) is written, so a callback that throws
 * stops the run with everything up to that step saved. A returned promise is awaited. The
 * callbacks see copies of the numbers: they cannot change what is trained.
 */
export interface TrainCallbacks {
  /** After every optimisation step. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** After every evaluation during training (trainStudent's `evalEvery`). */
  onEval?: (info: EvalInfo) => void | Promise<void>;
}
