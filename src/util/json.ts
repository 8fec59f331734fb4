import { readFileSync } from "node:fs";
import type { z } from "zod";
import { UserError } from "../errors.js";

export interface ReadJsonOptions {
  /** What the file holds, for the messages ("model config", "tokenizer", ...). */
  what?: string;
  /** Appended to a "cannot read" message: what the user may have got wrong. */
  hint?: string;
}

/**
 * Why JSON.parse refused some text, without the text itself: V8 quotes the start of the input
 * ("Unexpected token 'h', "{"a": hello..." is not valid JSON"), which may be long or private.
 */
function jsonReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const quoted = /^(.*?),?\s*".*" is not valid JSON$/s.exec(message);
  return quoted ? quoted[1] || "unexpected input" : message;
}

/** JSON.parse with a UserError naming `where` (a file, or file:line) on bad text. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where}: not valid JSON (${jsonReason(e)})`);
  }
}

/**
 * Validates a parsed value: a UserError names `where` and the path of the first offending
 * field ("field decoder.hidden_size: ..."), with zod's message, which names the expected type
 * or values and never quotes the input.
 */
export function checkJson<S extends z.ZodType>(value: unknown, schema: S, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : "";
  throw new UserError(`${where}: field ${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}${more}`);
}

/** Reads a JSON file as raw, unvalidated JSON; an unreadable file or bad JSON is a UserError naming the file. */
export function readJsonValue(file: string, opts: ReadJsonOptions = {}): unknown {
  const what = opts.what ?? "JSON file";
  const hint = opts.hint ? `; ${opts.hint}` : "";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? String(e)})${hint}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: cannot read ${what}: not valid JSON (${jsonReason(e)})${hint}`);
  }
}

/** Reads a JSON file and validates it with a zod schema: the typed value, or a UserError naming the file and the field. */
export function readJson<S extends z.ZodType>(file: string, schema: S, opts: ReadJsonOptions = {}): z.infer<S> {
  return checkJson(readJsonValue(file, opts), schema, file);
}
