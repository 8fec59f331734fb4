import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { UserError } from "../errors.js";

/**
 * The absolute path with every symlink of its existing part resolved: a path that does not
 * exist yet resolves through its nearest existing ancestor, so a new --out under a symlinked
 * folder still compares equal to the folder's real location.
 */
export function realPath(p: string): string {
  const abs = resolve(p);
  if (existsSync(abs)) {
    try {
      return realpathSync(abs);
    } catch {
      return abs;
    }
  }
  const parent = dirname(abs);
  if (parent === abs) return abs;
  return join(realPath(parent), basename(abs));
}

/** True when `child` is `parent` or lies below it (both absolute, already real). */
export function isWithin(child: string, parent: string): boolean {
  if (child === parent) return true;
  const rel = relative(parent, child);
  return rel !== "" && !rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel);
}

/**
 * Kernel file systems whose entries are not files: Node's recursive mkdir never returns under
 * /proc, so a path there must be refused before any folder is made.
 */
const SPECIAL_ROOTS = ["/proc", "/sys"];

/** Refuses a path on a kernel file system (/proc, /sys). `flag` names it in the message. */
export function assertNotSpecial(path: string, flag?: string): void {
  const real = realPath(path);
  for (const root of SPECIAL_ROOTS)
    if (isWithin(real, root))
      throw new UserError(`${flag ? `${flag} ` : ""}${path} is on the kernel file system ${root}, which holds no ordinary files; choose a folder on a disk`);
}

/**
 * Refuses an output location lavit cannot make a folder or file in, before any work: under
 * /proc or /sys, or below an existing file. Permissions and free space are left to the
 * write itself (main.ts turns those errors into one line).
 */
export function assertOutputLocation(out: string, flag = "--out"): void {
  assertNotSpecial(out, flag);
  const real = realPath(out);
  for (let p = dirname(real); ; p = dirname(p)) {
    if (existsSync(p)) {
      if (!statSync(p).isDirectory()) throw new UserError(`${flag} ${out}: ${p} is a file, not a folder; choose a path whose parents are folders`);
      break;
    }
    if (dirname(p) === p) break;
  }
}

/**
 * The longest output name lavit writes: it keeps siblings named after an output beside it (a
 * temp folder `.tmp-<name>-<pid>-<hex>`, the lock `.<name>.lavit-lock` and its own temp), which
 * must stay within the file system's 255-byte name limit.
 */
export const MAX_OUTPUT_NAME = 200;

/** Refuses an output whose last name is too long for its temp and lock siblings. */
export function assertNameFits(path: string, flag = "--out"): void {
  const bytes = Buffer.byteLength(basename(resolve(path)));
  if (bytes > MAX_OUTPUT_NAME)
    throw new UserError(
      `${flag}: the name ${basename(resolve(path)).slice(0, 40)}... is ${bytes} bytes long; lavit allows at most ${MAX_OUTPUT_NAME} (it keeps temp and lock files named after it beside it)`,
    );
}
