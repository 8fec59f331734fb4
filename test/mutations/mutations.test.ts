import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

// The list scripts/mutate.mjs runs (npm run mutate). Checked here, cheaply, so that a change to
// the code cannot silently turn an entry into one that no longer applies.
const root = join(import.meta.dirname, "..", "..");
const entry = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  file: z.string().startsWith("src/"),
  find: z.string().min(1),
  replace: z.string(),
  tests: z.array(z.string().regex(/^test\/.*\.test\.ts$/)).min(1),
  why: z.string().min(1),
});
const list = z.array(entry).parse(JSON.parse(readFileSync(join(root, "test", "mutations", "mutations.json"), "utf8")));

describe("mutation list", () => {
  it("has unique ids, and each entry changes its code", () => {
    expect(new Set(list.map((m) => m.id)).size).toBe(list.length);
    for (const m of list) expect(m.replace, m.id).not.toBe(m.find);
  });

  it.each(list.map((m) => [m.id, m] as const))("%s: its find string occurs exactly once in its file, and its tests exist", (_, m) => {
    const text = readFileSync(join(root, m.file), "utf8");
    expect(text.split(m.find).length - 1, `${m.file}`).toBe(1);
    for (const t of m.tests) expect(existsSync(join(root, t)), t).toBe(true);
  });
});
