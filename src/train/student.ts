import type { TrajSource, TrajTarget, VtopTarget } from "./student-options.js";
import { join } from "node:path";
import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { checkPositions, numPatches } from "../model/config.js";
import { loadWeightsInto, saveModel } from "../model/checkpoint.js";
import { crossEntropy } from "../model/nn.js";
import { checkSplitQuestions, longestSequence, promptIds, stepForLatent, targetIds } from "../model/sequence.js";
import { decoderForward, embedWithImage, IMAGE_START, lmLogits, projectVision, trajHeadLogits, vtopHead, type Vlm } from "../model/vlm.js";
import { layerHeadMean } from "../model/readout.js";
import { resizeSquare, type SampleSignals } from "../signals/layout.js";
import { checkSample } from "../signals/sample-check.js";
import { fnv1a } from "../util/hash.js";
import { LruCache } from "../util/lru.js";
import { Rng } from "../util/rng.js";
import { makeTextBatch } from "../model/text-batch.js";
import { weighAnswers } from "./batch.js";
import { cachedFeatures, liveFeatures } from "./image-features.js";
import { isVisionParam } from "../model/param-groups.js";
import { gateBias, gateValue, isTwoStage, type GateConfig } from "./gate.js";
import { stageBoundary, twoStageLr } from "./two-stage.js";
import { cosineLoss, klLoss, sparsifyTopk } from "./losses.js";
import type { TrainOptions, TrainTask } from "./trainer.js";

export type { TrajSource, TrajTarget, VtopTarget } from "./student-options.js";

export interface LavitSettings {
  latents: number;
  wVtop: number;
  wTraj: number;
  vtopTarget: VtopTarget;
  /** Sparsify the teacher's maps to their top k (0: keep them whole). */
  trajTopk: number;
  trajSource: TrajSource;
  trajTarget?: TrajTarget;
  gate: GateConfig;
  /** With a two-stage gate: stage 2's learning rate and optimiser reset (absent: one schedule over the run). */
  stages?: { lrRatio: number; resetOptimizer: boolean };
  /** Loss weight of the answer word against the other target tokens (as the teacher's --answer-weight). */
  answerWeight?: number;
}

/**
 * The signals a student trains on, one per training sample in the data's order, read on demand:
 * a root of any size is never held in memory at once.
 */
export interface StudentSignals {
  readonly size: number;
  /** V_top's width (every sample's; a sample of another width is refused when read). */
  readonly vTopDim: number;
  /** Sample i's target text (no file is read). */
  target(i: number): string;
  /** Sample i's maps and V_top: its files are read here. */
  read(i: number): SampleSignals;
}

/** Signals already in memory (small folders, tests), as a StudentSignals. */
export function signalsInMemory(samples: readonly SampleSignals[]): StudentSignals {
  let width: number | undefined;
  for (const [i, sample] of samples.entries()) width = checkSample(sample, `signals in memory: sample ${i}`, width);
  return {
    size: samples.length,
    vTopDim: samples[0].vTop.dim,
    target: (i) => samples[i].result.ground_truth_enriched,
    read: (i) => samples[i],
  };
}

/**
 * Bytes of latent targets kept, least recently used dropped first: a dataset of the built-in
 * size fits whole (a few KB a sample), so its signal files are read once, not on most steps
 * (with a few batches' worth, a step read 25 of its 32 samples' files again), and a large
 * root's memory stays bounded.
 */
export const LATENT_CACHE_BYTES = 64 << 20;

/** Per-sample targets: one trajectory and one V_top vector per latent. */
interface LatentTargets {
  traj: Float32Array; // [K * N]
  vtop: Float32Array; // [K * dT]
}

/** A step map (sum 1) moved to a grid of `rows` patches, still summing to 1. */
function onGrid(p: Float32Array, rows: number): Float32Array {
  if (p.length === rows) return p;
  const r = resizeSquare(p, Math.round(Math.sqrt(p.length)), Math.round(Math.sqrt(rows)));
  const sum = r.reduce((a, b) => a + b, 0);
  return r.map((v) => v / sum);
}

export function latentTargets(sig: SampleSignals, s: LavitSettings): LatentTargets {
  const K = s.latents;
  const n = sig.steps[0].length;
  const { rows, dim, data } = sig.vTop;
  const traj = new Float32Array(K * n);
  const vtop = new Float32Array(K * dim);
  for (let k = 0; k < K; k++) {
    const t = s.trajTarget === "first-last" ? 0 : stepForLatent(k, K, sig.steps.length);
    traj.set(s.trajTopk > 0 ? sparsifyTopk(sig.steps[t], s.trajTopk) : sig.steps[t], k * n);
    // Pooled: the teacher's visual semantics where the teacher looked at this step.
    // The step map lives on the student's grid, V_top rows on the teacher's: pool on V_top's.
    const weights = s.vtopTarget === "pooled" ? onGrid(sig.steps[t], rows) : new Float32Array(rows).fill(1 / rows);
    for (let r = 0; r < rows; r++) {
      const w = weights[r];
      if (!w) continue;
      for (let j = 0; j < dim; j++) vtop[k * dim + j] += w * data[r * dim + j];
    }
  }
  return { traj, vtop };
}

/**
 * The LaViT student objective on one batch: CE on the target text (everything after the
 * latents) + wVtop * (1 - cos) between the V_top head on latent k and its target + wTraj *
 * KL(teacher step || student step) for latent k, with the sensory gate in the attention mask.
 */
export function lavitTask(
  vlm: Vlm,
  data: LoadedSplit,
  signals: StudentSignals,
  s: LavitSettings,
  totalSteps: number,
  seed: number,
  settings: Record<string, string | number | boolean | null>,
  frozenVision = false,
): TrainTask {
  const tok = data.tokenizer;
  const n = numPatches(vlm.config.vision);
  const K = s.latents;
  checkSplitQuestions(vlm.config, data, K);
  // Token ids are made per batch, as in the teacher's task: an imported set's tens of thousands
  // of small arrays, held for a whole run, would make every major GC mark them.
  const promptOf = (i: number) => promptIds(tok, n, data.samples[i].question, K);
  const targetOf = (i: number) => targetIds(tok, signals.target(i));
  const longest = longestSequence(data.samples.length, promptOf, targetOf);
  checkPositions(
    vlm.config,
    longest.length,
    `sample ${data.samples[longest.index]?.id} of ${data.dir} (${data.split}), prompt with ${K} latents and target text,`,
  );
  const dT = signals.vTopDim;
  const cache = new LruCache<number, LatentTargets>(Math.max(1, Math.floor(LATENT_CACHE_BYTES / (4 * K * (n + dT)))));
  const latent = (i: number): LatentTargets =>
    cache.get(i, () => {
      // A sample of another width than the first's is refused by the reader (sample-check.ts).
      return latentTargets(signals.read(i), s);
    });
  const pad = tok.id("<pad>");
  const answerWord = tok.id("answer");
  const questionStart = IMAGE_START + n + 1;
  const imageFeatures = frozenVision ? cachedFeatures(vlm, data) : liveFeatures(vlm, data);
  // The public code's bottleneck also shuts the <vision_end> row, the first after the image.
  const promptGateStart = s.gate.schedule === "two-stage" ? IMAGE_START + n : questionStart;
  // Which latents each loss trains: all, or the last alone (the public code's single aligned token).
  const lastLatent = (b: number) =>
    tf.tensor2d(
      Array.from({ length: b * K }, (_, i) => (i % K === K - 1 ? 1 : 0)),
      [b, K],
    );
  const vtopLatents = s.vtopTarget === "mean-last";
  const trajLatents = s.trajTarget === "first-last";
  const boundary = stageBoundary(s.gate.openAt, totalSteps);
  const staged = isTwoStage(s.gate.schedule) && s.stages && boundary > 0 && boundary < totalSteps ? { ...s.stages, boundary } : null;
  return {
    kind: "student-lavit",
    settings,
    store: vlm.store,
    numSamples: data.samples.length,
    stepMetrics: (step) => ({ gate: gateValue(s.gate, step, totalSteps) }),
    loss(indices, step) {
      const g = gateValue(s.gate, step, totalSteps);
      const batch = makeTextBatch(indices.map(promptOf), indices.map(targetOf), pad);
      const b = batch.batch;
      const t = batch.length;
      const rng = new Rng(fnv1a(`gate/${seed}/${step}`));
      const gated = indices.map((_, bi) => {
        const p = batch.promptLengths[bi];
        const rows: number[] = [];
        // Target rows: every position from the first target token on (the last latent's
        // output predicts it, and stays ungated: latents always see the image).
        for (let r = p; r < t; r++) rows.push(r);
        if (s.gate.gatePrompt) for (let r = promptGateStart; r < p - K; r++) rows.push(r);
        return { rows };
      });
      const bias = gateBias(gated, t, IMAGE_START, n, g, s.gate.mode, rng);
      const sel = new Float32Array(b * K * t);
      indices.forEach((_, bi) => {
        for (let k = 0; k < K; k++) sel[(bi * K + k) * t + batch.promptLengths[bi] - K + k] = 1;
      });
      const trajT = new Float32Array(b * K * n);
      const vtopT = new Float32Array(b * K * dT);
      indices.forEach((i, bi) => {
        const l = latent(i);
        trajT.set(l.traj, bi * K * n);
        vtopT.set(l.vtop, bi * K * dT);
      });
      const ids = tf.tensor2d(batch.ids, [b, t], "int32");
      const image = projectVision(vlm, imageFeatures.batch(indices));
      const out = decoderForward(vlm, embedWithImage(vlm, ids, image), { bias: bias ?? undefined, returnProbs: s.trajSource === "attention" && s.wTraj > 0 });
      const logits = tf.reshape(lmLogits(vlm, out.hidden), [-1, vlm.config.decoder.vocab_size]) as tf.Tensor2D;
      weighAnswers(batch, answerWord, s.answerWeight);
      const ce = crossEntropy(logits, tf.tensor1d(batch.labels, "int32"), tf.tensor1d(batch.weights));
      const selT = tf.tensor3d(sel, [b, K, t]);
      const hLat = tf.matMul(selT, out.hidden) as tf.Tensor3D;
      const parts: Record<string, tf.Scalar> = { loss_ce: ce };
      // The public README's reading of the bottleneck stage: visual losses only (its code trains CE too: `two-stage`).
      let total: tf.Scalar = s.gate.schedule === "two-stage-visual-only" && g < 1 ? tf.mul(ce, 0) : ce;
      if (s.wVtop > 0) {
        const lv = cosineLoss(vtopHead(vlm, hLat), tf.tensor3d(vtopT, [b, K, dT]), vtopLatents ? lastLatent(b) : undefined);
        parts.loss_vtop = lv;
        total = tf.add(total, tf.mul(lv, s.wVtop));
      }
      if (s.wTraj > 0) {
        let logq: tf.Tensor;
        if (s.trajSource === "head") {
          logq = trajHeadLogits(vlm, hLat, tf.slice(out.hidden, [0, IMAGE_START, 0], [b, n, -1]) as tf.Tensor3D);
        } else {
          const mean = layerHeadMean(out.probs!); // [B, T, T]
          const rows = tf.slice(tf.matMul(selT, mean), [0, 0, IMAGE_START], [b, K, n]);
          logq = tf.log(tf.maximum(tf.div(rows, tf.sum(rows, -1, true)), 1e-12));
        }
        const lt = klLoss(tf.tensor3d(trajT, [b, K, n]), logq, trajLatents ? lastLatent(b) : undefined);
        parts.loss_traj = lt;
        total = tf.add(total, tf.mul(lt, s.wTraj));
      }
      return { total, parts };
    },
    ...(frozenVision ? { frozen: isVisionParam } : {}),
    ...(staged
      ? { lrAt: (step: number, o: TrainOptions) => twoStageLr(step, o, staged), resetOptimizerAt: staged.resetOptimizer ? [staged.boundary] : [] }
      : {}),
    prepare: imageFeatures.prepare,
    saveModel: (dir, step) => saveModel(dir, vlm.config, vlm.store, tok, step),
    loadModel: (dir) => void loadWeightsInto(vlm.store, join(dir, "model.safetensors")),
  };
}
