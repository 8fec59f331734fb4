import { join } from "node:path";
import { UserError } from "../errors.js";
import type { Sample } from "./manifest.js";
import { readPng, type DecodedImage } from "./png.js";

/**
 * Reads a PNG that must be `size` x `size`. lavit never resizes an image, so another size is a
 * UserError naming the file (`shownAs`, e.g. the flag that gave it), both sizes and whose size
 * it must have (`whose`).
 */
export function readSizedImage(file: string, size: number, opts: { shownAs?: string; whose: string }): DecodedImage {
  const img = readPng(file);
  if (img.width !== size || img.height !== size)
    throw new UserError(`${opts.shownAs ?? file}: image is ${img.width}x${img.height}, expected ${size}x${size} (${opts.whose}; lavit never resizes images)`);
  return img;
}

/**
 * All images of a split, decoded once (64 x 64 x 3 bytes each: 20,000 images are 250 MB).
 * A missing, corrupt or wrongly sized PNG is an error naming the file.
 */
export function loadImages(dir: string, split: string, samples: readonly Sample[], size: number): Uint8Array[] {
  return samples.map((s) => readSizedImage(join(dir, split, s.image), size, { whose: "the dataset's size" }).rgb);
}
