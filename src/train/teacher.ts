import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { targetText } from "../data/sample.js";
import { numPatches, type VlmConfig } from "../model/config.js";
import { crossEntropy } from "../model/nn.js";
import { loadWeightsInto, saveModel } from "../model/checkpoint.js";
import { promptIds, targetIds } from "../model/sequence.js";
import { decoderForward, embedWithImage, lmLogits, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { makeTextBatch, patchBatch } from "./batch.js";
import type { TrainTask } from "./trainer.js";
import { join } from "node:path";

/** Image + text forward pass to logits [B*T, V] for a teacher-forced batch. */
export function teacherForcedLogits(vlm: Vlm, patches: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  const image = projectVision(vlm, visionForward(vlm, patches));
  const { hidden } = decoderForward(vlm, embedWithImage(vlm, ids, image));
  return tf.reshape(lmLogits(vlm, hidden), [-1, vlm.config.decoder.vocab_size]) as tf.Tensor2D;
}

/** Supervised training on rationale + answer (the teacher's task, and the distill baseline's). */
export function teacherTask(vlm: Vlm, data: LoadedSplit, kind = "teacher", targets?: readonly string[]): TrainTask {
  const tok = data.tokenizer;
  const n = numPatches(vlm.config.vision);
  const prompts = data.samples.map((s) => promptIds(tok, n, s.question));
  const targetSeqs = data.samples.map((s, i) => targetIds(tok, targets ? targets[i] : targetText(s)));
  const pad = tok.id("<pad>");
  return {
    kind,
    settings: { data: data.dir, split: data.split, samples: data.samples.length },
    store: vlm.store,
    numSamples: data.samples.length,
    loss(indices) {
      const batch = makeTextBatch(indices.map((i) => prompts[i]), indices.map((i) => targetSeqs[i]), pad);
      const patches = patchBatch(indices.map((i) => data.images[i]), data.info.size, data.info.patch);
      const ids = tf.tensor2d(batch.ids, [batch.batch, batch.length], "int32");
      const logits = teacherForcedLogits(vlm, patches, ids);
      const ce = crossEntropy(logits, tf.tensor1d(batch.labels, "int32"), tf.tensor1d(batch.weights));
      return { total: ce, parts: { loss_ce: ce } };
    },
    saveModel: (dir, step) => saveModel(dir, vlm.config as VlmConfig, vlm.store, tok, step),
    loadModel: (dir) => void loadWeightsInto(vlm.store, join(dir, "model.safetensors")),
  };
}
