import { UserError } from "../../errors.js";
import { checkSplit } from "../manifest.js";
import type { RawRow } from "./read-rows.js";

export type Box = [number, number, number, number];

/** A source row, checked: the four required fields, and the optional ones it had. */
export interface ImportRow {
  line: number;
  id: string;
  image: string;
  question: string;
  answer: string;
  split?: string;
  family?: string;
  choices?: string[];
  rationale?: { text: string; boxes?: Box[] }[];
  boxes?: Box[];
}

export const REQUIRED_FIELDS = ["id", "image", "question", "answer"] as const;
const KNOWN = new Set<string>([...REQUIRED_FIELDS, "split", "family", "choices", "rationale", "boxes", "bbox"]);

function text(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t ? t : undefined;
}

function isBox(b: unknown): b is Box {
  return Array.isArray(b) && b.length === 4 && b.every((x) => typeof x === "number" && Number.isFinite(x));
}

/** One box [x0, y0, x1, y1] or a list of them; the shape only (the image's bounds are checked once its size is known). */
function boxes(v: unknown, where: string): Box[] {
  const list = isBox(v) ? [v] : Array.isArray(v) && v.length && v.every(isBox) ? (v as Box[]) : null;
  if (!list) throw new UserError(`${where}: a box is [x0, y0, x1, y1] in the image's pixels, or a list of such boxes (got ${JSON.stringify(v)?.slice(0, 80)})`);
  for (const [x0, y0, x1, y1] of list)
    if (x1 <= x0 || y1 <= y0) throw new UserError(`${where}: box [${x0}, ${y0}, ${x1}, ${y1}] is empty (it needs x1 > x0 and y1 > y0)`);
  return list;
}

/** Choices: a list, or one string of them separated by "|". */
function choices(v: unknown, where: string): string[] {
  const list = typeof v === "string" ? v.split("|") : Array.isArray(v) ? v : null;
  const out = list?.map(text);
  if (!out || out.some((c) => c === undefined) || out.length < 2)
    throw new UserError(`${where}: choices are a list of at least two texts, or one text of them separated by "|"`);
  return out as string[];
}

/** Rationale: a list of steps (texts, or {text, boxes}), or one text of steps separated by ";" or new lines. */
function rationale(v: unknown, where: string): { text: string; boxes?: Box[] }[] {
  const list = typeof v === "string" ? v.split(/[;\n]/).filter((s) => s.trim()) : Array.isArray(v) ? v : null;
  if (!list || !list.length)
    throw new UserError(`${where}: a rationale is a list of steps (texts, or objects with "text" and optional "boxes"), or one text of steps separated by ";"`);
  if (list.length > 8) throw new UserError(`${where}: at most 8 rationale steps (got ${list.length})`);
  return list.map((step, k) => {
    const at = `${where}[${k}]`;
    if (step !== null && typeof step === "object" && !Array.isArray(step)) {
      const s = step as Record<string, unknown>;
      const t = text(s.text);
      if (!t) throw new UserError(`${at}: a rationale step needs a "text"`);
      const b = s.boxes ?? s.bbox;
      return b === undefined ? { text: t } : { text: t, boxes: boxes(b, `${at}.boxes`) };
    }
    const t = text(step);
    if (!t) throw new UserError(`${at}: a rationale step is a text, or an object with "text" and optional "boxes"`);
    return { text: t };
  });
}

/** Checks one row; every message names the file, the line and the field. */
export function checkRow(raw: RawRow, file: string): ImportRow {
  const at = (field: string) => `${file}:${raw.line}: ${field}`;
  const f = raw.fields;
  const unknown = Object.keys(f).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new UserError(`${at(unknown[0])}: unknown field (lavit reads ${[...KNOWN].filter((k) => k !== "bbox").join(", ")})`);
  const req = {} as Record<(typeof REQUIRED_FIELDS)[number], string>;
  for (const k of REQUIRED_FIELDS) {
    const v = text(f[k]);
    if (v === undefined) throw new UserError(`${at(k)}: missing (every row needs ${REQUIRED_FIELDS.join(", ")})`);
    req[k] = v;
  }
  const row: ImportRow = { line: raw.line, ...req };
  if (f.split !== undefined) row.split = checkSplit(text(f.split) ?? "", at("split"));
  if (f.family !== undefined)
    row.family =
      text(f.family) ??
      (() => {
        throw new UserError(`${at("family")}: empty`);
      })();
  if (f.choices !== undefined) row.choices = choices(f.choices, at("choices"));
  if (f.rationale !== undefined) row.rationale = rationale(f.rationale, at("rationale"));
  const b = f.boxes ?? f.bbox;
  if (b !== undefined) row.boxes = boxes(b, at("boxes"));
  return row;
}

/** Duplicate ids are an error naming both lines. */
export function checkUniqueIds(rows: readonly ImportRow[], file: string): void {
  const seen = new Map<string, number>();
  for (const r of rows) {
    const first = seen.get(r.id);
    if (first !== undefined) throw new UserError(`${file}: id "${r.id}" is on line ${first} and again on line ${r.line}; ids must be unique`);
    seen.set(r.id, r.line);
  }
}
