import type { Vlm } from "../model/vlm.js";
import { train, type TrainOptions, type TrainTask } from "../train/trainer.js";
import type { TrainResult } from "../train/result.js";

/** Runs a training task to its end, says where the model is, and frees the model's tensors. */
export async function trainToFolder(out: string, task: TrainTask, options: TrainOptions, vlm: Vlm): Promise<TrainResult> {
  try {
    const r = await train(out, task, options);
    if (!options.quiet) process.stderr.write(`done: step ${r.step}, loss ${r.lastLoss.toFixed(4)}, ${r.seconds.toFixed(0)} s; model in ${out}\n`);
    return r;
  } finally {
    vlm.dispose();
  }
}
