import { PNG } from "pngjs";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import type { DecodedImage } from "../io/image.js";

/**
 * Fixed encoder options: the output bytes depend only on the pixels (and zlib's deterministic
 * deflate), never on pngjs defaults that might change. A fixed filter also avoids pngjs trying
 * all five filters per row, which dominates encode time for small images.
 */
const ENCODE_OPTIONS = {
  colorType: 2,
  inputColorType: 2,
  inputHasAlpha: false,
  bitDepth: 8,
  deflateLevel: 6,
  deflateStrategy: 0,
  filterType: 1,
} as const;

export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  const data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  return PNG.sync.write({ width, height, data } as unknown as PNG, ENCODE_OPTIONS as unknown as Parameters<typeof PNG.sync.write>[1]);
}

export type { DecodedImage } from "../io/image.js";

/** The largest side lavit decodes: far above any dataset's, far below what would exhaust memory. */
export const MAX_PNG_SIDE = 8192;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Width and height from the IHDR chunk, read before decoding: a file claiming 100000 x 100000
 * pixels is refused instead of making the decoder allocate for it.
 */
export function pngSize(buf: Uint8Array, name: string): { width: number; height: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 24 || !b.subarray(0, 8).equals(SIGNATURE)) throw new UserError(`image ${name}: not a valid PNG (no PNG signature)`);
  if (b.toString("latin1", 12, 16) !== "IHDR") throw new UserError(`image ${name}: not a valid PNG (the first chunk is not IHDR)`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * Decodes PNG bytes to RGB; any problem is a UserError naming `name`. With `expect`, an image
 * of another size is refused before decoding.
 */
export function decodePng(buf: Uint8Array, name: string, expect?: { width: number; height: number }): DecodedImage {
  const size = pngSize(buf, name);
  if (size.width === 0 || size.height === 0 || size.width > MAX_PNG_SIDE || size.height > MAX_PNG_SIDE)
    throw new UserError(`image ${name}: ${size.width}x${size.height} pixels is outside what lavit reads (1 to ${MAX_PNG_SIDE} per side)`);
  if (expect && (size.width !== expect.width || size.height !== expect.height))
    throw new UserError(`image ${name}: image is ${size.width}x${size.height}, expected ${expect.width}x${expect.height}`);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (e) {
    throw new UserError(`image ${name}: not a valid PNG (${e instanceof Error ? e.message.split("\n")[0].slice(0, 120) : "decoder error"})`);
  }
  const { width, height, data } = png;
  if (!data || data.length < width * height * 4) throw new UserError(`image ${name}: not a valid PNG (its pixel data is cut short)`);
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[p * 3] = data[p * 4];
    rgb[p * 3 + 1] = data[p * 4 + 1];
    rgb[p * 3 + 2] = data[p * 4 + 2];
  }
  return { width, height, rgb };
}

/** Reads an RGB(A) PNG; a missing or corrupt file is a UserError naming it. */
export function readPng(path: string, expect?: { width: number; height: number }): DecodedImage {
  let buf: Buffer;
  try {
    buf = readRegularFile(path);
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`image ${path}: cannot read (${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (code ?? String(e))})`);
  }
  return decodePng(buf, path, expect);
}
