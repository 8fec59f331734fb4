import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { targetText } from "../data/sample.js";
import { checkPositions, numPatches, type VlmConfig } from "../model/config.js";
import { crossEntropy, linear } from "../model/nn.js";
import { addAuxHeads, AUX_HEADS } from "../model/aux-heads.js";
import { MaskCache } from "../data/shapes.js";
import { patchLabels, type PatchLabels } from "../data/patch-labels.js";
import { loadWeightsInto, saveModel } from "../model/checkpoint.js";
import { checkSplitQuestions, longestSequence, promptIds, targetIds } from "../model/sequence.js";
import { decoderForward, embedWithImage, forwardText, lmLogits, projectVision, type Vlm } from "../model/vlm.js";
import { groundBatch, groundingLoss, groundSteps, headMeans } from "./grounding.js";
import { makeTextBatch } from "../model/text-batch.js";
import { weighAnswers } from "./batch.js";
import { cachedFeatures, liveFeatures } from "./image-features.js";
import { isTowerParam, isVisionParam } from "../model/param-groups.js";
import type { LossParts, TrainTask } from "./trainer.js";
import { join } from "node:path";

/**
 * Supervised training on rationale + answer (the teacher's task, and the distill baseline's).
 * `auxPatchWeight` > 0 (the teacher and the student base, never a student) adds per-patch
 * classification on the vision tower's output: a dense signal that teaches it to see in
 * hundreds of steps instead of thousands. Its heads are saved with the model and ignored by
 * everything else.
 * `answerWeight` scales the loss on the answer word against the other target tokens: the
 * rationale is easy to copy from the question, so with equal weights the one token that
 * needs the image gets about a tenth of the gradient.
 */
export interface TeacherTaskOptions {
  /** The run's kind in its settings ("teacher", "student-base", "student-distill"). */
  kind?: string;
  /** Target text per sample (default: the sample's rationale and answer). */
  targets?: readonly string[];
  /** false: the prompt holds the image and no question (the student base describes scenes). */
  askQuestion?: boolean;
  auxPatchWeight?: number;
  answerWeight?: number;
  /**
   * Weight of the grounding term (0 = off): each rationale step's attention to the image, read as
   * extraction reads it, pulled onto the step's ground-truth patches (see grounding.ts).
   */
  groundAttention?: number;
  /** The grounding term's hinge: steps putting at least this mass on their patches cost nothing (1 = plain -log mass). */
  groundTarget?: number;
  /**
   * Read the grounding term's probabilities through the tfjs formulation, every head's, as before
   * the fused kernel returned them averaged (the same losses and weights, slower: for the
   * benchmark's comparison and the tests).
   */
  unfusedGrounding?: boolean;
  /** Keep the vision tower as it is (a student started from a base): no gradient, and its features cached. */
  frozenVision?: boolean;
  /**
   * Train the vision tower alone, on the per-patch heads (no text, the decoder left as it is):
   * a tower-only step costs a fraction of a full one, so a tower learns to tell shapes apart
   * before the decoder has anything to read.
   */
  visionOnly?: boolean;
}

export function teacherTask(vlm: Vlm, data: LoadedSplit, options: TeacherTaskOptions = {}): TrainTask {
  const {
    kind = "teacher",
    targets,
    askQuestion = true,
    auxPatchWeight = 0,
    answerWeight = 1,
    frozenVision = false,
    groundAttention = 0,
    groundTarget = 1,
    unfusedGrounding = false,
    visionOnly = false,
  } = options;
  if (visionOnly && !(auxPatchWeight > 0)) throw new Error("a vision-only run trains the per-patch heads: it needs an aux-patch weight above 0");
  if (visionOnly && groundAttention > 0) throw new Error("a vision-only run has no text: the grounding term cannot be used with it");
  if (groundAttention > 0 && (targets || !askQuestion)) throw new Error("the grounding term needs the rationale targets and the question prompt");
  if (frozenVision && auxPatchWeight > 0) throw new Error("the per-patch heads train the vision tower: they cannot be used with a frozen one");
  const tok = data.tokenizer;
  const n = numPatches(vlm.config.vision);
  if (askQuestion && !visionOnly) checkSplitQuestions(vlm.config, data, 0);
  // Token ids, grounding steps and per-patch labels are made per batch or packed flat: tens of
  // thousands of small arrays held for a whole run made every major GC mark them, which cost
  // more time per step than making a batch's 32 again.
  const promptOf = (i: number) => promptIds(tok, n, askQuestion ? data.samples[i].question : "");
  const targetOf = (i: number) => targetIds(tok, targets ? targets[i] : targetText(data.samples[i]));
  if (!visionOnly) {
    const longest = longestSequence(data.samples.length, promptOf, targetOf);
    checkPositions(vlm.config, longest.length, `sample ${data.samples[longest.index]?.id} of ${data.dir} (${data.split}), prompt and target text,`);
  }
  const pad = tok.id("<pad>");
  const answerWord = tok.id("answer");
  const aux = auxPatchWeight > 0 ? packedAuxLabels(vlm, data) : null;
  // A sample without rationale (imported) has one step, the answer's, looking at its evidence.
  const stepsOf = (i: number, promptLength: number) => {
    const s = data.samples[i];
    return groundSteps(targetText(s).split(" ").filter(Boolean), promptLength, s.rationale.length ? s.rationale : [{ patches: s.evidence ?? [] }]);
  };
  const imageFeatures = frozenVision ? cachedFeatures(vlm, data) : liveFeatures(vlm, data);
  const auxLoss = (indices: readonly number[], features: tf.Tensor3D): tf.Scalar => {
    const flat = tf.reshape(features, [-1, vlm.config.vision.hidden_size]);
    const pick = (labels: Int32Array) => {
      const out = new Int32Array(indices.length * n);
      indices.forEach((i, b) => out.set(labels.subarray(i * n, (i + 1) * n), b * n));
      return tf.tensor1d(out, "int32");
    };
    const head = (name: string, labels: Int32Array, labelledWeight: number) => {
      const targets = pick(labels);
      const weights =
        labelledWeight === 1 ? undefined : (tf.where(tf.greater(targets, 0), tf.fill(targets.shape, labelledWeight), tf.fill(targets.shape, 1)) as tf.Tensor1D);
      return crossEntropy(linear(flat, vlm.store, name) as tf.Tensor2D, targets, weights);
    };
    return tf.addN(AUX_HEADS.map(([name, , key, labelledWeight]) => head(name, aux![key], labelledWeight))) as tf.Scalar;
  };
  return {
    kind,
    settings: { data: data.dir, split: data.split, samples: data.samples.length },
    store: vlm.store,
    numSamples: data.samples.length,
    loss(indices): LossParts {
      if (visionOnly) {
        const lossAux = auxLoss(indices, imageFeatures.batch(indices));
        return { total: tf.mul(lossAux, auxPatchWeight) as tf.Scalar, parts: { loss_aux: lossAux } };
      }
      const prompts = indices.map(promptOf);
      const batch = makeTextBatch(prompts, indices.map(targetOf), pad);
      const ids = tf.tensor2d(batch.ids, [batch.batch, batch.length], "int32");
      const features = imageFeatures.batch(indices);
      let logits3: tf.Tensor3D;
      let ground: tf.Scalar | null = null;
      if (groundAttention > 0) {
        const inputs = embedWithImage(vlm, ids, projectVision(vlm, features));
        const out = decoderForward(vlm, inputs, unfusedGrounding ? { returnProbs: true } : { returnMeanProbs: true });
        logits3 = lmLogits(vlm, out.hidden) as tf.Tensor3D;
        ground = groundingLoss(
          unfusedGrounding ? headMeans(out.probs!) : out.meanProbs!,
          groundBatch(
            indices.map((i, b) => stepsOf(i, prompts[b].length)),
            batch.length,
            n,
          ),
          n,
          groundTarget,
        );
      } else {
        logits3 = forwardText(vlm, ids, features);
      }
      const logits = tf.reshape(logits3, [-1, vlm.config.decoder.vocab_size]) as tf.Tensor2D;
      weighAnswers(batch, answerWord, answerWeight);
      const ce = crossEntropy(logits, tf.tensor1d(batch.labels, "int32"), tf.tensor1d(batch.weights));
      const parts: Record<string, tf.Scalar> = { loss_ce: ce };
      let total: tf.Scalar = ce;
      if (ground) {
        parts.loss_ground = ground;
        total = tf.add(total, tf.mul(ground, groundAttention)) as tf.Scalar;
      }
      if (!aux) return { total, parts };
      const lossAux = auxLoss(indices, features);
      parts.loss_aux = lossAux;
      return { total: tf.add(total, tf.mul(lossAux, auxPatchWeight)) as tf.Scalar, parts };
    },
    ...(frozenVision ? { frozen: isVisionParam } : visionOnly ? { frozen: (name: string) => !isTowerParam(name) } : {}),
    prepare: imageFeatures.prepare,
    saveModel: (dir, step) => saveModel(dir, vlm.config as VlmConfig, vlm.store, tok, step),
    loadModel: (dir) => void loadWeightsInto(vlm.store, join(dir, "model.safetensors")),
  };
}

/** Every sample's per-patch labels, one flat [samples x patches] array per kind. */
function packedAuxLabels(vlm: Vlm, data: LoadedSplit): Record<keyof PatchLabels, Int32Array> {
  addAuxHeads(vlm);
  const masks = new MaskCache(data.info.size);
  const n = numPatches(vlm.config.vision);
  const packed = Object.fromEntries(AUX_HEADS.map(([, , key]) => [key, new Int32Array(data.samples.length * n)])) as Record<keyof PatchLabels, Int32Array>;
  data.samples.forEach((s, i) => {
    const labels = patchLabels(s, data.info.size, data.info.patch, masks);
    for (const [, , key] of AUX_HEADS) packed[key].set(labels[key], i * n);
  });
  return packed;
}
