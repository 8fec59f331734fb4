import { Command } from "commander";
import { initEngine } from "../engine/index.js";
import { loadSplit, type LoadedSplit } from "../data/dataset.js";
import { readVlmConfig, numPatches, type VlmConfig } from "../model/config.js";
import { studentConfig, teacherConfig } from "../model/presets.js";
import { captionText } from "../data/caption.js";
import { buildVlm, type Vlm } from "../model/vlm.js";
import { initFromFolder, initVisionFrom } from "../model/checkpoint.js";
import { teacherTask } from "../train/teacher.js";
import { train, type TrainOptions, type TrainTask } from "../train/trainer.js";
import { UserError } from "../errors.js";
import { parseNumberIn, parsePositiveInt } from "./parse.js";
import { registerStudent } from "./student.js";
import { familyCounts, formatFamilyWeights, parseFamilyWeights, weighFamilies, type FamilyWeights } from "../train/family-weights.js";

export interface CommonTrainFlags extends Omit<TrainOptions, "resume" | "haltAfter"> {
  data: string;
  out: string;
  resume?: boolean;
}

/** Flags every trainer shares (teacher and students). */
export function addTrainerOptions(cmd: Command, defaults: { steps: number; lr: number; batchSize: number }): Command {
  return cmd
    .requiredOption("--data <dir>", "dataset folder (from `lavit data generate`)")
    .requiredOption("--out <dir>", "output folder for checkpoints and metrics.jsonl")
    .option("--steps <n>", "optimisation steps", parsePositiveInt("--steps"), defaults.steps)
    .option("--seed <n>", "random seed (initialisation and batch order)", parsePositiveInt("--seed", true), 0)
    .option("--batch-size <n>", "samples per step", parsePositiveInt("--batch-size"), defaults.batchSize)
    .option("--lr <x>", "peak learning rate", parseNumberIn("--lr", 0, 1), defaults.lr)
    .option("--warmup <n>", "linear warm-up steps", parsePositiveInt("--warmup", true), 100)
    .option("--min-lr-ratio <x>", "final learning rate as a fraction of the peak (cosine decay)", parseNumberIn("--min-lr-ratio", 0, 1), 0.1)
    .option("--weight-decay <x>", "AdamW decoupled weight decay", parseNumberIn("--weight-decay", 0, 1), 0.05)
    .option("--clip <x>", "clip gradients to this global norm", parseNumberIn("--clip", 0, 1e6), 1)
    .option("--log-every <n>", "write a metrics.jsonl line every n steps", parsePositiveInt("--log-every"), 10)
    .option("--checkpoint-every <n>", "checkpoint every n steps", parsePositiveInt("--checkpoint-every"), 200)
    .option("--resume", "continue the run in --out from its last checkpoint")
    .option("--quiet", "no progress output");
}

interface PretrainFlags extends CommonTrainFlags {
  config?: string;
  split: string;
  initFrom?: string;
  auxPatch: number;
}

/** Flags of the two models pretrained with the per-patch auxiliary heads: the teacher and the student base. */
function addPretrainOptions(cmd: Command, size: "teacher" | "student", defaults: { steps: number; lr: number; batchSize: number }): Command {
  return addTrainerOptions(cmd, defaults)
    .option("--config <file>", `model config JSON (default: the built-in ${size} size)`)
    .option("--split <split>", "training split", "teacher-train")
    .option("--init-from <dir>", "start from this model folder's weights (a new run: fresh optimiser and schedule)")
    .option("--aux-patch <w>", "weight of the per-patch shape/colour/position loss on the vision tower (0 = off)", parseNumberIn("--aux-patch", 0, 100), 1);
}

/** Loads --init-from weights (aux heads optional: a model trained before a head existed gains it). Call after the task has added the aux heads. */
function initPretrained(vlm: Vlm, f: PretrainFlags, config: VlmConfig, data: LoadedSplit): void {
  if (f.initFrom && !f.resume) initFromFolder(vlm.store, f.initFrom, { config, tokenizer: data.tokenizer }, (name) => name.startsWith("aux."));
}

export function trainerOptions(f: CommonTrainFlags): TrainOptions {
  if (f.warmup >= f.steps) throw new UserError(`--warmup ${f.warmup} must be smaller than --steps ${f.steps}`);
  return { steps: f.steps, batchSize: f.batchSize, lr: f.lr, warmup: f.warmup, minLrRatio: f.minLrRatio, weightDecay: f.weightDecay, clip: f.clip, seed: f.seed, logEvery: f.logEvery, checkpointEvery: f.checkpointEvery, resume: !!f.resume, quiet: f.quiet };
}

/** Runs a training task to its end, says where the model is, and frees the model's tensors. */
export async function trainToFolder(out: string, task: TrainTask, options: TrainOptions, vlm: Vlm): Promise<void> {
  try {
    const r = await train(out, task, options);
    process.stderr.write(`done: step ${r.step}, loss ${r.lastLoss.toFixed(4)}, ${r.seconds.toFixed(0)} s; model in ${out}\n`);
  } finally {
    vlm.dispose();
  }
}

export function register(program: Command): void {
  const trainCmd = program.command("train").description("train a teacher or a student");
  addPretrainOptions(trainCmd.command("teacher").description("train the teacher VLM on the teacher-train split (rationale + answer)"), "teacher", { steps: 3000, lr: 1e-3, batchSize: 32 })
    .option("--answer-weight <w>", "loss weight of the answer word relative to the rationale tokens", parseNumberIn("--answer-weight", 0, 100), 1)
    .option("--family-weight <list>", "how often each question family is seen relative to the data, e.g. depth=3,attribute=0.5 (0 drops a family; unnamed families keep 1)", parseFamilyWeights)
    .action(async (f: PretrainFlags & { answerWeight: number; familyWeight?: FamilyWeights }) => {
      await initEngine();
      const loaded = loadSplit(f.data, f.split);
      const data = f.familyWeight ? weighFamilies(loaded, f.familyWeight, f.seed) : loaded;
      const config = f.config ? readVlmConfig(f.config) : teacherConfig(data.tokenizer.size, data.info.size, data.info.patch);
      checkDataFits(config, data, f.config);
      const vlm = buildVlm(config, f.seed);
      // The task adds the auxiliary heads to the store, so build it before loading weights.
      const task = teacherTask(vlm, data, { auxPatchWeight: f.auxPatch, answerWeight: f.answerWeight });
      initPretrained(vlm, f, config, data);
      const perFamily = familyCounts(data);
      if (!f.quiet) process.stderr.write(`teacher: ${vlm.store.count().toLocaleString("en-US")} parameters, ${numPatches(config.vision)} image tokens, ${data.samples.length} samples (${Object.entries(perFamily).map(([k, v]) => `${k} ${v}`).join(", ")})\n`);
      task.settings = { ...task.settings, aux_patch: f.auxPatch, answer_weight: f.answerWeight, init_from: f.initFrom ?? null, family_weight: f.familyWeight ? formatFamilyWeights(f.familyWeight) : null };
      await trainToFolder(f.out, task, trainerOptions(f), vlm);
    });
  addPretrainOptions(trainCmd.command("base").description("pretrain the student base model on scene descriptions of the teacher-train images (no questions); students start from it with --init-from"), "student", { steps: 1500, lr: 1e-3, batchSize: 32 })
    .option("--vision-from <dir>", "start the vision tower (and its per-patch heads) from this model folder's, e.g. the teacher's; its vision config must be the same")
    .action(async (f: PretrainFlags & { visionFrom?: string }) => {
      if (f.visionFrom && f.initFrom) throw new UserError("--vision-from and --init-from exclude each other (--init-from already sets the vision tower)");
      await initEngine();
      const data = loadSplit(f.data, f.split);
      const config = f.config ? readVlmConfig(f.config) : studentConfig(data.tokenizer.size, data.info.size, data.info.patch);
      if (config.latent) throw new UserError(`${f.config}: a base model has no latent block; students add it when they start from the base`);
      checkDataFits(config, data, f.config);
      const vlm = buildVlm(config, f.seed);
      // No question in the prompt: the base model describes the image, it never answers.
      const task = teacherTask(vlm, data, { kind: "student-base", askQuestion: false, targets: data.samples.map((s) => captionText(s, data.info.size)), auxPatchWeight: f.auxPatch });
      initPretrained(vlm, f, config, data);
      if (f.visionFrom && !f.resume) initVisionFrom(vlm.store, f.visionFrom, config);
      if (!f.quiet) process.stderr.write(`student base: ${vlm.store.count().toLocaleString("en-US")} parameters, ${data.samples.length} scene descriptions\n`);
      task.settings = { ...task.settings, target: "scene description", aux_patch: f.auxPatch, init_from: f.initFrom ?? null, vision_from: f.visionFrom ?? null };
      await trainToFolder(f.out, task, trainerOptions(f), vlm);
    });
  registerStudent(trainCmd);
}

/** A model config must agree with the dataset's tokenizer and image geometry. */
export function checkDataFits(config: VlmConfig, data: LoadedSplit, configFile: string | undefined): void {
  const source = configFile ?? "the built-in config";
  if (config.decoder.vocab_size !== data.tokenizer.size) throw new UserError(`${source}: decoder.vocab_size ${config.decoder.vocab_size} does not match the dataset's tokenizer (${data.tokenizer.size} tokens)`);
  if (config.vision.image_size !== data.info.size || config.vision.patch_size !== data.info.patch) throw new UserError(`${source}: vision image_size/patch_size ${config.vision.image_size}/${config.vision.patch_size} do not match the dataset (${data.info.size}/${data.info.patch})`);
}
