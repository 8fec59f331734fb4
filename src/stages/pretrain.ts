import { initEngine } from "../engine/index.js";
import { withDefaults } from "./defaults.js";
import { UserError } from "../errors.js";
import { captionText } from "../data/caption.js";
import { loadSplit, type LoadedSplit } from "../data/dataset.js";
import { isImportedDataset } from "../data/manifest.js";
import { initFromFolder, initVisionFrom } from "../model/checkpoint.js";
import { isAuxParam } from "../model/param-groups.js";
import { numPatches, readVlmConfig, type VlmConfig } from "../model/config.js";
import { studentConfig, teacherConfig } from "../model/presets.js";
import { buildVlm } from "../model/vlm.js";
import { familyCounts, formatFamilyWeights, weighFamilies, type FamilyWeights } from "../train/family-weights.js";
import { teacherTask } from "../train/teacher.js";
import type { TrainResult } from "../train/result.js";
import { trainToFolder } from "./train-folder.js";
import { trainerOptions, TRAINER_FIELDS, withoutCallbacks, type CommonTrainOptions } from "./trainer-options.js";
import { named, numIn, text, validateOptions } from "./options-schema.js";
import { FAMILIES } from "../data/families/family.js";
import { z } from "zod";
import { checkBatchSize, checkModelFits } from "../util/limits.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";

/** Options of the two models pretrained with the per-patch auxiliary heads: the teacher and the student base. */
export interface PretrainOptions extends CommonTrainOptions {
  /** Dataset folder. */
  data: string;
  /** Model config JSON (default: the built-in size). */
  config?: string;
  split?: string;
  /** Start from this model folder's weights (a new run: fresh optimiser and schedule). */
  initFrom?: string;
  /** Weight of the per-patch shape/colour/position loss on the vision tower (0 = off). */
  auxPatch?: number;
}

export interface TeacherOptions extends PretrainOptions {
  /** Loss weight of the answer word relative to the rationale tokens. */
  answerWeight?: number;
  /** How often each question family is seen relative to the data. */
  familyWeight?: FamilyWeights;
  /** Weight of the grounding term: each rationale step's attention to the image pulled onto the step's ground-truth patches (0 = off). */
  groundAttention?: number;
  /** The grounding term's hinge: a step with at least this mass on its patches costs nothing (1 = always pulled further). */
  groundTarget?: number;
  /** Train the vision tower alone on the per-patch heads (no text; the decoder is left as it is). */
  visionOnly?: boolean;
}

export interface BaseOptions extends PretrainOptions {
  /** Start the vision tower (and its per-patch heads) from this model folder's. */
  visionFrom?: string;
}

const PRETRAIN_DEFAULTS = { split: "teacher-train", auxPatch: 1 } as const;
export const TEACHER_DEFAULTS = { ...PRETRAIN_DEFAULTS, steps: 3000, answerWeight: 1, groundAttention: 0, groundTarget: 1 } as const;
export const BASE_DEFAULTS = { ...PRETRAIN_DEFAULTS, steps: 1500 } as const;

const PRETRAIN_FIELDS = {
  ...TRAINER_FIELDS,
  data: text(),
  config: text().optional(),
  split: text().optional(),
  initFrom: text().optional(),
  auxPatch: numIn(0, 100).optional(),
};

export const teacherOptionsSchema = named(
  z
    .object({
      ...PRETRAIN_FIELDS,
      answerWeight: numIn(0, 100).optional(),
      familyWeight: z.partialRecord(z.enum(FAMILIES), numIn(0, 100)).optional(),
      groundAttention: numIn(0, 100).optional(),
      groundTarget: numIn(1e-6, 1).optional(),
      visionOnly: z.boolean().optional(),
    })
    .strict(),
  "teacher option",
);

export const baseOptionsSchema = named(z.object({ ...PRETRAIN_FIELDS, visionFrom: text().optional() }).strict(), "base option");

/** What `trainTeacher` reads and writes (the output guard's declaration; the CLI shares it). */
export const TEACHER_IO: IoSpec = { data: input(), initFrom: input(), config: input(), out: outputFolder("model", "run") };

/** What `trainBase` reads and writes. */
export const BASE_IO: IoSpec = { ...TEACHER_IO, visionFrom: input() };

/** A model config must agree with the dataset's tokenizer and image geometry. */
export function checkDataFits(config: VlmConfig, data: LoadedSplit, configFile: string | undefined): void {
  const source = configFile ?? "the built-in config";
  if (config.decoder.vocab_size !== data.tokenizer.size)
    throw new UserError(`${source}: decoder.vocab_size ${config.decoder.vocab_size} does not match the dataset's tokenizer (${data.tokenizer.size} tokens)`);
  if (config.vision.image_size !== data.info.size || config.vision.patch_size !== data.info.patch)
    throw new UserError(
      `${source}: vision image_size/patch_size ${config.vision.image_size}/${config.vision.patch_size} do not match the dataset (${data.info.size}/${data.info.patch})`,
    );
}

/**
 * The defaults that differ on an imported dataset: it has no teacher-train split (the teacher
 * trains on train), and no scene descriptions for the per-patch heads (they are off).
 */
function importedDefaults<O extends { data: string; split?: string; auxPatch?: number }>(opts: O): O {
  if (!isImportedDataset(opts.data)) return opts;
  return { ...opts, split: opts.split ?? "train", auxPatch: opts.auxPatch ?? 0 };
}

/** Trains the teacher VLM on the teacher-train split (rationale + answer). */
export async function trainTeacher(opts: TeacherOptions): Promise<TrainResult> {
  validateOptions(teacherOptionsSchema, withoutCallbacks(opts));
  const o = withDefaults(TEACHER_DEFAULTS, importedDefaults(opts));
  if (o.visionOnly && !(o.auxPatch > 0)) throw new UserError("--vision-only trains the vision tower on the per-patch heads: it needs --aux-patch above 0");
  if (o.visionOnly && o.groundAttention > 0) throw new UserError("--vision-only trains no text: it cannot be combined with --ground-attention");
  const options = trainerOptions(o, o.steps);
  return withOutputs(TEACHER_IO, o, async () => {
    await initEngine();
    const loaded = loadSplit(o.data, o.split);
    const data = o.familyWeight ? weighFamilies(loaded, o.familyWeight, options.seed) : loaded;
    checkBatchSize(options.batchSize, data.samples.length, o.split);
    const config = o.config ? readVlmConfig(o.config) : teacherConfig(data.tokenizer.size, data.info.size, data.info.patch);
    checkDataFits(config, data, o.config);
    checkModelFits(config, { training: true, batch: options.batchSize }, o.config ?? "the built-in config");
    const vlm = buildVlm(config, options.seed);
    // The task adds the auxiliary heads to the store, so build it before loading weights.
    const task = teacherTask(vlm, data, {
      auxPatchWeight: o.auxPatch,
      answerWeight: o.answerWeight,
      groundAttention: o.groundAttention,
      groundTarget: o.groundTarget,
      visionOnly: o.visionOnly,
    });
    if (o.initFrom && !o.resume) initFromFolder(vlm.store, o.initFrom, { config, tokenizer: data.tokenizer }, isAuxParam);
    const perFamily = familyCounts(data);
    if (!o.quiet)
      process.stderr.write(
        `teacher: ${vlm.store.count().toLocaleString("en-US")} parameters, ${numPatches(config.vision)} image tokens, ${data.samples.length} samples${
          Object.keys(perFamily).length
            ? ` (${Object.entries(perFamily)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")})`
            : ""
        }\n`,
      );
    task.settings = {
      ...task.settings,
      aux_patch: o.auxPatch,
      answer_weight: o.answerWeight,
      init_from: o.initFrom ?? null,
      family_weight: o.familyWeight ? formatFamilyWeights(o.familyWeight) : null,
      ...(o.groundAttention > 0 ? { ground_attention: o.groundAttention, ground_target: o.groundTarget } : {}),
      ...(o.visionOnly ? { vision_only: true } : {}),
    };
    return trainToFolder(o.out, task, options, vlm);
  });
}

/** Pretrains the student base on scene descriptions of the teacher-train images (no questions). */
export async function trainBase(opts: BaseOptions): Promise<TrainResult> {
  validateOptions(baseOptionsSchema, withoutCallbacks(opts));
  const o = withDefaults(BASE_DEFAULTS, opts);
  if (o.visionFrom && o.initFrom) throw new UserError("--vision-from and --init-from exclude each other (--init-from already sets the vision tower)");
  const options = trainerOptions(o, o.steps);
  return withOutputs(BASE_IO, o, async () => {
    await initEngine();
    const data = loadSplit(o.data, o.split);
    checkBatchSize(options.batchSize, data.samples.length, o.split);
    const config = o.config ? readVlmConfig(o.config) : studentConfig(data.tokenizer.size, data.info.size, data.info.patch);
    if (config.latent) throw new UserError(`${o.config}: a base model has no latent block; students add it when they start from the base`);
    checkDataFits(config, data, o.config);
    checkModelFits(config, { training: true, batch: options.batchSize }, o.config ?? "the built-in config");
    const vlm = buildVlm(config, options.seed);
    // No question in the prompt: the base model describes the image, it never answers.
    const task = teacherTask(vlm, data, {
      kind: "student-base",
      askQuestion: false,
      targets: data.samples.map((s) => captionText(s, data.info.size)),
      auxPatchWeight: o.auxPatch,
    });
    if (o.initFrom && !o.resume) initFromFolder(vlm.store, o.initFrom, { config, tokenizer: data.tokenizer }, isAuxParam);
    if (o.visionFrom && !o.resume) initVisionFrom(vlm.store, o.visionFrom, config);
    if (!o.quiet) process.stderr.write(`student base: ${vlm.store.count().toLocaleString("en-US")} parameters, ${data.samples.length} scene descriptions\n`);
    task.settings = { ...task.settings, target: "scene description", aux_patch: o.auxPatch, init_from: o.initFrom ?? null, vision_from: o.visionFrom ?? null };
    return trainToFolder(o.out, task, options, vlm);
  });
}
