import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import type { DecodedImage } from "../io/image.js";
import { readJpeg } from "../io/jpeg.js";
import { readPng } from "./png.js";

// The one place reports read an image of any supported format (PNG or JPEG, any size).
export { imageSize } from "../io/jpeg.js";

/** Reads a PNG or a JPEG (by its first bytes, not its name). */
export function readImageAny(path: string): DecodedImage {
  let head: Buffer;
  try {
    head = readRegularFile(path).subarray(0, 4);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`image ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (head[0] === 0xff && head[1] === 0xd8) return readJpeg(path);
  if (head[0] === 0x89 && head[1] === 0x50) return readPng(path);
  throw new UserError(`image ${path}: neither a PNG nor a JPEG`);
}
