import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { UserError } from "../errors.js";

/** A path given on the command line, with the flag that gave it (for messages). */
export interface FlagPath {
  flag: string;
  path: string | undefined | null;
}

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
 * Refuses an output that is, lies inside, or contains one of the command's inputs: writing
 * there would replace or delete what the command reads (a teacher trained over its own
 * --init-from, signals extracted over their dataset). Inputs without a path are skipped.
 */
export function assertOutputApart(out: string | FlagPath, inputs: readonly FlagPath[]): void {
  const o: FlagPath = typeof out === "string" ? { flag: "--out", path: out } : out;
  if (!o.path) return;
  const outReal = realPath(o.path);
  for (const input of inputs) {
    if (!input.path) continue;
    const inReal = realPath(input.path);
    let how: string | null = null;
    if (outReal === inReal) how = "is the same folder as";
    else if (isWithin(outReal, inReal)) how = "lies inside";
    else if (isWithin(inReal, outReal)) how = "contains";
    if (how)
      throw new UserError(
        `${o.flag} ${o.path} ${how} ${input.flag} ${input.path}: writing it would overwrite the command's own input; choose an ${o.flag} outside every input`,
      );
  }
}

/**
 * Resolves a path read from a file (a manifest's image, a signals metadata path) against its
 * root and refuses it when it leads outside the root, symlinks included, unless the user
 * allowed it. Absolute paths are accepted when they point inside the root (the official
 * layout writes absolute paths). The message names the path and the field, never the file's
 * contents.
 */
export function assertInsideRoot(root: string, path: string, what: string, allowOutside = false): string {
  const full = isAbsolute(path) ? path : resolve(root, path);
  if (allowOutside) return full;
  const rootReal = realPath(root);
  const fullReal = realPath(full);
  if (!isWithin(fullReal, rootReal) || fullReal === rootReal)
    throw new UserError(`${what}: path "${path}" leads outside ${root}; lavit reads only inside that folder (pass --allow-outside-root to read it anyway)`);
  return full;
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
 * A single output file (--predictions, --heatmap, data show --out): refused when it is a
 * folder, or when it would overwrite an existing file inside one of the command's inputs (a
 * new file beside them is fine).
 */
export function assertFileOutput(file: string | undefined | null, flag: string, inputs: readonly FlagPath[]): void {
  if (!file) return;
  assertNotSpecial(file, flag);
  const real = realPath(file);
  if (existsSync(real) && statSync(real).isDirectory()) throw new UserError(`${flag} ${file} is a folder; give a file path`);
  for (const input of inputs) {
    if (!input.path) continue;
    const inReal = realPath(input.path);
    if (real === inReal || (existsSync(real) && isWithin(real, inReal)))
      throw new UserError(`${flag} ${file} would overwrite ${real === inReal ? "" : "a file of "}${input.flag} ${input.path}; choose another ${flag}`);
  }
}
