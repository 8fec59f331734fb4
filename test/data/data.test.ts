import { describe, expect, it, beforeAll } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { generateDataset } from "../../src/data/generate.js";
import { GENERATE_DEFAULTS } from "../../src/stages/generate.js";
import { parseManifest, readDatasetInfo, readBenchmarkManifest as readManifest, type Sample } from "../../src/data/manifest.js";
import { computeStats } from "../../src/data/stats.js";
import { readPng } from "../../src/data/png.js";
import { analyticArea, MaskCache } from "../../src/data/shapes.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { targetText } from "../../src/data/sample.js";
import { answerFromScene, buildDraft, flipDraft, priorAnswer } from "../../src/data/questions.js";
import { allTemplates } from "../../src/data/families/index.js";
import { SHAPES, SIZES } from "../../src/data/vocab.js";
import { Rng } from "../../src/util/rng.js";
import { runCli } from "../helpers/cli.js";

const small = { ...GENERATE_DEFAULTS, train: 300, test: 120, teacherTrain: 100, quiet: true };

function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else
        out.set(
          rel + e.name,
          createHash("sha256")
            .update(readFileSync(join(d, e.name)))
            .digest("hex"),
        );
    }
  };
  walk(dir, "");
  return out;
}

describe("scenes", () => {
  it("rasterises every shape within 5% of its analytic area at S = 64", () => {
    const cache = new MaskCache(64);
    for (const shape of SHAPES)
      for (const size of SIZES) {
        const { g, area } = cache.get(shape, size);
        const exact = analyticArea(g);
        expect(Math.abs(area - exact) / exact, `${size} ${shape}`).toBeLessThan(0.05);
      }
  });

  it("builds scenes whose recomputed answer is the requested one, for every template and answer", () => {
    const ctx = { size: 64, patch: 8, masks: new MaskCache(64) };
    const rng = new Rng(3);
    for (const t of allTemplates())
      for (const answer of t.choices) {
        const d = buildDraft(rng, ctx, t, answer);
        expect(answerFromScene(d, ctx)).toBe(answer);
        expect(d.objects.length).toBeGreaterThanOrEqual(2);
        expect(d.objects.length).toBeLessThanOrEqual(6);
      }
  });

  it("makes minimal pairs whose answers differ and whose scenes differ in one object", () => {
    const ctx = { size: 64, patch: 8, masks: new MaskCache(64) };
    const rng = new Rng(4);
    for (const t of allTemplates()) {
      // A flip may fail for one scene (no room to move an object); the generator then draws
      // a new scene, so the property is "some scene of a few flips".
      let d = buildDraft(rng, ctx, t, priorAnswer(t));
      let f = flipDraft(rng, ctx, d);
      for (let tries = 0; !f && tries < 5; tries++) {
        d = buildDraft(rng, ctx, t, priorAnswer(t));
        f = flipDraft(rng, ctx, d);
      }
      expect(f, t.key).not.toBeNull();
      expect(f!.answer).not.toBe(d.answer);
      expect(f!.question).toBe(d.question);
      const key = (o: object) => JSON.stringify(o);
      const a = d.objects.map(key);
      const b = f!.objects.map(key);
      if (a.length === b.length) {
        expect(a.filter((x, i) => x !== b[i]).length, t.key).toBe(1);
      } else {
        // counting: one object added or removed, the others unchanged
        expect(Math.abs(a.length - b.length)).toBe(1);
        const [longer, shorter] = a.length > b.length ? [a, b] : [b, a];
        expect(longer.filter((x) => !shorter.includes(x)).length).toBe(1);
        expect(shorter.every((x) => longer.includes(x))).toBe(true);
      }
    }
  });
});

describe("generated dataset", () => {
  let dir: string;
  let dir2: string;
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-data-"));
    dir = join(root, "a");
    dir2 = join(root, "b");
    mkdirSync(dir);
    mkdirSync(dir2);
    await generateDataset(dir, { ...small, seed: 11 });
    await generateDataset(dir2, { ...small, seed: 11 });
  });

  it("is byte-identical for the same seed and different for another", async () => {
    const a = hashTree(dir);
    const b = hashTree(dir2);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, v] of a) expect(b.get(k), k).toBe(v);
    const other = mkdtempSync(join(tmpdir(), "lavit-data-"));
    await generateDataset(other, { ...small, seed: 12 });
    const c = hashTree(other);
    expect(c.get("train/manifest.jsonl")).not.toBe(a.get("train/manifest.jsonl"));
    expect(c.get("train/images/000000.png")).not.toBe(a.get("train/images/000000.png"));
  });

  it("has a real shortcut: the prior-only answerer wins on test-id and fails on test-ood", () => {
    const s = computeStats(dir).splits;
    expect(s["test-id"].prior_only_accuracy).toBeGreaterThanOrEqual(0.7);
    expect(s["test-ood"].prior_only_accuracy).toBeLessThanOrEqual(s["test-ood"].chance_accuracy! + 0.05);
    expect(s["teacher-train"].prior_only_accuracy).toBeLessThan(0.5);
    expect(s["test-pairs"].prior_only_pair_accuracy).toBe(0);
  });

  it("writes pairs whose images differ only where the changed object is", () => {
    const samples = readManifest(dir, "test-pairs");
    const byPair = new Map<string, Sample[]>();
    for (const s of samples) byPair.set(s.pair!, [...(byPair.get(s.pair!) ?? []), s]);
    expect(byPair.size).toBe(60);
    for (const [, [a, b]] of byPair) {
      expect(a.answer).not.toBe(b.answer);
      const ia = readPng(join(dir, "test-pairs", a.image)).rgb;
      const ib = readPng(join(dir, "test-pairs", b.image)).rgb;
      const changed = [...a.objects!, ...b.objects!].filter(
        (o) => !a.objects!.some((p) => JSON.stringify(p) === JSON.stringify(o)) || !b.objects!.some((p) => JSON.stringify(p) === JSON.stringify(o)),
      );
      let differing = 0;
      for (let p = 0; p < 64 * 64; p++) {
        if (ia[p * 3] === ib[p * 3] && ia[p * 3 + 1] === ib[p * 3 + 1] && ia[p * 3 + 2] === ib[p * 3 + 2]) continue;
        differing++;
        const x = p % 64;
        const y = Math.floor(p / 64);
        expect(changed.some((o) => x >= o.x0 && x < o.x0 + o.w && y >= o.y0 && y < o.y0 + o.h)).toBe(true);
      }
      expect(differing).toBeGreaterThan(0);
    }
  });

  it("writes rationales from which the yes/no answers follow: located objects, (for depth) the hidden colour, then where the first is", () => {
    const relation = (q: string) => ["left", "right", "above", "below"].find((r) => q.includes(` ${r} `))!;
    let spatial = 0;
    let depth = 0;
    for (const split of ["teacher-train", "train", "test-ood", "test-pairs"]) {
      for (const s of readManifest(dir, split)) {
        if (s.family !== "spatial" && s.family !== "depth") continue;
        expect(s.rationale, s.id).toHaveLength(s.family === "depth" ? 4 : 3);
        const [a, b] = [s.rationale[0].objects[0], s.rationale[1].objects[0]];
        const last = s.rationale[s.rationale.length - 1];
        const name = `${s.objects[a].colour} ${s.objects[a].shape}`;
        expect(last.text.startsWith(`look ${name} `), s.id).toBe(true);
        const said = last.text.slice(`look ${name} `.length);
        if (s.family === "spatial") {
          // "look <colour> <shape> <column> <row>" for a, then b; the last step says a's side of b.
          const [[ax, ay], [bx, by]] = s.rationale.slice(0, 2).map((r) => r.text.split(" ").slice(3).map(Number));
          const rel = relation(s.question);
          const horizontal = rel === "left" || rel === "right";
          expect(horizontal ? ax !== bx : ay !== by, s.id).toBe(true);
          expect(said, s.id).toBe(horizontal ? (ax < bx ? "left" : "right") : ay < by ? "above" : "below");
          expect(said === rel ? "yes" : "no", s.id).toBe(s.answer);
          expect(last.patches).toEqual([...new Set([...s.rationale[0].patches, ...s.rationale[1].patches])].sort((x, y) => x - y));
          spatial++;
        } else {
          const aInFront = s.objects[a].depth < s.objects[b].depth;
          expect(said, s.id).toBe(aInFront ? "in front" : "behind");
          expect((said === "in front") === s.question.includes("in front of") ? "yes" : "no", s.id).toBe(s.answer);
          // Before it, the colour the overlap hides: the one behind's.
          const hidden = s.rationale[2];
          const back = aInFront ? b : a;
          expect(hidden.text, s.id).toBe(`look hidden ${s.objects[back].colour}`);
          expect(hidden.objects, s.id).toEqual([back]);
          expect(hidden.patches, s.id).toEqual(last.patches);
          // It looks where the two objects' boxes overlap.
          const [size, patch] = [GENERATE_DEFAULTS.size, GENERATE_DEFAULTS.patch];
          const grid = size / patch;
          expect(last.patches.length).toBeGreaterThan(0);
          for (const p of last.patches) {
            const [x0, y0] = [(p % grid) * patch, Math.floor(p / grid) * patch];
            for (const o of [s.objects[a], s.objects[b]]) expect(x0 < o.x0 + o.w && o.x0 < x0 + patch && y0 < o.y0 + o.h && o.y0 < y0 + patch, s.id).toBe(true);
          }
          depth++;
        }
      }
    }
    expect(spatial).toBeGreaterThan(20);
    expect(depth).toBeGreaterThan(20);
  });

  it("tokenizes every question and target with the saved tokenizer, and refuses unknown words", () => {
    const tok = Tokenizer.read(join(dir, "tokenizer.json"));
    for (const split of ["train", "test-ood", "test-pairs"]) {
      for (const s of readManifest(dir, split)) {
        expect(tok.decode(tok.encode(s.question))).toBe(s.question);
        expect(tok.encode(targetText(s)).length).toBeGreaterThan(2);
        for (const step of s.rationale) expect(step.patches.length).toBeGreaterThan(0);
      }
    }
    expect(() => tok.encode("what colour is the circle ?", "question")).toThrow(/unknown word "colour"/);
    expect(tok.has("<lvr8>")).toBe(true);
  });

  it("refuses a dataset folder of the older format, saying how to remake it", () => {
    const old = mkdtempSync(join(tmpdir(), "lavit-old-"));
    const info = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"));
    writeFileSync(join(old, "dataset.json"), JSON.stringify({ ...info, format: "lavit-shapes/1" }));
    expect(() => readDatasetInfo(old)).toThrow(/dataset\.json: format lavit-shapes\/1 was written by an older lavit .*lavit data generate/);
  });

  it("reports file, line and field for a bad manifest line", () => {
    const text = readFileSync(join(dir, "train", "manifest.jsonl"), "utf8").split("\n");
    const rec = JSON.parse(text[2]);
    delete rec.answer;
    text[2] = JSON.stringify(rec);
    expect(() => parseManifest(text.join("\n"), "m.jsonl")).toThrow(/m\.jsonl:3: field answer/);
    const rec2 = JSON.parse(text[4]);
    rec2.objects[0].x0 = "left";
    text[2] = text[1];
    text[4] = JSON.stringify(rec2);
    expect(() => parseManifest(text.join("\n"), "m.jsonl")).toThrow(/m\.jsonl:5: field objects\.0\.x0/);
    text[4] = "{not json";
    expect(() => parseManifest(text.join("\n"), "m.jsonl")).toThrow(/m\.jsonl:5: not valid JSON/);
  });
});

describe("lavit data (CLI)", () => {
  it("rejects bad flags with exit code 2 and a message naming the flag", () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-cli-")), "d");
    const r1 = runCli(["data", "generate", "--out", out, "--prior", "1.5"]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/--prior/);
    const r2 = runCli(["data", "generate", "--out", out, "--size", "60", "--patch", "8"]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/--size 60 is not divisible by --patch 8/);
    expect(existsSync(out)).toBe(false);
  });

  it("generates, refuses to overwrite, reports stats, shows a sample and names a corrupt image", () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-cli-")), "d");
    const gen = runCli(["data", "generate", "--out", out, "--seed", "5", "--train", "80", "--test", "20", "--teacher-train", "20"]);
    expect(gen.status, gen.stderr).toBe(0);
    const again = runCli(["data", "generate", "--out", out, "--seed", "6", "--train", "80", "--test", "20", "--teacher-train", "20"]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(JSON.parse(readFileSync(join(out, "dataset.json"), "utf8")).seed).toBe(5);
    const stats = runCli(["data", "stats", out, "--json"]);
    expect(stats.status).toBe(0);
    const parsed = JSON.parse(stats.stdout);
    expect(Object.keys(parsed.splits)).toEqual(["teacher-train", "train", "test-id", "test-ood", "test-pairs"]);
    expect(parsed.splits["test-id"]).toHaveProperty("families.attribute.prior_only_accuracy");
    const png = join(dirname(out), "shown.png"); // beside the dataset: an output never lands on an input
    const show = runCli(["data", "show", out, "--split", "test-pairs", "--id", "000000a", "--out", png]);
    expect(show.status, show.stderr).toBe(0);
    expect(readPng(png).width).toBe(64 * 8);
    const twice = runCli(["data", "show", out, "--split", "test-pairs", "--id", "000000a", "--out", png]);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/--out .*shown\.png already exists \(use --force to replace it\)/);
    const badSplit = runCli(["data", "show", out, "--split", "valid", "--id", "000000", "--out", png, "--force"]);
    expect(badSplit.status).toBe(2);
    expect(badSplit.stderr).toMatch(/unknown split "valid"/);
    writeFileSync(join(out, "train", "images", "000000.png"), "not a png");
    const corrupt = runCli(["data", "show", out, "--split", "train", "--id", "000000", "--out", png, "--force"]);
    expect(corrupt.status).toBe(2);
    expect(corrupt.stderr).toMatch(/000000\.png: not a valid PNG/);
  });
});
