import type { LoadedSplit } from "../data/dataset.js";
import { UNK, type Tokenizer } from "../data/tokenizer.js";
import { answerFormatOf, type AnswerFormat } from "../data/manifest.js";
import { initEngine } from "../engine/index.js";
import { evaluateModel } from "./evaluate.js";
import type { GazeMetrics } from "./gap.js";
import type { EvalResult, Prediction, ThoughtsMetrics } from "./result.js";
import type { VlmConfig } from "../model/config.js";
import { loadModelFor, type LoadedModel } from "../model/load.js";
import { readModelFolder as readFolder } from "../model/checkpoint.js";

export interface ModelFolder {
  config: VlmConfig;
  tokenizer: Tokenizer;
  /** The weights file (model.safetensors). */
  weights: string;
}

/** A model folder's config and tokenizer, checked against each other; the weights are not read. */
export function readModelFolder(dir: string): ModelFolder {
  return readFolder(dir);
}

/**
 * A model folder loaded into memory, for a library user. Opaque on purpose: its tensors stay
 * inside lavit, so the package's types name no tensor library. Free it with dispose().
 */
export interface ModelHandle {
  readonly dir: string;
  readonly config: VlmConfig;
  readonly tokenizer: Tokenizer;
  /** Latent visual thought tokens K (0: a teacher, base or distill student). */
  readonly latents: number;
  /** Number of trained parameters. */
  readonly parameters: number;
  dispose(): void;
}

const loaded = new WeakMap<ModelHandle, LoadedModel>();

/**
 * Loads a model folder for a dataset split (from loadSplit): refused when the model's vocabulary
 * or image geometry is not the dataset's.
 */
export async function loadModel(dir: string, data: LoadedSplit): Promise<ModelHandle> {
  await initEngine();
  const m = loadModelFor(dir, data, data.dir);
  const handle: ModelHandle = {
    dir,
    config: m.vlm.config,
    tokenizer: m.tokenizer,
    latents: m.latents,
    parameters: m.vlm.store.count(),
    dispose: () => {
      if (loaded.delete(handle)) m.vlm.dispose();
    },
  };
  loaded.set(handle, m);
  return handle;
}

export interface LoadedEvaluation {
  result: EvalResult & GazeMetrics & ThoughtsMetrics & { answer_format: AnswerFormat; unknown_words?: number };
  predictions: (Prediction & { gaze: GazeMetrics })[];
  /** Per sample, per rationale step: where the model looked, a distribution over the image patches. */
  maps: Float32Array[][];
}

/**
 * Greedy answers of a loaded model on a loaded split, scored as `lavit eval` scores them (the
 * answer format is the dataset's unless given). Library callers reach it through
 * stages/evaluate.ts's `evaluateLoaded`, which checks the options first.
 */
export async function evaluateHandle(
  model: ModelHandle,
  data: LoadedSplit,
  opts: { batchSize?: number; answerFormat?: AnswerFormat } = {},
): Promise<LoadedEvaluation> {
  const m = loaded.get(model);
  if (!m) throw new Error("evaluateLoaded: the model was disposed");
  const answerFormat = opts.answerFormat ?? answerFormatOf(data.info);
  const { result, predictions, maps } = await evaluateModel(m.vlm, m.tokenizer, data, {
    latents: m.latents,
    headTrained: m.headTrained,
    quiet: true,
    batchSize: opts.batchSize,
    answerFormat,
  });
  // As `lavit eval` counts them: words of the questions the model's vocabulary maps to <unk>.
  const unknown = m.tokenizer.has(UNK) ? data.samples.reduce((n, x) => n + m.tokenizer.unknownWords(x.question).length, 0) : undefined;
  return { result: { ...result, answer_format: answerFormat, ...(unknown !== undefined ? { unknown_words: unknown } : {}) }, predictions, maps };
}
