import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { UserError } from "../errors.js";
import { quoteInput } from "../util/errors-text.js";
import { addAuxHeads } from "./aux-heads.js";
import { loadWeightsInto, readModelFolder } from "./checkpoint.js";
import { buildVlm, type Vlm } from "./vlm.js";
import { trainedSetting } from "./training-record.js";
import { DATASET_FORMAT } from "../data/manifest.js";
import { trajHeadTrained } from "./training-record.js";
import { checkSplitQuestions } from "./sequence.js";

export interface LoadedModel {
  vlm: Vlm;
  tokenizer: Tokenizer;
  latents: number;
  /** A model with latents: whether its trajectory head was trained (see trajHeadTrained). */
  headTrained: boolean;
}

/** A model folder loaded for a dataset, with the checks that keep the two compatible. */
export function loadModelFor(dir: string, data: LoadedSplit, dataDir: string, opts: { auxHeads?: boolean } = {}): LoadedModel {
  const folder = readModelFolder(dir);
  if (data.tokenizer.vocab.join(" ") !== folder.tokenizer.vocab.join(" ")) checkVocabulary(dir, folder.tokenizer, data, dataDir);
  if (folder.config.vision.image_size !== data.info.size || folder.config.vision.patch_size !== data.info.patch)
    throw new UserError(
      `${dir}: the model takes ${folder.config.vision.image_size}px images in ${folder.config.vision.patch_size}px patches, the dataset has ${data.info.size}/${data.info.patch}`,
    );
  const trained = trainedSetting(dir);
  const setting = data.info.format === DATASET_FORMAT ? (data.info.setting ?? "default") : null;
  if (trained && setting && trained !== setting)
    throw new UserError(
      `${dir} is a student of the benchmark's ${trained} setting (its trainer_state.json), but ${dataDir} holds the ${setting} setting (its dataset.json): evaluate it on ${trained} data, or train a student on ${setting} data`,
    );
  checkSplitQuestions(folder.config, data, folder.config.latent?.num_latents ?? 0);
  const vlm = buildVlm(folder.config, 0);
  if (opts.auxHeads) addAuxHeads(vlm);
  try {
    loadWeightsInto(vlm.store, folder.weights);
  } catch (e) {
    vlm.dispose();
    if (opts.auxHeads && e instanceof UserError && /missing tensor aux\./.test(e.message))
      throw new UserError(`${e.message}: --vision-heads needs a teacher or student base trained with --aux-patch > 0`);
    throw e;
  }
  const latents = folder.config.latent?.num_latents ?? 0;
  return { vlm, tokenizer: folder.tokenizer, latents, headTrained: latents > 0 && trajHeadTrained(dir) };
}

/**
 * A model whose vocabulary is not the dataset's. An open one (a model trained on imported
 * data) reads the words it lacks as <unk>, and the stages count them. A closed one (the
 * shipped models, anything trained on the benchmark) refuses data with words it does not know.
 */
function checkVocabulary(dir: string, tok: Tokenizer, data: LoadedSplit, dataDir: string): void {
  if (tok.open) return;
  const unknown = [...new Set(data.samples.flatMap((s) => tok.unknownWords(s.question)))];
  if (unknown.length)
    throw new UserError(
      `${dir} knows only the words it was trained on (the shipped models: the benchmark's ${tok.size} words), and ${dataDir} (${data.split}) asks questions with ${unknown.length} it does not know (${unknown
        .slice(0, 5)
        .map((w) => quoteInput(w))
        .join(", ")}${unknown.length > 5 ? ", ..." : ""}): train your own teacher on this data (\`lavit train teacher --data ${dataDir}\`)`,
    );
  throw new UserError(`${dir}/tokenizer.json differs from ${dataDir}/tokenizer.json: the model was trained on another vocabulary`);
}

/** Runs `fn` on a loaded model and frees the model's tensors once it is done (settled, for an async `fn`), whatever happens. */
export function withModel<M extends { vlm: Vlm }, R>(m: M, fn: (m: M) => R): R {
  let r: R;
  try {
    r = fn(m);
  } catch (e) {
    m.vlm.dispose();
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => m.vlm.dispose()) as R;
  m.vlm.dispose();
  return r;
}
