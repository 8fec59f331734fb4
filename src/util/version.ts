import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's root folder (where package.json is), from src/ or dist/ alike. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface CodeVersion {
  version: string;
  /** The git commit of the code that ran, when it runs from a git checkout. */
  commit: string | null;
  /** Whether tracked files differed from that commit. */
  dirty: boolean | null;
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", ["-C", PACKAGE_ROOT, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

/** Which lavit produced a result, so a study's results can be traced to the code that made them. */
export function codeVersion(): CodeVersion {
  const version = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
  const commit = git(["rev-parse", "HEAD"]);
  const status = commit ? git(["status", "--porcelain", "--untracked-files=no"]) : null;
  return { version, commit, dirty: status === null ? null : status.length > 0 };
}
