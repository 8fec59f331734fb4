import { readFileSync } from "node:fs";
import jpeg from "jpeg-js";
import { UserError } from "../errors.js";
import { readPng, type DecodedImage } from "../data/png.js";

/** Limits against decompression bombs: far above any dataset image (Visual-CoT's are a few MP). */
const MAX_MEGAPIXELS = 100;
const MAX_MEMORY_MB = 2048;

/**
 * Reads a JPEG of any size as RGB bytes (jpeg-js: baseline and progressive; CMYK/YCCK with an
 * Adobe marker are converted to RGB by the decoder). A file it cannot decode is a UserError
 * naming the file.
 */
export function readJpeg(path: string): DecodedImage {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`image ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: MAX_MEMORY_MB });
  } catch (e) {
    throw new UserError(`image ${path}: not a JPEG lavit can decode (${String((e as Error).message ?? e).slice(0, 120)})`);
  }
  const { width, height, data } = img;
  if (!width || !height || data.length !== width * height * 4) throw new UserError(`image ${path}: the JPEG decoded to an unexpected size`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = data[j];
    rgb[i + 1] = data[j + 1];
    rgb[i + 2] = data[j + 2];
  }
  return { width, height, rgb };
}

/** Reads a PNG or a JPEG (by its first bytes, not its name). */
export function readImageFile(path: string): DecodedImage {
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 4);
  } catch (e) {
    throw new UserError(`image ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (head[0] === 0xff && head[1] === 0xd8) return readJpeg(path);
  if (head[0] === 0x89 && head[1] === 0x50) return readPng(path);
  throw new UserError(`image ${path}: neither a PNG nor a JPEG`);
}

/** Width and height only (for the grid rule), without keeping the pixels. */
export function imageSize(path: string): { width: number; height: number } {
  const { width, height } = readImageFile(path);
  return { width, height };
}
