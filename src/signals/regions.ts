import { z } from "zod";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import type { Sample } from "../data/manifest.js";
import type { Grid } from "./maps.js";

/** A box in image pixels: [x1, y1, x2, y2], x to the right, y down. */
export type Box = [number, number, number, number];

const idSchema = z.union([z.number().int(), z.string().min(1)]);
/** One record: an id (`question_id` as the official builder, or `id`) and boxes (`boxes`, or Visual-CoT's `bbox` / `bboxs`). */
const recordSchema = z
  .object({
    question_id: idSchema.optional(),
    id: idSchema.optional(),
    boxes: z.unknown().optional(),
    bbox: z.unknown().optional(),
    bboxs: z.unknown().optional(),
  })
  .passthrough()
  .refine((r) => r.question_id !== undefined || r.id !== undefined, "needs question_id or id");

const isBox = (b: unknown): b is Box =>
  Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === "number" && Number.isFinite(x)) && b[2] > b[0] && b[3] > b[1];

/** One box or a non-empty list of boxes; a message naming what is wrong otherwise. */
function parseBoxes(v: unknown): Box[] | string {
  if (isBox(v)) return [v];
  if (Array.isArray(v) && v.length && v.every(isBox)) return v as Box[];
  return `a box is [x1, y1, x2, y2] in pixels with x2 > x1 and y2 > y1, or a list of such boxes (got ${JSON.stringify(v)?.slice(0, 80)})`;
}

/**
 * Ground-truth boxes per sample id, from a JSONL file of `{question_id, boxes}` records or a
 * JSON array of records (Visual-CoT's `bbox` / `bboxs` accepted).
 */
export function readBoxes(file: string): Map<string, Box[]> {
  let text: string;
  try {
    text = readRegularFile(file, "utf8");
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot read boxes (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let records: { where: string; value: unknown }[];
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let arr: unknown[];
    try {
      arr = JSON.parse(text) as unknown[];
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    records = arr.map((value, i) => ({ where: `entry ${i}`, value }));
  } else {
    records = [];
    text.split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      try {
        records.push({ where: `line ${i + 1}`, value: JSON.parse(line) });
      } catch (e) {
        throw new UserError(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`);
      }
    });
  }
  const out = new Map<string, Box[]>();
  for (const { where, value } of records) {
    const r = recordSchema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new UserError(`${file}: ${where}: ${issue.path.length ? `field ${issue.path.join(".")}: ` : ""}${issue.message}`);
    }
    const key = (["boxes", "bbox", "bboxs"] as const).find((k) => r.data[k] !== undefined);
    if (!key) throw new UserError(`${file}: ${where}: needs boxes, bbox or bboxs`);
    const boxes = parseBoxes(r.data[key]);
    if (typeof boxes === "string") throw new UserError(`${file}: ${where}: field ${key}: ${boxes}`);
    const id = String(r.data.question_id ?? r.data.id);
    out.set(id, [...(out.get(id) ?? []), ...boxes]);
  }
  if (!out.size) throw new UserError(`${file}: no boxes`);
  return out;
}

/**
 * The patches of a rows x cols grid over a width x height image that a set of boxes covers: a
 * patch counts when it overlaps a box with positive area.
 */
export function boxesToPatches(boxes: readonly Box[], width: number, height: number, grid: Grid): number[] {
  const set = new Set<number>();
  const cw = width / grid.cols;
  const ch = height / grid.rows;
  for (const [x1, y1, x2, y2] of boxes) {
    const c0 = Math.max(0, Math.floor(x1 / cw));
    const c1 = Math.min(grid.cols - 1, Math.ceil(x2 / cw) - 1);
    const r0 = Math.max(0, Math.floor(y1 / ch));
    const r1 = Math.min(grid.rows - 1, Math.ceil(y2 / ch) - 1);
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) set.add(r * grid.cols + c);
  }
  return [...set].sort((a, b) => a - b);
}

/** A lavit sample's patches on its dataset grid, as pixel boxes (to carry them to another grid). */
export function patchesToBoxes(patches: readonly number[], size: number, grid: number): Box[] {
  const cell = size / grid;
  return [...new Set(patches)].map((p) => [(p % grid) * cell, Math.floor(p / grid) * cell, ((p % grid) + 1) * cell, (Math.floor(p / grid) + 1) * cell]);
}

/** Per-step regions of one sample: boxes in image pixels (one list per step; the last list serves later steps). */
export interface SampleRegionBoxes {
  steps: Box[][];
}

/**
 * Regions of lavit samples (their rationale steps' patches, or for a sample without rationale
 * its answer's evidence), as pixel boxes per step. A sample with no region known is left out.
 */
export function datasetRegionBoxes(samples: readonly Sample[], size: number, grid: number): Map<string, SampleRegionBoxes> {
  const known = samples.filter((s) => (s.rationale.length ? s.rationale.some((r) => r.patches.length) : s.evidence?.length));
  return new Map(
    known.map((s) => [
      s.id,
      {
        steps: [
          ...(s.rationale.length ? s.rationale.map((r) => patchesToBoxes(r.patches, size, grid)) : [patchesToBoxes(s.evidence!, size, grid)]),
          patchesToBoxes(
            s.rationale.flatMap((r) => r.patches),
            size,
            grid,
          ),
        ],
      },
    ]),
  );
}
