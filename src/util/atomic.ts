import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { randomBytes } from "node:crypto";

function siblingName(path: string, tag: string): string {
  return join(dirname(path), `.${tag}-${basename(path)}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Writes a file via temp file + rename so a crash never leaves a half-written file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = siblingName(path, "tmp");
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Builds a directory in a temp sibling and renames it into place at the end, so a
 * half-finished run never replaces (or masquerades as) a finished one. An existing folder is
 * moved aside first and deleted only once the new one is in place.
 */
export async function buildDirAtomic<T>(finalDir: string, build: (tmpDir: string) => Promise<T> | T): Promise<T> {
  mkdirSync(dirname(finalDir), { recursive: true });
  const tmp = siblingName(finalDir, "tmp");
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    if (existsSync(finalDir)) {
      const old = siblingName(finalDir, "old");
      renameSync(finalDir, old);
      renameSync(tmp, finalDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, finalDir);
    }
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
