import { join } from "node:path";
import { readDatasetInfo, readManifest, checkSplit, type DatasetInfo, type Sample } from "./manifest.js";
import { loadImages } from "./images.js";
import { Tokenizer } from "./tokenizer.js";

export interface LoadedSplit {
  dir: string;
  split: string;
  info: DatasetInfo;
  samples: Sample[];
  images: Uint8Array[];
  tokenizer: Tokenizer;
}

/** A split with its decoded images and the dataset's tokenizer, validated on the way in. */
export function loadSplit(dir: string, split: string, limit?: number): LoadedSplit {
  checkSplit(split);
  const info = readDatasetInfo(dir);
  let samples = readManifest(dir, split);
  if (limit !== undefined) samples = samples.slice(0, limit);
  const tokenizer = Tokenizer.read(join(dir, "tokenizer.json"));
  return { dir, split, info, samples, images: loadImages(dir, split, samples, info.size), tokenizer };
}
