import { extname } from "node:path";
import { parse } from "csv-parse/sync";
import { UserError } from "../../errors.js";
import { parseJsonText } from "../../util/json.js";
import { readRegularFile } from "../../util/read-guard.js";

/** One record of the source file, with the line it starts on (1-based) for messages. */
export interface RawRow {
  line: number;
  fields: Record<string, unknown>;
}

function readText(file: string): string {
  try {
    return readRegularFile(file, "utf8");
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--from ${file}: cannot read (${code === "ENOENT" ? "no such file" : (code ?? String(e))})`);
  }
}

function readJsonl(file: string, text: string): RawRow[] {
  const rows: RawRow[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const value = parseJsonText(line, `${file}:${i + 1}`);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UserError(`${file}:${i + 1}: a JSONL line must be one JSON object`);
    rows.push({ line: i + 1, fields: value as Record<string, unknown> });
  });
  return rows;
}

/**
 * CSV with a header row (csv-parse): a row with more or fewer cells than the header, or a
 * quote left open, is an error naming its line. A cell holding JSON (choices, rationale or
 * boxes written as `[...]`) is read as JSON.
 */
function readCsv(file: string, text: string): RawRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, info: true, skip_empty_lines: true, trim: true, bom: true }) as typeof records;
  } catch (e) {
    const err = e as Error & { lines?: number; code?: string };
    throw new UserError(`${file}:${err.lines ?? "?"}: not valid CSV (${err.message.replace(/^Invalid [^:]*: /, "").slice(0, 160)})`);
  }
  return records.map(({ record, info }) => {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) {
      if (v === "") continue;
      fields[k] = /^[[{]/.test(v) ? parseJsonText(v, `${file}:${info.lines}: column ${k}`) : v;
    }
    return { line: info.lines, fields };
  });
}

/** The rows of a JSONL (.jsonl, .json lines) or CSV (.csv) file. */
export function readRows(file: string): RawRow[] {
  const text = readText(file);
  const ext = extname(file).toLowerCase();
  if (ext === ".csv") return readCsv(file, text);
  if (ext === ".jsonl" || ext === ".ndjson") return readJsonl(file, text);
  throw new UserError(`--from ${file}: expected a .jsonl or .csv file (one record per line, or a CSV with a header row)`);
}

/** A record field that may hold the value under several names (the official builder's, Visual-CoT's). */
function first(r: Record<string, unknown>, names: readonly string[]): unknown {
  for (const n of names) if (r[n] !== undefined && r[n] !== null) return r[n];
  return undefined;
}

/**
 * Rows from the official pipeline's metadata (`lavit_15k_for_training.json`: `{"results": [...]}`
 * with `question_id`, `question`, `image_relative_path`, `ground_truth_enriched`, `split`) or
 * Visual-CoT's JSON (a list of `question`, `answer`, `image`, `bbox`). The answer is `answer`,
 * else the whole `ground_truth_enriched` (a free-text answer); Visual-CoT's boxes become the
 * evidence. A record's "line" is its 1-based place in the list.
 */
export function readOfficialRows(file: string): RawRow[] {
  const value = parseJsonText(readText(file), file);
  const list = Array.isArray(value) ? value : (value as { results?: unknown } | null)?.results;
  if (!Array.isArray(list))
    throw new UserError(`--from-official ${file}: expected a JSON list of records, or an object with "results" (the official metadata)`);
  return list.map((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) throw new UserError(`${file}:${i + 1}: record ${i + 1} is not a JSON object`);
    const rec = r as Record<string, unknown>;
    const fields: Record<string, unknown> = {
      id: first(rec, ["question_id", "id"]),
      image: first(rec, ["image_relative_path", "image", "image_path"]),
      question: first(rec, ["question"]),
      answer: first(rec, ["answer", "ground_truth_enriched"]),
    };
    const split = first(rec, ["split"]);
    if (typeof split === "string" && split) fields.split = split;
    const boxes = first(rec, ["boxes", "bbox", "bboxs"]);
    if (boxes !== undefined) fields.boxes = typeof boxes === "string" && /^\s*\[/.test(boxes) ? parseJsonText(boxes, `${file}:${i + 1}: bbox`) : boxes;
    return { line: i + 1, fields };
  });
}
