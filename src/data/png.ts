import { readFileSync } from "node:fs";
import { PNG } from "pngjs";
import { UserError } from "../errors.js";

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

export interface DecodedImage {
  width: number;
  height: number;
  /** RGB bytes, row-major. */
  rgb: Uint8Array;
}

/** Reads an RGB(A) PNG; a missing or corrupt file is a UserError naming it. */
export function readPng(path: string): DecodedImage {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`image ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(buf);
  } catch (e) {
    throw new UserError(`image ${path}: not a valid PNG (${e instanceof Error ? e.message : String(e)})`);
  }
  const { width, height, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[p * 3] = data[p * 4];
    rgb[p * 3 + 1] = data[p * 4 + 1];
    rgb[p * 3 + 2] = data[p * 4 + 2];
  }
  return { width, height, rgb };
}
