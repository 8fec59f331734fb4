// The newest modification time (ms) of the files under `dir` whose names end in `ext`: how the
// prepare script and the tests' CLI helper tell whether dist/ is at least as new as its sources.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function newest(dir, ext) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
