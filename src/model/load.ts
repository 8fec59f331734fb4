import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { UserError } from "../errors.js";
import { addAuxHeads } from "./aux-heads.js";
import { loadWeightsInto, readModelFolder } from "./checkpoint.js";
import { buildVlm, type Vlm } from "./vlm.js";
import { trajHeadTrained } from "./training-record.js";

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
  if (data.tokenizer.vocab.join(" ") !== folder.tokenizer.vocab.join(" "))
    throw new UserError(`${dir}/tokenizer.json differs from ${dataDir}/tokenizer.json: the model was trained on another vocabulary`);
  if (folder.config.vision.image_size !== data.info.size || folder.config.vision.patch_size !== data.info.patch)
    throw new UserError(
      `${dir}: the model takes ${folder.config.vision.image_size}px images in ${folder.config.vision.patch_size}px patches, the dataset has ${data.info.size}/${data.info.patch}`,
    );
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

/** Runs `fn` on a loaded model and frees the model's tensors, whatever happens. */
export function withModel<M extends { vlm: Vlm }, R>(m: M, fn: (m: M) => R): R {
  try {
    return fn(m);
  } finally {
    m.vlm.dispose();
  }
}
