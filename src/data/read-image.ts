import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "../errors.js";
import { readPng, type DecodedImage } from "./png.js";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The one place an image of any supported format is decoded (reports that draw over other
 * runs' images call this). PNG is read; other formats are refused naming the file, until a
 * decoder for them is added here.
 */
export function readImageAny(file: string): DecodedImage {
  const head = Buffer.alloc(8);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new UserError(`image ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (head.subarray(0, 8).equals(PNG_MAGIC)) return readPng(file);
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) throw new UserError(`image ${file}: JPEG images are not supported yet (convert it to PNG)`);
  throw new UserError(`image ${file}: not a PNG or JPEG file`);
}

/** An image's width and height from its header alone (for placing pixel boxes on a patch grid). */
export function imageSize(file: string): { width: number; height: number } {
  const head = Buffer.alloc(24);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new UserError(`image ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let n: number;
  try {
    n = readSync(fd, head, 0, 24, 0);
  } finally {
    closeSync(fd);
  }
  if (n === 24 && head.subarray(0, 8).equals(PNG_MAGIC) && head.toString("latin1", 12, 16) === "IHDR") return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  const { width, height } = readImageAny(file);
  return { width, height };
}
