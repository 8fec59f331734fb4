import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { FAMILIES } from "../../src/data/families/family.js";
import { allTemplates, familyOf, templateByKey } from "../../src/data/families/index.js";
import { generateDataset } from "../../src/data/generate.js";
import { GENERATE_DEFAULTS } from "../../src/stages/generate.js";
import { buildDraft, grammarWords, stepObjects } from "../../src/data/questions.js";
import { MaskCache } from "../../src/data/shapes.js";
import { Rng } from "../../src/util/rng.js";

describe("question families", () => {
  it("registers every family under its own name, templates grouped in FAMILIES order, keys unique", () => {
    const templates = allTemplates();
    expect(new Set(templates.map((t) => t.key)).size).toBe(templates.length);
    expect([...new Set(templates.map((t) => t.family))]).toEqual([...FAMILIES]);
    for (const t of templates) {
      expect(familyOf(t).name).toBe(t.family);
      expect(familyOf(t).templates).toContain(t);
      expect(templateByKey(t.key)).toBe(t);
    }
  });

  it("asks and reasons only in the tokenizer's words, with verdict steps only where the answer is yes/no", () => {
    const words = new Set(grammarWords());
    const ctx = { size: 64, patch: 8, masks: new MaskCache(64) };
    const rng = new Rng(4);
    for (const t of allTemplates())
      for (const answer of t.choices) {
        expect(words.has(answer)).toBe(true);
        const d = buildDraft(rng, ctx, t, answer);
        for (const w of d.question.split(" ")) expect(words.has(w), `${t.key}: "${w}"`).toBe(true);
        expect(stepObjects(d).length).toBeGreaterThan(0);
        expect(familyOf(t).verdict !== undefined).toBe(t.choices.includes("yes"));
      }
  });

  it("generates the same bytes as before the families were split into files", async () => {
    // The digest of this dataset as the generator wrote it when all families lived in one
    // questions.ts: a change to any family's draws, wording or rationale shows here.
    const dir = mkdtempSync(join(tmpdir(), "lavit-families-"));
    await generateDataset(dir, { ...GENERATE_DEFAULTS, seed: 11, size: 32, patch: 8, teacherTrain: 40, train: 40, test: 20, quiet: true });
    const h = createHash("sha256");
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
        else h.update(`${rel}${e.name}\n`).update(readFileSync(join(d, e.name)));
      }
    };
    walk(dir, "");
    expect(h.digest("hex")).toBe("f19aa42c34c7f73a0194f93aaa3af99fd07c2ba567e7bcae588157b2227df2fd");
  });
});
