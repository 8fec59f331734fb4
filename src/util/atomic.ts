import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, basename } from "node:path";

/** Writes a file via temp file + rename so a crash never leaves a half-written file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${Date.now()}`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * Builds a directory in a temp sibling and renames it into place at the end, so a
 * half-finished run never replaces (or masquerades as) a finished one.
 */
export async function buildDirAtomic<T>(finalDir: string, build: (tmpDir: string) => Promise<T> | T): Promise<T> {
  const parent = dirname(finalDir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${basename(finalDir)}-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    if (existsSync(finalDir)) rmSync(finalDir, { recursive: true, force: true });
    renameSync(tmp, finalDir);
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
