import jpeg from "jpeg-js";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import type { DecodedImage } from "./image.js";

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
    buf = readRegularFile(path);
  } catch (e) {
    if (isUserError(e)) throw e;
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

/**
 * Width and height from the file's header alone (the grid rule needs only the aspect ratio;
 * decoding a large photo per sample would dominate reading a signals root).
 * PNG: the IHDR chunk. JPEG: the first start-of-frame marker.
 */
export function imageSize(path: string): { width: number; height: number } {
  let b: Buffer;
  try {
    b = readRegularFile(path);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`image ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const size = headerSize(b);
  if (!size) throw new UserError(`image ${path}: no image size in its header (neither a PNG nor a JPEG with a frame header)`);
  return size;
}

/** The size a PNG or JPEG header declares, or null. */
export function headerSize(b: Uint8Array): { width: number; height: number } | null {
  const u16 = (i: number) => (b[i] << 8) | b[i + 1];
  const u32 = (i: number) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && String.fromCharCode(...b.subarray(12, 16)) === "IHDR") {
    const width = u32(16);
    const height = u32(20);
    return width > 0 && height > 0 ? { width, height } : null;
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return null;
    const m = b[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    const len = u16(i + 2);
    if (len < 2) return null;
    // Start of frame: every SOFn except DHT (c4), JPG (c8) and DAC (cc).
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 9 > b.length) return null;
      const height = u16(i + 5);
      const width = u16(i + 7);
      return width > 0 && height > 0 ? { width, height } : null;
    }
    i += 2 + len;
  }
  return null;
}
