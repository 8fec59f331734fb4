import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../errors.js";
import { fnv1a } from "../../util/hash.js";
import { progress } from "../../util/progress.js";
import { assertInsideRoot } from "../../util/read-guard.js";
import { encodePng } from "../png.js";
import { imageSize, readImageAny } from "../read-image.js";
import { formatManifest, IMPORT_FORMAT, type AnswerFormat, type DatasetInfo, type Sample } from "../manifest.js";
import { textWords, Tokenizer } from "../tokenizer.js";
import { boxesPatches, fitImage, fitTransform } from "./fit-image.js";
import { readOfficialRows, readRows } from "./read-rows.js";
import { checkRow, checkUniqueIds, type Box, type ImportRow } from "./rows.js";

export interface ImportBuildOptions {
  /** JSONL or CSV file of rows (or, with `official`, the official pipeline's or Visual-CoT's JSON). */
  from: string;
  official?: boolean;
  /** Folder the rows' image paths are relative to. */
  images: string;
  size: number;
  patch: number;
  seed: number;
  /** Without a split column: the share of rows put in `val`, and in `test`; the rest is `train`. */
  val: number;
  test: number;
  quiet?: boolean;
}

/** Far above a photo (24 MP), far below what would exhaust memory when decoded (a decompression bomb declares gigapixels). */
export const MAX_IMPORT_PIXELS = 64_000_000;

/**
 * Where a row without a split goes: a hash of (seed, id), so a row keeps its split when rows
 * are added, removed or reordered, and another seed draws another split.
 */
export function defaultSplit(seed: number, id: string, val: number, test: number): string {
  // FNV-1a of similar ids ("q1", "q2") differ little in their high bits: mixed (MurmurHash3's finaliser) before use as a uniform draw.
  let h = fnv1a(`${seed}/${id}`);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const u = ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
  return u < val ? "val" : u < val + test ? "test" : "train";
}

const isWord = (w: string) => /[\p{L}\p{N}]/u.test(w);

/** An answer (or a choice) as a model writes it: its words, lowercased, punctuation dropped. */
export function answerText(s: string): string {
  return textWords(s).filter(isWord).join(" ");
}

/**
 * A rationale step as a target: "look" and its words. "look" marks a step for every stage
 * that reads steps; ";" (the step separator) and "answer" (the answer marker) inside a step
 * would end it early, so they become "," and "reply".
 */
export function stepText(s: string): string {
  return ["look", ...textWords(s).map((w) => (w === ";" ? "," : w === "answer" ? "reply" : w))].join(" ");
}

function checkBoxes(boxes: readonly Box[], w: number, h: number, where: string, image: string): void {
  for (const b of boxes)
    if (b[0] < 0 || b[1] < 0 || b[2] > w || b[3] > h)
      throw new UserError(`${where}: box [${b.join(", ")}] lies outside its image ${image} (${w}x${h} pixels; boxes are [x0, y0, x1, y1] in its pixels)`);
}

function readImage(path: string, where: string): { rgb: Uint8Array; width: number; height: number } {
  const { width, height } = imageSize(path);
  if (width * height > MAX_IMPORT_PIXELS)
    throw new UserError(`image ${path}: ${width}x${height} pixels is over the limit of ${MAX_IMPORT_PIXELS / 1e6} megapixels (${where})`);
  return readImageAny(path);
}

function sampleOf(
  row: ImportRow,
  file: string,
  o: ImportBuildOptions,
  imageName: string,
  transformSource: string,
  width: number,
  height: number,
): Sample & { transform: NonNullable<Sample["transform"]> } {
  const t = fitTransform(transformSource, width, height, o.size);
  const at = (f: string) => `${file}:${row.line}: ${f}`;
  if (row.boxes) checkBoxes(row.boxes, width, height, at("boxes"), transformSource);
  row.rationale?.forEach((s, k) => s.boxes && checkBoxes(s.boxes, width, height, at(`rationale[${k}].boxes`), transformSource));
  // Text that looks like a special token ("<image>\n..." in Visual-CoT's questions) would be read as one.
  const question = row.question
    .replace(/<[a-z0-9_]+>/gi, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!question) throw new UserError(`${at("question")}: has no words ("${row.question}")`);
  const answer = answerText(row.answer);
  if (!answer) throw new UserError(`${at("answer")}: has no words ("${row.answer}")`);
  return {
    id: row.id,
    image: imageName,
    question,
    answer,
    ...(row.family !== undefined ? { family: row.family } : {}),
    ...(row.choices ? { choices: row.choices.map(answerText) } : {}),
    rationale: (row.rationale ?? []).map((s) => ({
      text: stepText(s.text),
      patches: s.boxes ? boxesPatches(s.boxes, t, o.size, o.patch) : [],
      ...(s.boxes ? { boxes: s.boxes } : {}),
    })),
    ...(row.boxes ? { boxes: row.boxes, evidence: boxesPatches(row.boxes, t, o.size, o.patch) } : {}),
    transform: t,
  };
}

/**
 * Imports rows and their images into `dir` (which the caller makes atomic by building it in a
 * temp folder): every image fitted to size x size, one manifest per split, the tokenizer of
 * the data's own words, and dataset.json. Every row is checked before any image is read, so
 * a bad row fails fast.
 */
export function importDataset(dir: string, o: ImportBuildOptions): DatasetInfo {
  const rows = (o.official ? readOfficialRows(o.from) : readRows(o.from)).map((r) => checkRow(r, o.from));
  if (!rows.length) throw new UserError(`--from ${o.from}: no rows`);
  checkUniqueIds(rows, o.from);
  const bySplit = new Map<string, Sample[]>();
  const bar = progress("importing", rows.length, { quiet: o.quiet });
  for (const row of rows) {
    const split = row.split ?? defaultSplit(o.seed, row.id, o.val, o.test);
    const where = `${o.from}:${row.line}: image`;
    const path = assertInsideRoot(o.images, row.image, where);
    const img = readImage(path, where);
    const samples = bySplit.get(split) ?? [];
    const name = `images/${String(samples.length).padStart(6, "0")}.png`;
    const sample = sampleOf(row, o.from, o, name, row.image, img.width, img.height);
    mkdirSync(join(dir, split, "images"), { recursive: true });
    writeFileSync(join(dir, split, name), encodePng(fitImage(img, sample.transform, o.size), o.size, o.size));
    samples.push(sample);
    bySplit.set(split, samples);
    bar.tick(1, { split });
  }
  bar.stop();
  const all = [...bySplit.values()].flat();
  for (const [split, samples] of bySplit) writeFileSync(join(dir, split, "manifest.jsonl"), formatManifest(samples));
  const answerFormat: AnswerFormat = all.every((s) => !s.answer.includes(" ")) ? "lavit" : "free";
  const tokenizer = Tokenizer.fromTexts(all.flatMap((s) => [s.question, `answer ${s.answer}`, ...s.rationale.map((r) => r.text), ...(s.choices ?? [])]));
  const splits = Object.fromEntries([...bySplit].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.length]));
  const info: DatasetInfo = { format: IMPORT_FORMAT, seed: o.seed, size: o.size, patch: o.patch, splits, answer_format: answerFormat, source: o.from };
  writeFileSync(join(dir, "dataset.json"), JSON.stringify(info, null, 2) + "\n");
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer.toJSON(), null, 2) + "\n");
  return info;
}
