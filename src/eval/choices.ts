import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { checkPositions } from "../model/config.js";
import { forwardText, patchBatch, visionForward, type Vlm } from "../model/vlm.js";

/** The generated words up to the answer marker after the rationale (all of them, before <eos>, when there is none). */
function rationaleWords(generated: string): string[] {
  const words = generated.trim().split(/\s+/).filter(Boolean);
  const eos = words.indexOf("<eos>");
  const body = eos >= 0 ? words.slice(0, eos) : words;
  const marker = body.indexOf("answer", body.lastIndexOf(";") + 1);
  return marker >= 0 ? body.slice(0, marker) : body;
}

/**
 * Choices scoring: after the model's own rationale and the answer marker, the choice whose
 * tokens have the highest summed log-probability (one teacher-forced pass per choice). Null
 * for a sample without choices.
 */
export function pickChoices(vlm: Vlm, tok: Tokenizer, data: LoadedSplit, prompts: readonly number[][], generated: readonly string[]): (string | null)[] {
  const answer = tok.id("answer");
  const pad = tok.id("<pad>");
  return data.samples.map((s, i) => {
    const choices = s.choices;
    if (!choices?.length) return null;
    const prefix = [...prompts[i], ...tok.encode(rationaleWords(generated[i]).join(" "), "generated text"), answer];
    const options = choices.map((c) => tok.encode(c, "choice"));
    const length = prefix.length + Math.max(...options.map((o) => o.length));
    checkPositions(vlm.config, length, `sample ${s.id} of ${data.dir} (${data.split}), its rationale and longest choice,`);
    const ids = options.flatMap((o) => [...prefix, ...o, ...new Array<number>(length - prefix.length - o.length).fill(pad)]);
    const scores = tf.tidy(() => {
      const features = visionForward(vlm, patchBatch([data.images[i]], data.info.size, data.info.patch));
      const tiled = tf.tile(features, [choices.length, 1, 1]) as tf.Tensor3D;
      const logp = tf.logSoftmax(forwardText(vlm, tf.tensor2d(ids, [choices.length, length], "int32"), tiled));
      return logp.arraySync() as number[][][];
    });
    // Token j of a choice is predicted at the position before it.
    const total = options.map((o, c) => o.reduce((sum, id, j) => sum + scores[c][prefix.length - 1 + j][id], 0));
    return choices[total.indexOf(Math.max(...total))];
  });
}
