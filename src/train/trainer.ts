import { appendFileSync, copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { tf, initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { readSafetensors, writeSafetensors, type SafeTensor } from "../io/safetensors.js";
import type { ParamStore } from "../model/params.js";
import { buildDirAtomicSync, removeStaleSiblings, tempSibling, writeFileAtomic } from "../util/atomic.js";
import { contentIdentity } from "../util/content-identity.js";
import { breathe } from "../util/interrupt.js";
import { acquireLock } from "../util/lock.js";
import { assertOutputLocation } from "../util/paths.js";
import { readMarker, writeMarker, MARKER_FILE } from "../util/marker.js";
import { weightsStep } from "../model/checkpoint.js";
import { readJsonFile } from "../util/json.js";
import { progress } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { warmupCosine } from "./lr.js";
import { AdamW, clipScale, globalNorm } from "./optim.js";
import type { EvalInfo, StepInfo, TrainResult } from "./result.js";
import type { CheckpointStage, TrainOptions } from "./train-options.js";

export type { TrainResult } from "./result.js";
export { CHECKPOINT_STAGES, type CheckpointStage, type TrainOptions } from "./train-options.js";

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
  /**
   * Measures the model as it stands after `step` (held-out accuracy, gaze), for a metrics line
   * of kind "eval". It must leave the weights, and everything training reads, as they are.
   */
  evaluate?(step: number): Promise<Record<string, string | number>> | Record<string, string | number>;
}

/** The kind of a metrics.jsonl line that is not a training step's losses. */
export const EVAL_LINE_KIND = "eval";

/** Whether a parsed metrics.jsonl line is a training step's (the loss lines carry no kind). */
export function isLossLine(line: unknown): boolean {
  return typeof line === "object" && line !== null && (line as { kind?: unknown }).kind === undefined;
}

const stateSchema = z.object({
  kind: z.string(),
  step: z.number().int().nonnegative(),
  options: z.record(z.string(), z.unknown()),
  settings: z.record(z.string(), z.unknown()),
  adam_step: z.number().int().nonnegative(),
  elapsed_s: z.number(),
  /**
   * The step folder holding this checkpoint (model, optimiser, state), relative to the run.
   * Absent in runs written before step folders: their files sit in the run folder itself.
   */
  checkpoint: z
    .string()
    .regex(/^checkpoints\/step-\d{8}$/)
    .optional(),
  /** contentIdentity of each input a PATH_SETTINGS key names (absent in runs of an older lavit). */
  identities: z.record(z.string(), z.string()).optional(),
});
type TrainerState = z.infer<typeof stateSchema>;

/** Options that must match for a resume to continue the same run. */
function fingerprint(o: TrainOptions): Record<string, number> {
  return {
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    warmup: o.warmup,
    minLrRatio: o.minLrRatio,
    weightDecay: o.weightDecay,
    clip: o.clip,
    seed: o.seed,
  };
}

const FLAG_NAMES: Record<string, string> = {
  steps: "--steps",
  batchSize: "--batch-size",
  lr: "--lr",
  warmup: "--warmup",
  minLrRatio: "--min-lr-ratio",
  weightDecay: "--weight-decay",
  clip: "--clip",
  seed: "--seed",
};

/**
 * Deterministic sample order: epoch e is a permutation drawn from (seed, e), and step s takes
 * the batch at position s * batch in the concatenated epochs. A resumed run therefore sees
 * exactly the batches an uninterrupted run would, without saving any RNG state.
 */
export class BatchOrder {
  private epoch = -1;
  private perm: number[] = [];
  constructor(
    private readonly n: number,
    private readonly batch: number,
    private readonly seed: number,
  ) {
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
  if (Number(metadata.step) !== step)
    throw new UserError(`${file}: optimizer state is from step ${metadata.step}, the checkpoint from step ${step} (torn checkpoint; restart without --resume)`);
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
  const raw = readJsonFile(file, "trainer state");
  const r = stateSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(
      `${file}: unreadable trainer state (field ${issue.path.join(".") || "(root)"}: ${issue.message}); start again without --resume in a new --out`,
    );
  }
  return r.data;
}

/**
 * Drops metric lines past the checkpoint a run resumes from (they are re-run), and a line cut
 * short by a kill in the middle of its write.
 */
function truncateMetrics(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(file, kept.map((l) => l + "\n").join(""));
}

/** Where a run keeps its step folders; the run folder's trainer_state.json points at one. */
export const CHECKPOINTS_DIR = "checkpoints";
const STATE_FILE = "trainer_state.json";
const METRICS_FILE = "metrics.jsonl";
const OPTIMIZER_FILE = "optimizer.safetensors";
const WEIGHTS_FILE = "model.safetensors";

function stepFolder(step: number): string {
  return `${CHECKPOINTS_DIR}/step-${String(step).padStart(8, "0")}`;
}

/** The loss of the last loss line, for a run that is already finished. */
function lastLoggedLoss(file: string): number {
  if (!existsSync(file)) return NaN;
  const lines = readFileSync(file, "utf8").trim().split("\n").filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const line = JSON.parse(lines[i]) as { loss?: number };
      if (isLossLine(line)) return Number(line.loss);
    } catch {
      return NaN;
    }
  }
  return NaN;
}

/** Puts `src` at `dst` atomically, as a hard link when the file system allows (no copy of the bytes). */
function publishFile(src: string, dst: string): void {
  const tmp = tempSibling(dst);
  try {
    linkSync(src, tmp);
  } catch {
    copyFileSync(src, tmp);
  }
  renameSync(tmp, dst);
}

/**
 * Replaces each file of a new step folder that is byte-identical to the previous checkpoint's
 * (config.json, tokenizer.json) by a hard link to it, so unchanged files take no new space.
 * model.safetensors holds the frozen tensors beside the trained ones, so it always changes.
 */
function linkUnchanged(previousDir: string, dir: string): void {
  if (!existsSync(previousDir)) return;
  for (const name of readdirSync(dir)) {
    if (name === WEIGHTS_FILE) continue; // its metadata holds the step
    const prev = join(previousDir, name);
    const next = join(dir, name);
    if (!existsSync(prev) || !statSync(next).isFile() || statSync(prev).size !== statSync(next).size) continue;
    if (readFileSync(prev).equals(readFileSync(next))) publishFile(prev, next);
  }
}

/**
 * Puts a checkpoint's model files (all but the optimiser and state) in the run folder itself,
 * for the commands that read a model folder, then removes every other step folder.
 */
function publishCheckpoint(outDir: string, rel: string, hook: (stage: CheckpointStage) => void): void {
  const dir = join(outDir, rel);
  for (const name of readdirSync(dir))
    if (name !== OPTIMIZER_FILE && name !== STATE_FILE && name !== MARKER_FILE) publishFile(join(dir, name), join(outDir, name));
  hook("published");
  const current = rel.slice(CHECKPOINTS_DIR.length + 1);
  for (const name of readdirSync(join(outDir, CHECKPOINTS_DIR)))
    if (name !== current) rmSync(join(outDir, CHECKPOINTS_DIR, name), { recursive: true, force: true });
  rmSync(join(outDir, OPTIMIZER_FILE), { force: true }); // an older lavit's checkpoint layout
  hook("cleaned");
}

/**
 * Decides how a run folder is begun: refuses one that is not ours or not empty, and says what
 * a --resume finds. Returns the state to resume from, or null for a fresh start.
 */
function openRun(outDir: string, opts: TrainOptions): TrainerState | null {
  const stateFile = join(outDir, STATE_FILE);
  const metricsFile = join(outDir, METRICS_FILE);
  if (existsSync(stateFile)) {
    if (!opts.resume) throw new UserError(`${outDir} already holds a training run (${STATE_FILE}); pass --resume to continue it or choose another --out`);
    return readState(stateFile);
  }
  const exists = existsSync(outDir);
  if (exists && !statSync(outDir).isDirectory()) throw new UserError(`--out ${outDir} is a file, not a folder; choose a folder path`);
  const entries = exists ? readdirSync(outDir) : [];
  const ours = exists && readMarker(outDir)?.kind === "model";
  // A model without a run record (shipped, copied, or its state deleted) is never trained over.
  if (existsSync(join(outDir, "model.safetensors")))
    throw new UserError(`--out ${outDir} holds a model (model.safetensors) but no ${STATE_FILE}: training there would replace it; choose a new or empty --out`);
  if (opts.resume) {
    if (!exists) throw new UserError(`--resume: ${outDir} does not exist, so there is no run to continue; leave out --resume to start one`);
    if (!ours) throw new UserError(`--resume: ${outDir} holds no lavit training run (no ${STATE_FILE}); leave out --resume to start one in an empty folder`);
    if (!opts.quiet) process.stderr.write(`lavit: ${outDir} has no checkpoint yet (stopped before the first one); starting from step 0\n`);
    rmSync(metricsFile, { force: true });
  } else if (entries.length > 0) {
    if (existsSync(metricsFile)) throw new UserError(`${outDir} holds ${METRICS_FILE} but no ${STATE_FILE}; choose an empty --out`);
    if (!ours)
      throw new UserError(`--out ${outDir} is not empty and holds no lavit training run; training would write over its files: choose a new or empty folder`);
  }
  // Step folders no state points at are leftovers of a run stopped before its first pointer.
  rmSync(join(outDir, CHECKPOINTS_DIR), { recursive: true, force: true });
  return null;
}

/**
 * The files of the checkpoint a state points at, checked for consistency: the model, the
 * optimiser and the state must all be from the same step, or the run is refused.
 */
function checkpointFiles(outDir: string, state: TrainerState): { dir: string; optimizer: string } {
  const stateFile = join(outDir, STATE_FILE);
  const dir = state.checkpoint ? join(outDir, state.checkpoint) : outDir;
  const model = join(dir, "model.safetensors");
  const optimizer = join(dir, OPTIMIZER_FILE);
  for (const f of [model, optimizer])
    if (!existsSync(f))
      throw new UserError(
        `${stateFile} points at step ${state.step}, but ${f} is missing: the checkpoint is incomplete and cannot be resumed; start again without --resume in a new --out`,
      );
  const modelStep = weightsStep(model);
  if (modelStep !== state.step)
    throw new UserError(
      `${model} is from step ${modelStep}, but ${stateFile} from step ${state.step} (a torn checkpoint${state.checkpoint ? "" : ", written by an older lavit"}): it cannot be resumed; start again without --resume in a new --out`,
    );
  return { dir, optimizer };
}
/**
 * Settings that name an input file or folder. A resume compares them by content when the path
 * differs, so a run folder continues from another checkout or a moved copy of the same inputs.
 */
const PATH_SETTINGS = ["init_from", "vision_from", "signals"] as const;

function inputIdentities(settings: TrainTask["settings"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PATH_SETTINGS) {
    const v = settings[k];
    if (typeof v === "string" && existsSync(v)) out[k] = contentIdentity(v);
  }
  return out;
}

export async function train(outDir: string, task: TrainTask, opts: TrainOptions): Promise<TrainResult> {
  await initEngine();
  assertOutputLocation(outDir);
  // One writer per run folder: a second run into it would interleave metrics and checkpoints.
  const lock = acquireLock(outDir);
  try {
    return await trainLocked(outDir, task, opts);
  } finally {
    lock.release();
  }
}

async function trainLocked(outDir: string, task: TrainTask, opts: TrainOptions): Promise<TrainResult> {
  const stateFile = join(outDir, STATE_FILE);
  const metricsFile = join(outDir, METRICS_FILE);
  const opt = new AdamW({ lr: opts.lr, weightDecay: opts.weightDecay });
  let start = 0;
  let elapsedBefore = 0;
  const state = openRun(outDir, opts);
  mkdirSync(outDir, { recursive: true });
  // Temp files of a run killed in this folder (a checkpoint being published, a state being written).
  removeStaleSiblings(outDir);
  if (!readMarker(outDir)) writeMarker(outDir, "model");
  const identities = inputIdentities(task.settings);
  if (state) {
    if (state.kind !== task.kind) throw new UserError(`${stateFile}: this folder holds a ${state.kind} run, not ${task.kind}`);
    const want = fingerprint(opts);
    for (const [k, v] of Object.entries(want))
      if (state.options[k] !== v)
        throw new UserError(`${FLAG_NAMES[k] ?? k}: the run in ${outDir} used ${String(state.options[k])}, not ${v}; resume with the same settings`);
    for (const [k, v] of Object.entries(task.settings)) {
      if (state.settings[k] === v) continue;
      const was = state.identities?.[k];
      if (was !== undefined && identities[k] === was) {
        if (!opts.quiet) process.stderr.write(`lavit: ${k} moved from ${String(state.settings[k])} to ${String(v)}, with the same content; resuming\n`);
        continue;
      }
      const why = was === undefined ? "" : identities[k] === undefined ? " (it is not there now)" : " (its content differs too)";
      throw new UserError(`--resume: the run in ${outDir} used ${k} = ${String(state.settings[k])}, not ${String(v)}${why}`);
    }
    if (state.step >= opts.steps) {
      // A run stopped between its last pointer swap and the publishing of its files is finished
      // too: publish them now, so the folder's model is the last step's.
      if (state.checkpoint) {
        checkpointFiles(outDir, state);
        publishCheckpoint(outDir, state.checkpoint, () => {});
      }
      if (!opts.quiet) process.stderr.write(`lavit: the run in ${outDir} is already finished (step ${state.step} of ${opts.steps}); nothing to train\n`);
      return { step: state.step, lastLoss: lastLoggedLoss(metricsFile), seconds: 0, halted: false, alreadyFinished: true };
    }
    const files = checkpointFiles(outDir, state);
    task.loadModel(files.dir);
    loadOptimizer(files.optimizer, opt, task.store, state.step);
    start = state.step;
    elapsedBefore = state.elapsed_s;
    truncateMetrics(metricsFile, start);
  }

  /**
   * A checkpoint is a complete step folder (model, optimiser, state) renamed into place, then
   * one pointer (trainer_state.json) swapped to it: a kill at any moment leaves the pointer on
   * a complete, consistent checkpoint. The model files are then published in the run folder
   * itself (hard links) for the commands that read a model folder, and older step folders go.
   */
  let previous = state?.checkpoint ? join(outDir, state.checkpoint) : null;
  const checkpoint = (step: number, elapsed: number) => {
    const hook = opts.checkpointHook ?? (() => {});
    const rel = stepFolder(step);
    const state: TrainerState = {
      kind: task.kind,
      step,
      options: fingerprint(opts),
      settings: task.settings,
      adam_step: opt.state.step,
      elapsed_s: elapsed,
      checkpoint: rel,
      identities,
    };
    buildDirAtomicSync(join(outDir, rel), (tmp) => {
      task.saveModel(tmp, step);
      if (previous) linkUnchanged(previous, tmp);
      hook("model", step);
      saveOptimizer(join(tmp, OPTIMIZER_FILE), opt, step);
      hook("optimizer", step);
      writeFileAtomic(join(tmp, STATE_FILE), JSON.stringify(state, null, 2) + "\n");
    });
    hook("step-folder", step);
    writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + "\n");
    hook("pointer", step);
    publishCheckpoint(outDir, rel, (s) => hook(s, step));
    previous = join(outDir, rel);
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
    const norm = globalNorm(grads);
    opt.step(task.store.vars, grads, clipScale(norm, opts.clip));
    lastLoss = value.dataSync()[0];
    const partValues = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
    tf.dispose([value, ...grads.values(), ...Object.values(parts)]);
    if (!Number.isFinite(lastLoss)) throw new Error(`training diverged at step ${step + 1} (loss ${lastLoss}); try a lower --lr`);
    step += 1;
    const elapsed = elapsedBefore + (performance.now() - t0) / 1000;
    if (step % opts.logEvery === 0 || step === opts.steps) {
      const line = {
        step,
        loss: lastLoss,
        ...partValues,
        ...(task.stepMetrics?.(step - 1) ?? {}),
        lr,
        grad_norm: norm,
        elapsed_s: Math.round(elapsed * 10) / 10,
      };
      appendFileSync(metricsFile, JSON.stringify(line) + "\n");
    }
    // Before the checkpoint: a kill between the two re-runs this step on resume, and
    // truncateMetrics drops the line first, so an evaluation is never missing nor written twice.
    let evaluation: Record<string, string | number> | undefined;
    if (task.evaluate && opts.evalEvery && (step % opts.evalEvery === 0 || step === opts.steps)) {
      evaluation = await task.evaluate(step);
      appendFileSync(metricsFile, JSON.stringify({ kind: EVAL_LINE_KIND, step, ...evaluation }) + "\n");
    }
    if (step % opts.checkpointEvery === 0 || step === opts.steps) checkpoint(step, elapsed);
    if (opts.onStep) {
      const info: StepInfo = {
        step,
        steps: opts.steps,
        loss: lastLoss,
        parts: { ...partValues, ...(task.stepMetrics?.(step - 1) ?? {}) },
        lr,
        gradNorm: norm,
        elapsedSeconds: elapsed,
      };
      await opts.onStep(info);
    }
    if (opts.onEval && evaluation) {
      const info: EvalInfo = { step, steps: opts.steps, metrics: { ...evaluation } };
      await opts.onEval(info);
    }
    bar.tick(1, { loss: lastLoss.toFixed(4) });
    await breathe();
    if (opts.haltAfter !== undefined && step >= opts.haltAfter && step < opts.steps) {
      halted = true;
      break;
    }
  }
  bar.stop();
  return { step, lastLoss, seconds: (performance.now() - t0) / 1000, halted };
}
