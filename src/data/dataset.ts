import { join } from "node:path";
import { readDatasetInfo, readManifest, checkSplit, manifestPath, type DatasetInfo, type Sample } from "./manifest.js";
import { loadImages, type ImageReadOptions } from "./images.js";
import { UserError } from "../errors.js";
import { Tokenizer } from "./tokenizer.js";

export interface LoadedSplit {
  dir: string;
  split: string;
  info: DatasetInfo;
  samples: Sample[];
  images: Uint8Array[];
  tokenizer: Tokenizer;
}

/**
 * A split with its decoded images and the dataset's tokenizer, validated on the way in. An
 * empty split is an error: every stage would otherwise report on, or train on, nothing.
 */
export function loadSplit(dir: string, split: string, limit?: number, opts: ImageReadOptions = {}): LoadedSplit {
  checkSplit(split);
  const info = readDatasetInfo(dir);
  let samples = readManifest(dir, split);
  if (samples.length === 0)
    throw new UserError(`${manifestPath(dir, split)}: split ${split} holds no samples; choose another --split or regenerate the dataset with samples in it`);
  if (limit !== undefined) samples = samples.slice(0, limit);
  const tokenizer = Tokenizer.read(join(dir, "tokenizer.json"));
  return { dir, split, info, samples, images: loadImages(dir, split, samples, info.size, opts), tokenizer };
}
