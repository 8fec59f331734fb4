import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { generate } from "../model/generate.js";
import { promptIds } from "../model/sequence.js";
import { answerFormatOf, datasetKind, type AnswerFormat } from "../data/manifest.js";
import { normaliseAnswer, scoreAnswer } from "./answers.js";
import { pickChoices } from "./choices.js";
import { patchBatch, type Vlm } from "../model/vlm.js";
import { progress } from "../util/progress.js";
import { probeBias, type ProbeOptions } from "./probes.js";
import { gazeMaps } from "./gaze.js";
import { stepForLatent } from "../model/sequence.js";
import { meanGaze, sampleGaze, type GazeMetrics } from "./gap.js";
import { toDistribution } from "../signals/maps.js";
import { breathe } from "../util/interrupt.js";
import type { EvalResult, GroupAccuracy, Prediction, ThoughtsMetrics, ThoughtsReadout } from "./result.js";

export { THOUGHTS_READOUTS, type EvalResult, type GroupAccuracy, type Prediction, type ThoughtsMetrics, type ThoughtsReadout } from "./result.js";

export interface EvalOptions {
  latents?: number;
  batchSize?: number;
  maxNewTokens?: number;
  quiet?: boolean;
  probes?: ProbeOptions;
  /**
   * A model with latents: whether its trajectory head was trained (false: a `--no-traj` or
   * `--traj-source attention` student, whose head map would be noise and is not reported).
   */
  headTrained?: boolean;
  /** How answers are read and scored (default: the dataset's). */
  answerFormat?: AnswerFormat;
}

export interface PredictionsWithReadout {
  predictions: Prediction[];
  /** Per sample, per generated token: its attention over the image tokens (layer and head mean). */
  tokenAttention: Float32Array[][];
  /** Per sample, [n * d] last-layer hidden states at the image positions. */
  imageHidden: Float32Array[];
  /** A model with latent thoughts: per sample, per latent, its trajectory head's map over the image. */
  latentMaps?: Float32Array[][];
  /** A model with latent thoughts: per sample, per latent, its own attention to the image (layer and head mean). */
  latentAttention?: Float32Array[][];
}

/** Greedy answers plus where each generated token looked, read in the same decoding pass. */
export async function predictWithReadout(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  opts: EvalOptions = {},
  readAttention = true,
): Promise<PredictionsWithReadout> {
  const n = numPatches(vlm.config.vision);
  const prompts = data.samples.map((s) => promptIds(tok, n, s.question, opts.latents ?? 0));
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => byLength.get(p.length)?.push(i) ?? byLength.set(p.length, [i]));
  const generated: number[][] = new Array(data.samples.length);
  const tokenAttention: Float32Array[][] = new Array(data.samples.length);
  const imageHidden: Float32Array[] = new Array(data.samples.length);
  const latentMaps: Float32Array[][] = new Array(data.samples.length);
  const latentAttention: Float32Array[][] = new Array(data.samples.length);
  const latents = readAttention ? (opts.latents ?? 0) : 0;
  const batchSize = opts.batchSize ?? 64;
  const bar = progress(`eval ${data.split}`, data.samples.length, { quiet: opts.quiet });
  for (const idx of [...byLength.values()]) {
    for (let s = 0; s < idx.length; s += batchSize) {
      const chunk = idx.slice(s, s + batchSize);
      const patches = patchBatch(
        chunk.map((i) => data.images[i]),
        data.info.size,
        data.info.patch,
      );
      const g = generate(
        vlm,
        patches,
        chunk.map((i) => prompts[i]),
        {
          maxNewTokens: opts.maxNewTokens ?? 32,
          eos: tok.id("<eos>"),
          biasFor: probeBias(prompts[chunk[0]].length, opts.latents ?? 0, n, opts.probes ?? {}),
          readImage: true,
          readAttention,
          latents,
        },
      );
      patches.dispose();
      chunk.forEach((i, k) => {
        generated[i] = g.tokens[k];
        tokenAttention[i] = g.imageAttention![k];
        imageHidden[i] = g.imageHidden![k];
        if (g.latentMaps) latentMaps[i] = g.latentMaps[k];
        if (g.latentAttention) latentAttention[i] = g.latentAttention[k];
      });
      bar.tick(chunk.length);
      await breathe();
    }
  }
  bar.stop();
  const format = opts.answerFormat ?? answerFormatOf(data.info);
  const texts = generated.map((g) => tok.decode(g));
  // An imported sample with choices is answered by the choice the model scores highest (the benchmark keeps its own reading).
  const picks = datasetKind(data.info) === "imported" && data.samples.some((s) => s.choices) ? pickChoices(vlm, tok, data, prompts, texts) : null;
  const predictions = data.samples.map((s, i) => {
    const text = texts[i];
    const pick = picks?.[i];
    const { predicted, correct } =
      pick != null ? { predicted: pick, correct: normaliseAnswer(pick) === normaliseAnswer(s.answer) } : scoreAnswer(text, s.answer, format);
    return {
      id: s.id,
      family: s.family,
      template: s.template,
      ...(s.pair !== undefined ? { pair: s.pair } : {}),
      answer: s.answer,
      predicted,
      correct,
      generated: text,
    };
  });
  return { predictions, tokenAttention, imageHidden, ...(latents > 0 ? { latentMaps, latentAttention } : {}) };
}

function group(preds: readonly Prediction[]): GroupAccuracy {
  const g: GroupAccuracy = { count: preds.length, accuracy: preds.length ? preds.filter((p) => p.correct).length / preds.length : 0 };
  if (preds.some((p) => p.pair !== undefined)) {
    const pairs = new Map<string, boolean>();
    for (const p of preds) if (p.pair !== undefined) pairs.set(p.pair, (pairs.get(p.pair) ?? true) && p.correct);
    g.pair_accuracy = pairs.size ? [...pairs.values()].filter(Boolean).length / pairs.size : 0;
  }
  const yesNo = preds.filter((p) => p.answer === "yes" || p.answer === "no");
  if (yesNo.length) {
    g.yes_rate = yesNo.filter((p) => p.predicted === "yes").length / yesNo.length;
    g.yes_truth = yesNo.filter((p) => p.answer === "yes").length / yesNo.length;
  }
  return g;
}

/** Accuracy overall and per family (and pair accuracy on test-pairs), from predictions alone. */
export function summarise(split: string, preds: readonly Prediction[]): EvalResult {
  const families: Record<string, GroupAccuracy> = {};
  for (const f of [...new Set(preds.flatMap((p) => (p.family !== undefined ? [p.family] : [])))].sort())
    families[f] = group(preds.filter((p) => p.family === f));
  return { split, ...group(preds), families };
}

export interface GazedPrediction extends Prediction {
  gaze: GazeMetrics;
}

export interface FullEval {
  result: EvalResult & GazeMetrics & ThoughtsMetrics;
  predictions: GazedPrediction[];
  /** Per sample, per step gaze maps (to compare other models against this one). */
  maps: Float32Array[][];
  /** A model with latent thoughts: per read-out, per sample, per step, where the latents that stand for that step look. */
  thoughtMaps?: Partial<Record<ThoughtsReadout, Float32Array[][]>>;
}

/**
 * Where a model's latent thoughts look, step by step: step t of the T it wrote is the mean map
 * of the latents the trajectory loss assigns to step t (stepForLatent), or of the nearest latent
 * when the model wrote more steps than it has latents. Maps that are not distributions (raw
 * attention) are averaged first and normalised after, as a step's gaze while writing is.
 */
export function thoughtGaze(latentMaps: readonly Float32Array[], steps: number, normalise = false): Float32Array[] {
  const K = latentMaps.length;
  return Array.from({ length: steps }, (_, t) => {
    const mine = latentMaps.filter((_, k) => stepForLatent(k, K, steps) === t);
    const use = mine.length ? mine : [latentMaps[Math.min(K - 1, Math.floor((t * K) / steps))]];
    const n = use[0].length;
    const m = new Float32Array(n);
    for (const p of use) for (let j = 0; j < n; j++) m[j] += p[j] / use.length;
    return normalise ? toDistribution(m) : m;
  });
}

/**
 * Answers, accuracy and the Perception-Gap metrics of one model on one split, all measured the
 * same way from the model's own attention while it writes its rationale. With `teacherMaps`
 * (the teacher's maps on the same samples) the teacher-relative metrics are added.
 */
export async function evaluateModel(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  opts: EvalOptions & { teacherMaps?: Float32Array[][] } = {},
): Promise<FullEval> {
  const { predictions: preds, tokenAttention, latentMaps, latentAttention } = await predictWithReadout(vlm, tok, data, opts);
  const n = numPatches(vlm.config.vision);
  const maps = preds.map((p, i) => gazeMaps(p.generated, tokenAttention[i], n));
  const predictions = preds.map((p, i) => ({ ...p, gaze: sampleGaze(data.samples[i], maps[i], opts.teacherMaps?.[i]) }));
  const result = { ...summarise(data.split, preds), ...meanGaze(predictions.map((p) => p.gaze)) };
  if (!latentMaps || !latentAttention) return { result, predictions, maps };
  const thoughtMaps: Partial<Record<ThoughtsReadout, Float32Array[][]>> = {};
  if (opts.headTrained ?? true) thoughtMaps.head = maps.map((steps, i) => thoughtGaze(latentMaps[i], steps.length));
  thoughtMaps.attention = maps.map((steps, i) => thoughtGaze(latentAttention[i], steps.length, true));
  const score = (m: Float32Array[][]) => meanGaze(m.map((s, i) => sampleGaze(data.samples[i], s, opts.teacherMaps?.[i])));
  const thoughts: ThoughtsMetrics = {
    ...(thoughtMaps.head ? { thoughts_head: score(thoughtMaps.head) } : {}),
    thoughts_attention: score(thoughtMaps.attention),
  };
  return { result: { ...result, ...thoughts }, predictions, maps, thoughtMaps };
}
