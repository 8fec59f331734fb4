import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";

/**
 * Why a text is not JSON, without quoting it: Node's own messages carry a snippet of the input
 * ("Unexpected token 'r', "root:x:0:0:"... is not valid JSON"), and a path that leads to a
 * file that is not ours must not have its contents printed.
 */
export function jsonProblem(text: string, e: unknown): string {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : "");
  if (!text.trim()) return "not valid JSON (the file is empty)";
  if (!m) return "not valid JSON";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `not valid JSON (at line ${line}, column ${column})`;
}

/** JSON.parse whose error is a UserError naming the source, never quoting the text. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: ${jsonProblem(text, e)}`);
  }
}

/** Reads and parses a JSON file; both failures are UserErrors naming the file and `what` it should be. */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read ${what} (${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (code ?? String(e))})`);
  }
  return parseJsonText(text, `${file}: ${what}`);
}
