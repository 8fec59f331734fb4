import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse } from "csv-parse/sync";
import { UserError } from "../../errors.js";
import { parseJsonText } from "../../util/json.js";

/** One record of the source file, with the line it starts on (1-based) for messages. */
export interface RawRow {
  line: number;
  fields: Record<string, unknown>;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
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
