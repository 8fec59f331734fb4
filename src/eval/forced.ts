import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { targetText } from "../data/sample.js";
import { checkPositions, numPatches } from "../model/config.js";
import { promptIds, targetIds } from "../model/sequence.js";
import { forwardText, patchBatch, visionForward, type Vlm } from "../model/vlm.js";
import { makeTextBatch } from "../model/text-batch.js";
import { progress } from "../util/progress.js";
import { breathe } from "../util/interrupt.js";
import type { ForcedAccuracy, ForcedResult } from "./result.js";

export type { ForcedAccuracy, ForcedResult } from "./result.js";

/**
 * Teacher-forced reading of a split: the model is fed the dataset's true rationale and
 * scored token by token. It separates "cannot reason from what it saw" (low answer accuracy
 * given the true rationale) from "does not see" (low rationale token accuracy), which
 * greedy accuracy mixes. Only for models without latent tokens (teacher, base, distill).
 */
export async function evaluateForced(vlm: Vlm, data: LoadedSplit, opts: { batchSize?: number; quiet?: boolean } = {}): Promise<ForcedResult> {
  if (vlm.config.latent) throw new Error("teacher-forced evaluation needs a model without latent tokens");
  const batchSize = opts.batchSize ?? 32;
  const tok = data.tokenizer;
  const n = numPatches(vlm.config.vision);
  const answerWord = tok.id("answer");
  const stepEnd = tok.id(";");
  const perSample: { family?: string; answer: boolean; tokens: number; tokensRight: number; steps: boolean[] }[] = [];
  const bar = progress("teacher-forced", data.samples.length, { quiet: opts.quiet });
  for (let start = 0; start < data.samples.length; start += batchSize) {
    const samples = data.samples.slice(start, start + batchSize);
    const batch = makeTextBatch(
      samples.map((s) => promptIds(tok, n, s.question)),
      samples.map((s) => targetIds(tok, targetText(s))),
      tok.id("<pad>"),
    );
    checkPositions(vlm.config, batch.length, `a batch of ${data.dir} (${data.split}) from sample ${samples[0].id}, prompt and target text,`);
    const predicted = tf.tidy(() => {
      const ids = tf.tensor2d(batch.ids, [batch.batch, batch.length], "int32");
      const patches = patchBatch(
        samples.map((_, i) => data.images[start + i]),
        data.info.size,
        data.info.patch,
      );
      return tf.argMax(forwardText(vlm, ids, visionForward(vlm, patches)), -1).dataSync() as Int32Array;
    });
    samples.forEach((s, b) => {
      let answer = false;
      let tokens = 0;
      let tokensRight = 0;
      let inRationale = true;
      const steps: boolean[] = [];
      let stepRight = true;
      for (let j = b * batch.length; j < (b + 1) * batch.length; j++) {
        if (batch.weights[j] === 0) continue;
        const right = predicted[j] === batch.labels[j];
        if (inRationale) {
          tokens++;
          tokensRight += right ? 1 : 0;
          stepRight &&= right;
          if (batch.labels[j] === stepEnd) {
            steps.push(stepRight);
            stepRight = true;
          }
          if (batch.labels[j] === answerWord) inRationale = false;
        } else {
          answer = right;
          break;
        }
      }
      perSample.push({ family: s.family, answer, tokens, tokensRight, steps });
    });
    bar.tick(samples.length);
    await breathe();
  }
  bar.stop();
  const summarise = (rows: typeof perSample): ForcedAccuracy => ({
    count: rows.length,
    answer_accuracy: rows.filter((r) => r.answer).length / Math.max(1, rows.length),
    rationale_token_accuracy:
      rows.reduce((a, r) => a + r.tokensRight, 0) /
      Math.max(
        1,
        rows.reduce((a, r) => a + r.tokens, 0),
      ),
    step_accuracy:
      rows.reduce((a, r) => a + r.steps.filter(Boolean).length, 0) /
      Math.max(
        1,
        rows.reduce((a, r) => a + r.steps.length, 0),
      ),
    last_step_accuracy: rows.filter((r) => r.steps.at(-1)).length / Math.max(1, rows.length),
    step_accuracy_by_index: Array.from({ length: Math.max(0, ...rows.map((r) => r.steps.length)) }, (_, i) => {
      const having = rows.filter((r) => r.steps.length > i);
      return having.filter((r) => r.steps[i]).length / having.length;
    }),
  });
  const families = [...new Set(perSample.flatMap((r) => (r.family !== undefined ? [r.family] : [])))].sort();
  return {
    split: data.split,
    ...summarise(perSample),
    families: Object.fromEntries(families.map((f) => [f, summarise(perSample.filter((r) => r.family === f))])),
  };
}
