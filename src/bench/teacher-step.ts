import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tf, initEngine, type EngineInfo } from "../engine/index.js";
import { generateDataset } from "../data/generate.js";
import { loadSplit } from "../data/dataset.js";
import { teacherConfig } from "../model/presets.js";
import { buildVlm } from "../model/vlm.js";
import { teacherTask } from "../train/teacher.js";
import { BatchOrder } from "../train/trainer.js";
import { AdamW, clipScale, globalNorm } from "../train/optim.js";
import { GENERATE_DEFAULTS } from "../stages/generate.js";
import { TRAINER_DEFAULTS } from "../stages/trainer-options.js";
import { checkBenchCounts, stepTimes, type StepTimes } from "./step.js";

/**
 * The teacher's training step as the grounded phases of recipes/teacher.json run it: the
 * built-in teacher size from random weights, a batch of the trainer's default size, the
 * per-patch heads, the answer weight and the grounding term on. The data is generated (a seed
 * the recipe trains on) into a temporary folder, removed afterwards.
 */
export const TEACHER_BENCH = {
  dataSeed: 2,
  samples: 512,
  batch: TRAINER_DEFAULTS.batchSize,
  lr: 3e-4,
  auxPatch: 1,
  answerWeight: 10,
  groundAttention: 0.5,
} as const;

export interface TeacherBenchOptions {
  steps: number;
  warmup: number;
  /** The grounding term on every head's probabilities through the tfjs formulation (the path before the fused kernel returned their mean). */
  unfused?: boolean;
  /** Teacher-train samples generated and loaded (default TEACHER_BENCH.samples): a real phase holds tens of thousands, which the garbage collector feels. */
  samples?: number;
  onStep?: (i: number, ms: number) => void;
}

export interface TeacherBenchResult extends StepTimes {
  impl: "lavit";
  config: "teacher";
  grounding: "fused" | "unfused";
  params: number;
  native: boolean;
  tier: EngineInfo["tier"];
  threads: number;
  /** Median CPU time of a timed step, all threads (user + system): less sensitive than wall time to other jobs on the machine. */
  cpu_ms_per_step_median: number;
  /** The process's peak resident memory so far (maxRSS), in MB of 2^20 bytes. */
  peak_rss_mb: number;
  loss_last: number;
  /** sha256 of every parameter's bytes after the last step, in name order: the two paths give the same. */
  weights_sha256: string;
}

export async function runTeacherStepBench(opts: TeacherBenchOptions): Promise<TeacherBenchResult> {
  checkBenchCounts(opts.steps, opts.warmup);
  const engine = await initEngine();
  const c = TEACHER_BENCH;
  const samples = opts.samples ?? c.samples;
  if (!Number.isInteger(samples) || samples < c.batch) throw new Error(`teacher bench: samples must be an integer of at least ${c.batch}, got ${samples}`);
  const root = mkdtempSync(join(tmpdir(), "lavit-bench-teacher-"));
  try {
    const dir = join(root, "data");
    await generateDataset(dir, { ...GENERATE_DEFAULTS, seed: c.dataSeed, teacherTrain: samples, train: 2, test: 2, quiet: true });
    const data = loadSplit(dir, "teacher-train");
    const vlm = buildVlm(teacherConfig(data.tokenizer.size, data.info.size, data.info.patch), 0);
    const task = teacherTask(vlm, data, {
      auxPatchWeight: c.auxPatch,
      answerWeight: c.answerWeight,
      groundAttention: c.groundAttention,
      unfusedGrounding: opts.unfused,
    });
    task.prepare?.();
    const order = new BatchOrder(task.numSamples, c.batch, 0);
    const opt = new AdamW({ lr: c.lr, weightDecay: TRAINER_DEFAULTS.weightDecay });
    const times: number[] = [];
    const cpuTimes: number[] = [];
    let loss = NaN;
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const { value, grads } = task.store.grads(() => task.loss(order.indices(i), i).total);
      opt.step(task.store.vars, grads, clipScale(globalNorm(grads), TRAINER_DEFAULTS.clip));
      loss = value.dataSync()[0];
      tf.dispose([value, ...grads.values()]);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      if (i >= opts.warmup) {
        times.push(ms);
        cpuTimes.push((cpu.user + cpu.system) / 1000);
      }
      opts.onStep?.(i, ms);
    }
    const hash = createHash("sha256");
    for (const name of [...task.store.vars.keys()].sort()) hash.update(task.store.vars.get(name)!.dataSync() as Float32Array);
    const params = task.store.count();
    vlm.dispose();
    return {
      impl: "lavit",
      config: "teacher",
      grounding: opts.unfused ? "unfused" : "fused",
      params,
      native: engine.info.native,
      tier: engine.info.tier,
      threads: engine.info.threads,
      ...stepTimes(times),
      cpu_ms_per_step_median: stepTimes(cpuTimes).ms_per_step_median,
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      loss_last: loss,
      weights_sha256: hash.digest("hex"),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
