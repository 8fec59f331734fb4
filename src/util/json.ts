import type { z } from "zod";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "./read-guard.js";

export interface ReadJsonOptions {
  /** What the file holds, for the messages ("model config", "tokenizer", ...). */
  what?: string;
  /** Appended to a "cannot read" message: what the user may have got wrong. */
  hint?: string;
}

/**
 * Why a text is not JSON, without quoting it: Node's own messages carry a snippet of the input
 * ("Unexpected token 'r', "root:x:0:0:"... is not valid JSON"), and a path that leads to a
 * file that is not ours must not have its contents printed.
 */
export function jsonProblem(text: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(message);
  if (!text.trim()) return "not valid JSON (the file is empty)";
  // V8 names the offending token, which is a piece of the file: say only that it was unexpected.
  if (!m) return "not valid JSON (unexpected input)";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `not valid JSON (at line ${line}, column ${column})`;
}

/** JSON.parse whose error is a UserError naming `where` (a file, or file:line), never quoting the text. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where}: ${jsonProblem(text, e)}`);
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
    text = readRegularFile(file, "utf8");
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `${file}: cannot read ${what} (${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (code ?? String(e))})${hint}`,
    );
  }
  return parseJsonText(text, `${file}: cannot read ${what}${hint ? ` (${opts.hint})` : ""}`);
}

/** Reads and parses a JSON file; both failures are UserErrors naming the file and `what` it should be. */
export function readJsonFile(file: string, what: string): unknown {
  return readJsonValue(file, { what });
}

/** Reads a JSON file and validates it with a zod schema: the typed value, or a UserError naming the file and the field. */
export function readJson<S extends z.ZodType>(file: string, schema: S, opts: ReadJsonOptions = {}): z.infer<S> {
  return checkJson(readJsonValue(file, opts), schema, file);
}
