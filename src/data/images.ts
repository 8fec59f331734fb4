import { join } from "node:path";
import { UserError } from "../errors.js";
import type { Sample } from "./manifest.js";
import { readPng } from "./png.js";

/**
 * All images of a split, decoded once (64 x 64 x 3 bytes each: 20,000 images are 250 MB).
 * A missing, corrupt or wrongly sized PNG is an error naming the file.
 */
export function loadImages(dir: string, split: string, samples: readonly Sample[], size: number): Uint8Array[] {
  return samples.map((s) => {
    const file = join(dir, split, s.image);
    const img = readPng(file);
    if (img.width !== size || img.height !== size) throw new UserError(`${file}: image is ${img.width}x${img.height}, expected ${size}x${size} (the dataset's size)`);
    return img.rgb;
  });
}
