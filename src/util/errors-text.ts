import { resolve } from "node:path";
import { isWithin } from "./paths.js";

/** What a file-system error code means, and what the user can do about it. */
const FS_HINTS: Record<string, string> = {
  ENOENT: "does not exist; check the path",
  ENOTDIR: "a part of this path is a file, not a folder; choose a path whose parents are folders",
  EEXIST: "already exists; choose another path or remove it",
  EACCES: "permission denied; choose a path you may write to (or read), or change its permissions",
  EPERM: "operation not permitted; choose another path or change its permissions",
  EISDIR: "is a folder, but a file path is needed here; give a file name",
  ENOTEMPTY: "is a folder that is not empty; choose another path",
  ENOSPC: "no space left on the device; free some space or write to another disk",
  EDQUOT: "disk quota exceeded; free some space or write to another disk",
  EROFS: "is on a read-only file system; choose a writable location",
  EMFILE: "too many open files; close other programs or raise the limit (ulimit -n)",
  ENFILE: "too many open files on the system; try again later",
  ENAMETOOLONG: "the path is too long; choose a shorter one",
  ELOOP: "too many symbolic links in the path; check the path",
  EBUSY: "is busy (in use by another program); try again later",
  EXDEV: "cannot be moved across file systems; keep the output on one disk",
  EIO: "input/output error from the device; check the disk",
  EINVAL: "is not valid for this operation (e.g. a special file such as /proc); choose a regular folder",
  ETXTBSY: "is busy; try again later",
};

/** Codes that come from the machine's state, not from what the user asked for. */
const MACHINE_CODES = new Set(["ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "EIO", "EBUSY", "ETXTBSY"]);

export interface ErrorReport {
  message: string;
  exitCode: 1 | 2;
}

/**
 * A Node file-system error as one line naming the path and what to do, or null when `e` is
 * not one. Exit 2 when the path is (or lies under) one the user gave in `args`, 1 otherwise.
 */
export function describeFsError(e: unknown, args: readonly string[]): ErrorReport | null {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (!err || typeof err !== "object" || typeof err.code !== "string" || !/^E[A-Z]+$/.test(err.code)) return null;
  // A recursive mkdir through a file fails with EEXIST or ENOTDIR on the file itself.
  const hint =
    err.syscall === "mkdir" && (err.code === "EEXIST" || err.code === "ENOTDIR")
      ? "is a file where a folder is needed; choose a path whose parents are folders"
      : (FS_HINTS[err.code] ?? `failed (${err.code})`);
  const path = err.path ?? err.dest;
  const where = path ? `${path}: ` : "";
  // The path is one the user gave, lies inside one, or is a parent of one (a file given as a folder).
  const given = args
    .flatMap((a) => (a.startsWith("--") && a.includes("=") ? [a.slice(a.indexOf("=") + 1)] : a.startsWith("-") ? [] : [a]))
    .filter((a) => a.length > 0);
  const fromArgs =
    path !== undefined && given.some((a) => isWithin(resolve(path), resolve(a)) || (resolve(path) !== "/" && isWithin(resolve(a), resolve(path))));
  const exitCode: 1 | 2 = MACHINE_CODES.has(err.code) ? 1 : fromArgs || !path ? 2 : 1;
  const op = err.syscall ? ` (${err.syscall})` : "";
  return { message: `${where}${hint}${op}`, exitCode };
}

/** An allocation failure (typed array, buffer or string too large) as a clear line. */
export function describeAllocationError(e: unknown): ErrorReport | null {
  if (!(e instanceof RangeError)) return null;
  const m = e.message;
  if (/allocation failed|Invalid (typed )?array length|Array buffer|Invalid string length|out of memory|must be less than or equal|Maximum call stack/i.test(m))
    return {
      message: `the sizes asked for need more memory than this process can allocate (${m}); use smaller sizes (image size, batch size, model widths, scale)`,
      exitCode: 2,
    };
  return null;
}

/** How much of a user's input an error message quotes: enough to recognise it, one line. */
export const QUOTE_LIMIT = 200;

/**
 * `text` quoted for an error message: in double quotes, control characters (newlines) escaped so
 * the message stays one line, and cut to about `limit` characters with the full length said, so a
 * million-word input gives a one-line error, not megabytes.
 */
export function quoteInput(text: string, limit = QUOTE_LIMIT): string {
  const esc = (s: string) => s.replace(/[\u0000-\u001f\u007f"\\]/g, (c) => JSON.stringify(c).slice(1, -1));
  if (text.length <= limit) return `"${esc(text)}"`;
  const head = Math.ceil(limit * 0.7);
  const tail = limit - head;
  return `"${esc(text.slice(0, head))}…${esc(text.slice(text.length - tail))}" (${text.length} characters)`;
}
