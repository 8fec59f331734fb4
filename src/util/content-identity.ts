import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Content read in full before the rest counts by name and size alone: enough for every model
 * folder and lavit's own signals, while an official root's many gigabytes of V_top still
 * fingerprint in a moment.
 */
const HASHED_BYTES = 64 * 1024 * 1024;

/**
 * A fingerprint of a file or folder by what it holds, not where it is: a copy or a moved
 * folder has the same one. Files are taken in name order (dot-files, lavit's markers and temp
 * siblings, are left out); each adds its relative path and size, and its bytes while the first
 * HASHED_BYTES last.
 */
export function contentIdentity(path: string): string {
  const hash = createHash("sha256");
  let budget = HASHED_BYTES;
  const add = (file: string, rel: string, size: number) => {
    hash.update(`${rel}\0${size}\0`);
    if (size > budget) {
      budget = 0;
      return;
    }
    budget -= size;
    const fd = openSync(file, "r");
    try {
      const buf = Buffer.alloc(Math.min(size, 1 << 20));
      for (let pos = 0; pos < size;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
        if (n <= 0) break;
        hash.update(buf.subarray(0, n));
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  };
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".")) continue;
      const full = join(dir, name);
      const st = statSync(full);
      const r = rel ? `${rel}/${name}` : name;
      if (st.isDirectory()) walk(full, r);
      else if (st.isFile()) add(full, r, st.size);
    }
  };
  const st = statSync(path);
  if (st.isDirectory()) walk(path, "");
  else add(path, "", st.size);
  return hash.digest("hex");
}
