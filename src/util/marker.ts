import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { isWithin, realPath } from "./paths.js";

/**
 * Every output folder lavit makes carries `.lavit.json` naming its kind, so `--force` can tell
 * a folder lavit made (and may replace) from a user's folder that happens to be given as --out.
 */
export const MARKER_FILE = ".lavit.json";
export const MARKER_VERSION = 1;

export type OutputKind = "dataset" | "signals" | "model" | "demo" | "eval" | "study" | "study-report" | "gap";

export interface Marker {
  kind: OutputKind;
  version: number;
}

export function writeMarker(dir: string, kind: OutputKind): void {
  // No timestamp: a folder's bytes depend only on its inputs and seed.
  const marker: Marker = { kind, version: MARKER_VERSION };
  writeFileSync(join(dir, MARKER_FILE), JSON.stringify(marker) + "\n");
}

/** The folder's marker, or null when it has none (or an unreadable one). */
export function readMarker(dir: string): Marker | null {
  const file = join(dir, MARKER_FILE);
  if (!existsSync(file)) return null;
  try {
    const raw = JSON.parse(readFileSync(file, "utf8")) as Partial<Marker>;
    if (typeof raw.kind !== "string" || typeof raw.version !== "number") return null;
    return { kind: raw.kind as OutputKind, version: raw.version };
  } catch {
    return null;
  }
}

/** Refuses an output folder no command may replace or clear: the root, home, the working folder or one of its ancestors. */
export function assertNotProtected(out: string, flag = "--out"): void {
  const reason = protectedReason(realPath(out));
  if (reason) throw new UserError(`${flag} ${out} is ${reason}; lavit never writes its output over it; choose a new folder`);
}

/** Folders no --force may ever replace: the root, the home folder, the working folder and its ancestors. */
function protectedReason(real: string): string | null {
  if (dirname(real) === real) return "the file system root";
  if (real === realPath(homedir())) return "your home folder";
  const cwd = realPath(process.cwd());
  if (real === cwd) return "the current folder";
  if (isWithin(cwd, real)) return "a folder that contains the current folder";
  return null;
}

/**
 * Checks that `out` may be (re)written by a command making a `kind` folder: a missing or empty
 * folder always may; an existing one only with --force, and only when it carries lavit's
 * marker of the same kind. Returns whether an existing folder will be replaced.
 */
export function checkReplaceable(out: string, kind: OutputKind, force: boolean, flag = "--out"): boolean {
  if (!existsSync(out)) return false;
  if (!statSync(out).isDirectory()) throw new UserError(`${flag} ${out} is a file, not a folder; choose a folder path`);
  assertNotProtected(out, flag);
  if (readdirSync(out).length === 0) return false;
  if (!force) throw new UserError(`${flag} ${out} already exists and is not empty (use --force to replace it)`);
  const marker = readMarker(out);
  if (!marker)
    throw new UserError(
      `${flag} ${out} was not made by lavit (no ${MARKER_FILE}); --force replaces only lavit's own output folders: delete it yourself or choose another ${flag}`,
    );
  if (marker.kind !== kind)
    throw new UserError(
      `${flag} ${out} holds a lavit ${marker.kind} folder, not a ${kind} folder; --force replaces only a folder of the same kind: choose another ${flag}`,
    );
  return true;
}
