import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { tf, initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { readSafetensors, writeSafetensors, type SafeTensor } from "../io/safetensors.js";
import type { ParamStore } from "../model/params.js";
import { writeFileAtomic } from "../util/atomic.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { warmupCosine } from "./lr.js";
import { AdamW, clipScale, globalNorm } from "./optim.js";

export interface TrainOptions {
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
  resume: boolean;
  quiet?: boolean;
  /** Stops right after this step, as a crash would (tests of resume use it). */
  haltAfter?: number;
}

export interface LossParts {
  total: tf.Scalar;
  /** Named scalars logged beside the loss (loss_ce, loss_vtop, ...). */
  parts: Record<string, tf.Scalar>;
}

export interface TrainTask {
  /** What is being trained, stored in trainer_state.json so a resume with other settings is refused. */
  kind: string;
  settings: Record<string, string | number | boolean | null>;
  store: ParamStore;
  numSamples: number;
  loss(indices: number[], step: number): LossParts;
  /** Extra values for the metrics line (e.g. the gate), computed from the step alone. */
  stepMetrics?(step: number): Record<string, number>;
  /** Parameters left as they are (no gradient, no optimiser update, no weight decay). */
  frozen?(name: string): boolean;
  /** The learning rate of a step, when the task schedules it itself (a curriculum's stages); else warm-up + cosine. */
  lrAt?(step: number, opts: TrainOptions): number;
  /** Steps before which the optimiser state is dropped, as a new job would start (a curriculum's next stage). */
  resetOptimizerAt?: readonly number[];
  /** Called once before the first step of this process (after a resume has loaded the weights). */
  prepare?(): void;
  saveModel(dir: string, step: number): void;
  loadModel(dir: string): void;
}

const stateSchema = z.object({
  kind: z.string(),
  step: z.number().int().nonnegative(),
  options: z.record(z.string(), z.unknown()),
  settings: z.record(z.string(), z.unknown()),
  adam_step: z.number().int().nonnegative(),
  elapsed_s: z.number(),
});
type TrainerState = z.infer<typeof stateSchema>;

/** Options that must match for a resume to continue the same run. */
function fingerprint(o: TrainOptions): Record<string, number> {
  return { steps: o.steps, batchSize: o.batchSize, lr: o.lr, warmup: o.warmup, minLrRatio: o.minLrRatio, weightDecay: o.weightDecay, clip: o.clip, seed: o.seed };
}

const FLAG_NAMES: Record<string, string> = { steps: "--steps", batchSize: "--batch-size", lr: "--lr", warmup: "--warmup", minLrRatio: "--min-lr-ratio", weightDecay: "--weight-decay", clip: "--clip", seed: "--seed" };

/**
 * Deterministic sample order: epoch e is a permutation drawn from (seed, e), and step s takes
 * the batch at position s * batch in the concatenated epochs. A resumed run therefore sees
 * exactly the batches an uninterrupted run would, without saving any RNG state.
 */
export class BatchOrder {
  private epoch = -1;
  private perm: number[] = [];
  constructor(private readonly n: number, private readonly batch: number, private readonly seed: number) {
    if (n <= 0) throw new UserError("no training samples");
  }

  indices(step: number): number[] {
    const out: number[] = [];
    for (let pos = step * this.batch; out.length < this.batch; pos++) {
      const e = Math.floor(pos / this.n);
      if (e !== this.epoch) {
        this.epoch = e;
        this.perm = new Rng((this.seed * 7919 + e * 104729) | 0).shuffle([...Array(this.n).keys()]);
      }
      out.push(this.perm[pos % this.n]);
    }
    return out;
  }
}

function saveOptimizer(file: string, opt: AdamW, step: number): void {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, m] of opt.state.m) tensors.set(`exp_avg.${name}`, { dtype: "F32", shape: [m.length], data: m });
  for (const [name, v] of opt.state.v) tensors.set(`exp_avg_sq.${name}`, { dtype: "F32", shape: [v.length], data: v });
  writeSafetensors(file, tensors, { step: String(step), adam_step: String(opt.state.step) });
}

function loadOptimizer(file: string, opt: AdamW, store: ParamStore, step: number): void {
  const { tensors, metadata } = readSafetensors(file);
  if (Number(metadata.step) !== step) throw new UserError(`${file}: optimizer state is from step ${metadata.step}, the checkpoint from step ${step} (torn checkpoint; restart without --resume)`);
  opt.state.step = Number(metadata.adam_step);
  for (const name of store.vars.keys()) {
    const m = tensors.get(`exp_avg.${name}`);
    const v = tensors.get(`exp_avg_sq.${name}`);
    if (!m || !v) continue;
    opt.state.m.set(name, Float32Array.from(m.data as Float32Array));
    opt.state.v.set(name, Float32Array.from(v.data as Float32Array));
  }
}

function readState(file: string): TrainerState {
  try {
    return stateSchema.parse(JSON.parse(readFileSync(file, "utf8")));
  } catch (e) {
    throw new UserError(`${file}: unreadable trainer state (${(e as Error).message.split("\n")[0]})`);
  }
}

/** Drops metric lines past the checkpoint a run resumes from (they are re-run). */
function truncateMetrics(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() && (JSON.parse(l) as { step: number }).step <= step);
  writeFileAtomic(file, kept.map((l) => l + "\n").join(""));
}

export interface TrainResult {
  step: number;
  lastLoss: number;
  seconds: number;
  halted: boolean;
}

export async function train(outDir: string, task: TrainTask, opts: TrainOptions): Promise<TrainResult> {
  const engine = await initEngine();
  mkdirSync(outDir, { recursive: true });
  const stateFile = join(outDir, "trainer_state.json");
  const metricsFile = join(outDir, "metrics.jsonl");
  const optFile = join(outDir, "optimizer.safetensors");
  const opt = new AdamW({ lr: opts.lr, weightDecay: opts.weightDecay }, engine.addon);
  let start = 0;
  let elapsedBefore = 0;
  if (existsSync(stateFile)) {
    if (!opts.resume) throw new UserError(`${outDir} already holds a training run (trainer_state.json); pass --resume to continue it or choose another --out`);
    const state = readState(stateFile);
    if (state.kind !== task.kind) throw new UserError(`${stateFile}: this folder holds a ${state.kind} run, not ${task.kind}`);
    const want = fingerprint(opts);
    for (const [k, v] of Object.entries(want))
      if (state.options[k] !== v) throw new UserError(`${FLAG_NAMES[k] ?? k}: the run in ${outDir} used ${String(state.options[k])}, not ${v}; resume with the same settings`);
    for (const [k, v] of Object.entries(task.settings))
      if (state.settings[k] !== v) throw new UserError(`--resume: the run in ${outDir} used ${k} = ${String(state.settings[k])}, not ${String(v)}`);
    task.loadModel(outDir);
    loadOptimizer(optFile, opt, task.store, state.step);
    start = state.step;
    elapsedBefore = state.elapsed_s;
    truncateMetrics(metricsFile, start);
  } else if (existsSync(metricsFile)) {
    throw new UserError(`${outDir} holds metrics.jsonl but no trainer_state.json; choose an empty --out`);
  }

  const checkpoint = (step: number, elapsed: number) => {
    task.saveModel(outDir, step);
    saveOptimizer(optFile, opt, step);
    // Written last: a state file always points at a complete set of files.
    const state: TrainerState = { kind: task.kind, step, options: fingerprint(opts), settings: task.settings, adam_step: opt.state.step, elapsed_s: elapsed };
    writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + "\n");
  };

  const order = new BatchOrder(task.numSamples, opts.batchSize, opts.seed);
  task.prepare?.();
  const bar = progress("training", opts.steps - start, { quiet: opts.quiet });
  const t0 = performance.now();
  let lastLoss = NaN;
  let halted = false;
  let step = start;
  while (step < opts.steps) {
    if (task.resetOptimizerAt?.includes(step)) opt.reset();
    const lr = task.lrAt ? task.lrAt(step, opts) : warmupCosine(step, opts.steps, opts.lr, opts.warmup, opts.minLrRatio);
    opt.lr = lr;
    let parts: Record<string, tf.Scalar> = {};
    const { value, grads } = task.store.grads(
      () => {
        const r = task.loss(order.indices(step), step);
        parts = Object.fromEntries(Object.entries(r.parts).map(([k, v]) => [k, tf.keep(v)]));
        return r.total;
      },
      (name) => !task.frozen?.(name),
    );
    const norm = globalNorm(grads, engine.addon);
    opt.step(task.store.vars, grads, clipScale(norm, opts.clip));
    lastLoss = value.dataSync()[0];
    const partValues = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
    tf.dispose([value, ...grads.values(), ...Object.values(parts)]);
    if (!Number.isFinite(lastLoss)) throw new Error(`training diverged at step ${step + 1} (loss ${lastLoss}); try a lower --lr`);
    step += 1;
    const elapsed = elapsedBefore + (performance.now() - t0) / 1000;
    if (step % opts.logEvery === 0 || step === opts.steps) {
      const line = { step, loss: lastLoss, ...partValues, ...(task.stepMetrics?.(step - 1) ?? {}), lr, grad_norm: norm, elapsed_s: Math.round(elapsed * 10) / 10 };
      appendFileSync(metricsFile, JSON.stringify(line) + "\n");
    }
    if (step % opts.checkpointEvery === 0 || step === opts.steps) checkpoint(step, elapsed);
    bar.tick(1, { loss: lastLoss.toFixed(4) });
    if (opts.haltAfter !== undefined && step >= opts.haltAfter && step < opts.steps) {
      halted = true;
      break;
    }
  }
  bar.stop();
  return { step, lastLoss, seconds: (performance.now() - t0) / 1000, halted };
}
