import { isAbsolute, join, resolve } from "node:path";
import type { Sample } from "./manifest.js";
import { UserError } from "../errors.js";
import { readPng, type DecodedImage } from "./png.js";
import { assertInsideRoot } from "../util/read-guard.js";
import { checkImageSize } from "../util/limits.js";

export interface ImageReadOptions {
  /** Read manifest images that resolve outside the dataset folder (--allow-outside-root). */
  allowOutsideRoot?: boolean;
}

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
 * A missing, corrupt or wrongly sized PNG is an error naming the file; so is an image path
 * leading outside the dataset folder (`../../other/img.png`, or a symlink out), unless allowed.
 */
export function loadImages(dir: string, split: string, samples: readonly Sample[], size: number, opts: ImageReadOptions = {}): Uint8Array[] {
  checkImageSize(size, size, samples.length, `${join(dir, "dataset.json")}: size ${size}`);
  const manifest = join(dir, split, "manifest.jsonl");
  return samples.map((s) => {
    const file = assertInsideRoot(
      dir,
      isAbsolute(s.image) ? s.image : resolve(dir, split, s.image),
      `${manifest}: sample ${s.id}: image "${s.image}"`,
      opts.allowOutsideRoot,
    );
    return readSizedImage(file, size, { whose: "the dataset's size" }).rgb;
  });
}
