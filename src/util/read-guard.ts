import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, statSync, type Stats } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { UserError } from "../errors.js";
import { isWithin } from "./paths.js";

/**
 * The read guard: every file lavit opens for reading goes through readRegularFile (only
 * regular files: a FIFO would block the process forever, a device can stream without end, a
 * folder is no file), and every path read from a file (a manifest's image, a metadata's
 * trajectory or V_top, a gap folder's image) goes through assertInsideRoot first.
 */

/** What a non-regular file is, in words, or null for a regular file. */
function notRegular(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

function refuse(path: string, what: string): never {
  throw new UserError(`${path}: is ${what}, not a regular file; lavit reads only regular files`);
}

/** Refuses a path that exists and is not a regular file (symlinks followed); a missing path is left to the reader. */
export function assertRegularFile(path: string): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return;
  }
  const what = notRegular(st);
  if (what) refuse(path, what);
}

/**
 * Opens a regular file for reading without ever blocking: checked before the open, then opened
 * non-blocking and checked again on the descriptor (the path may have been swapped in between).
 * A missing or unreadable file throws Node's own error (its code tells the caller which).
 */
export function openRegularFile(path: string): number {
  assertRegularFile(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const what = notRegular(fstatSync(fd));
    if (what) refuse(path, what);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** readFileSync for a regular file only (see openRegularFile). */
export function readRegularFile(path: string): Buffer;
export function readRegularFile(path: string, encoding: "utf8"): string;
export function readRegularFile(path: string, encoding?: "utf8"): Buffer | string {
  const fd = openRegularFile(path);
  try {
    return encoding ? readFileSync(fd, encoding) : readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

const MAX_LINKS = 40;

/**
 * Where the kernel would open `path`: each component taken in turn, symlinks followed (even
 * dangling ones, to where they point) and `..` applied after them, as open(2) does, not
 * lexically. The part from the first missing component on is joined as written.
 */
export function resolveAsKernel(path: string): string {
  // Never join or resolve the path first: both apply `..` lexically, before the symlinks.
  const raw = isAbsolute(path) ? path : `${process.cwd()}${sep}${path}`;
  let cur = "/";
  let links = 0;
  const rest = raw
    .split(sep)
    .filter((c) => c !== "" && c !== ".")
    .reverse();
  while (rest.length) {
    const c = rest.pop()!;
    if (c === "." || c === "") continue;
    if (c === "..") {
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, c);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch {
      return join(next, ...rest.reverse());
    }
    if (!st.isSymbolicLink()) {
      cur = next;
      continue;
    }
    if (++links > MAX_LINKS) return join(next, ...rest.reverse());
    const target = readlinkSync(next);
    if (isAbsolute(target)) cur = "/";
    rest.push(
      ...target
        .split(sep)
        .filter((t) => t !== "" && t !== ".")
        .reverse(),
    );
  }
  return cur;
}

/**
 * Resolves a path read from a file against its root and refuses it when it leads outside the
 * root (and the other folders the user named, `alsoInside`) (symlinks, dangling ones included, and `..` after a symlink), unless the user allowed it.
 * Absolute paths are accepted when they point inside the root (the official layout writes
 * absolute paths). Returns the path resolved as checked. The one message says nothing of whether the path exists, and never quotes
 * the file's contents beyond the path itself.
 */
export function assertInsideRoot(root: string, path: string, what: string, allowOutside = false, alsoInside: readonly string[] = []): string {
  const fullReal = resolveAsKernel(isAbsolute(path) ? path : `${resolve(root)}${sep}${path}`);
  if (allowOutside) return fullReal;
  const roots = [root, ...alsoInside];
  const inside = roots.some((r) => {
    const rootReal = resolveAsKernel(resolve(r));
    return isWithin(fullReal, rootReal) && fullReal !== rootReal;
  });
  if (!inside)
    throw new UserError(
      `${what}: path "${path}" leads outside ${roots.join(" and ")}; lavit reads only inside ${roots.length > 1 ? "those folders" : "that folder"} (pass --allow-outside-root to read it anyway)`,
    );
  // The path as the kernel resolves it, so what is opened is what was checked.
  return fullReal;
}
