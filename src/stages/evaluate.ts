import { initEngine } from "../engine/index.js";
import { UserError } from "../errors.js";
import { loadSplit, type LoadedSplit } from "../data/dataset.js";
import { evaluateHandle, type LoadedEvaluation, type ModelHandle } from "../eval/handle.js";
import { evaluateModel } from "../eval/evaluate.js";
import {
  THOUGHTS_READOUTS,
  type EvalResult,
  type ForcedResult,
  type Prediction,
  type ThoughtsMetrics,
  type ThoughtsReadout,
  type VisionHeadsResult,
} from "../eval/result.js";
import { answerProbes } from "../eval/answer-probes.js";
import { ANSWER_PROBES, type AnswerProbe, type AnswerProbes } from "../eval/probe-results.js";
import { evaluateForced } from "../eval/forced.js";
import type { GazeMetrics } from "../eval/gap.js";
import { evaluateVisionHeads } from "../eval/vision-heads.js";
import { loadModelFor, withModel } from "../model/load.js";
import { readModelFolder } from "../model/checkpoint.js";
import { trajHeadTrained } from "../model/training-record.js";
import { writeFileAtomic } from "../util/atomic.js";
import { input, outputFile, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { writeAttentionDump } from "../signals/dump.js";
import { z } from "zod";
import { flag, named, positiveInt, text, validateOptions } from "./options-schema.js";

const DIAGNOSTIC_FIELDS = { model: text(), data: text(), split: text(), limit: positiveInt().optional(), quiet: flag().optional() };

/** The options of `evaluate` and their ranges (the CLI's parsers read them from here). */
export const evaluateOptionsSchema = named(
  z
    .object({
      ...DIAGNOSTIC_FIELDS,
      teacher: text().optional(),
      predictions: text().optional(),
      maskLatents: flag().optional(),
      noImageForAnswer: flag().optional(),
      allowOutsideRoot: flag().optional(),
      dumpAttention: text().optional(),
      dumpThoughts: text().optional(),
      thoughtsReadout: z.enum(THOUGHTS_READOUTS).optional(),
      probe: z.array(z.enum(ANSWER_PROBES)).optional(),
      answerFormat: z.enum(ANSWER_FORMATS).optional(),
      force: flag().optional(),
    })
    .strict(),
  "eval option",
);

/** The options of the diagnostics (`evaluateTeacherForced`, `evaluateVisionTower`). */
export const diagnosticOptionsSchema = named(z.object(DIAGNOSTIC_FIELDS).strict(), "eval option");

/** The options of `evaluateLoaded` (a library caller's alone: no CLI command takes them). */
export const loadedEvaluationOptionsSchema = named(
  z.object({ batchSize: positiveInt().optional(), answerFormat: z.enum(ANSWER_FORMATS).optional() }).strict(),
  "evaluateLoaded option",
);

/**
 * Greedy answers of a model from `loadModel` on a split from `loadSplit`, scored as `evaluate`
 * scores them (the answer format is the dataset's unless given).
 */
export async function evaluateLoaded(
  model: ModelHandle,
  data: LoadedSplit,
  opts: { batchSize?: number; answerFormat?: AnswerFormat } = {},
): Promise<LoadedEvaluation> {
  validateOptions(loadedEvaluationOptionsSchema, opts);
  return evaluateHandle(model, data, opts);
}
import { ANSWER_FORMATS, answerFormatOf, type AnswerFormat } from "../data/manifest.js";
import { countUnknownWords } from "./unknown-words.js";

export interface EvaluateOptions {
  /** Model folder (config.json, model.safetensors, tokenizer.json). */
  model: string;
  /** Dataset folder. */
  data: string;
  split: string;
  /** Teacher model folder: adds js_to_teacher and topk_iou. */
  teacher?: string;
  /** Only the first n samples. */
  limit?: number;
  /** Write one JSON line per sample (answer, prediction, generated text, gaze metrics). */
  predictions?: string;
  /** Probe: hide the latent tokens from the generated text. */
  maskLatents?: boolean;
  /** Probe: generated tokens cannot attend to the image (gate closed). */
  noImageForAnswer?: boolean;
  /** Read manifest images that lead outside the dataset folder. */
  allowOutsideRoot?: boolean;
  quiet?: boolean;
  /** Write the model's own per-step gaze maps here, in the trajectory layout (`lavit gap` reads it). */
  dumpAttention?: string;
  /** Write where the model's latent thoughts look, step by step, here, in the same layout (models with latents). */
  dumpThoughts?: string;
  /** Which read-out --dump-thoughts writes (default: head when the model's trajectory head was trained, else attention). */
  thoughtsReadout?: ThoughtsReadout;
  /** Probes of whether the answer reads the latent thoughts (models with latents). */
  probe?: AnswerProbe[];
  /** How answers are read and scored (default: the one the dataset records; the benchmark's is lavit). */
  answerFormat?: AnswerFormat;
  /** Replace an existing --predictions file, and --dump-* folders lavit wrote. */
  force?: boolean;
}

/** What `evaluate` reads and writes (the output guard's declaration; the CLI's `eval` shares it). */
export const EVALUATE_IO: IoSpec = {
  model: input(),
  data: input(),
  teacher: input(),
  predictions: outputFile(),
  dumpAttention: outputFolder("signals"),
  dumpThoughts: outputFolder("signals"),
};

export { ANSWER_PROBES, type AnswerProbe };

export const EVALUATE_DEFAULTS = {
  /** Seeds the swap probe's pairing of samples that share a question (test-pairs' minimal pairs need none). */
  probeSeed: 1,
};

export type Evaluation = EvalResult &
  GazeMetrics &
  ThoughtsMetrics & {
    probes?: AnswerProbes;
    answer_format?: AnswerFormat;
    /** A model with an open vocabulary: words of the split's questions it read as <unk>. */
    unknown_words?: number;
  };

/** Answers a split with a model (greedy): accuracy overall and per family, and where the model looks. */
export async function evaluate(o: EvaluateOptions): Promise<{ result: Evaluation; predictions: Prediction[] }> {
  validateOptions(evaluateOptionsSchema, o);
  return withOutputs(EVALUATE_IO, o, () => evaluateInto(o));
}

async function evaluateInto(o: EvaluateOptions): Promise<{ result: Evaluation; predictions: Prediction[] }> {
  if (o.thoughtsReadout && !o.dumpThoughts) throw new UserError("--thoughts-readout chooses what --dump-thoughts writes: give --dump-thoughts DIR too");
  const probes = [...new Set(o.probe ?? [])];
  if (probes.length && (o.maskLatents || o.noImageForAnswer))
    throw new UserError("--probe takes neither --mask-latents nor --no-image-for-answer (each probe reports its own masked-latents constant)");
  // Refused before any work (a --teacher evaluation comes first).
  if ((probes.length || o.dumpThoughts) && !readModelFolder(o.model).config.latent?.num_latents)
    throw new UserError(
      `${probes.length ? "--probe" : "--dump-thoughts"}: ${o.model} has no latent thoughts${probes.length ? ", so there is nothing for the answer to read" : ""} (a model with latent tokens has)`,
    );
  if (o.thoughtsReadout === "head" && !trajHeadTrained(o.model))
    throw new UserError(
      `--thoughts-readout head: ${o.model}'s trajectory head was never trained (its trainer_state.json records no trajectory loss on the head); use --thoughts-readout attention`,
    );
  await initEngine();
  const data = loadSplit(o.data, o.split, o.limit, { allowOutsideRoot: o.allowOutsideRoot });
  let teacherMaps: Float32Array[][] | undefined;
  if (o.teacher)
    teacherMaps = (await withModel(loadModelFor(o.teacher, data, o.data), (t) => evaluateModel(t.vlm, t.tokenizer, data, { quiet: o.quiet }))).maps;
  const ev = await withModel(loadModelFor(o.model, data, o.data), async (m) => {
    const full = await evaluateModel(m.vlm, m.tokenizer, data, {
      latents: m.latents,
      headTrained: m.headTrained,
      quiet: o.quiet,
      teacherMaps,
      probes: { maskLatents: o.maskLatents, noImageForAnswer: o.noImageForAnswer },
      answerFormat: o.answerFormat,
    });
    if (!probes.length) return full;
    const found = answerProbes(m.vlm, m.tokenizer, data, m.latents, probes, { seed: EVALUATE_DEFAULTS.probeSeed, quiet: o.quiet });
    return { ...full, result: { ...full.result, probes: found } };
  });
  const answerFormat = o.answerFormat ?? answerFormatOf(data.info);
  const unknownWords = countUnknownWords(o.model, data.samples);
  const generated = ev.predictions.map((p) => p.generated);
  if (o.dumpAttention) await writeAttentionDump(o.dumpAttention, data, generated, ev.maps, { model: o.model });
  if (o.dumpThoughts) {
    const readout = o.thoughtsReadout ?? (ev.thoughtMaps?.head ? "head" : "attention");
    await writeAttentionDump(o.dumpThoughts, data, generated, ev.thoughtMaps![readout]!, { model: o.model, thoughts: readout });
  }
  if (o.predictions) writeFileAtomic(o.predictions, ev.predictions.map((p) => JSON.stringify(p)).join("\n") + "\n");
  return {
    result: { ...ev.result, answer_format: answerFormat, ...(unknownWords !== undefined ? { unknown_words: unknownWords } : {}) },
    predictions: ev.predictions,
  };
}

/** Diagnostic: feeds the true rationale and scores the answer after it and each rationale token (models without latents). */
export async function evaluateTeacherForced(o: { model: string; data: string; split: string; limit?: number; quiet?: boolean }): Promise<ForcedResult> {
  validateOptions(diagnosticOptionsSchema, o);
  await initEngine();
  const data = loadSplit(o.data, o.split, o.limit);
  return withModel(loadModelFor(o.model, data, o.data), (m) => {
    if (m.latents) throw new UserError(`${o.model}: --teacher-forced needs a model without latent tokens (a teacher, a base or a distill student)`);
    return evaluateForced(m.vlm, data, { quiet: o.quiet });
  });
}

/** Diagnostic: what the vision tower sees, read through its per-patch heads (models trained with auxPatch > 0). */
export async function evaluateVisionTower(o: { model: string; data: string; split: string; limit?: number; quiet?: boolean }): Promise<VisionHeadsResult> {
  validateOptions(diagnosticOptionsSchema, o);
  await initEngine();
  const data = loadSplit(o.data, o.split, o.limit);
  return withModel(loadModelFor(o.model, data, o.data, { auxHeads: true }), (m) => evaluateVisionHeads(m.vlm, data, { quiet: o.quiet }));
}
