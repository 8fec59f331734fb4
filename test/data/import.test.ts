import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import jpeg from "jpeg-js";
import { encodePng } from "../../src/data/png.js";
import { importData } from "../../src/stages/import.js";
import { loadSplit } from "../../src/data/dataset.js";
import { readDatasetInfo, readManifest } from "../../src/data/manifest.js";
import { computeStats } from "../../src/data/stats.js";
import { Tokenizer, UNK } from "../../src/data/tokenizer.js";
import { boxPatches, fitTransform, mapOverOriginal } from "../../src/data/import/fit-image.js";
import { defaultSplit } from "../../src/data/import/build.js";
import { sampleRegions } from "../../src/eval/gap.js";
import { UserError } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";

/** A source folder: images of several sizes (one JPEG), and `rows` written as JSONL. */
function source(rows: Record<string, unknown>[] | string, file = "rows.jsonl"): { from: string; images: string; root: string } {
  const root = mkdtempSync(join(tmpdir(), "lavit-import-"));
  const images = join(root, "images");
  mkdirSync(images);
  const solid = (w: number, h: number) => new Uint8Array(w * h * 3).fill(200);
  writeFileSync(join(images, "wide.png"), encodePng(solid(100, 50), 100, 50));
  writeFileSync(join(images, "tall.png"), encodePng(solid(30, 90), 30, 90));
  const rgba = Buffer.alloc(80 * 60 * 4, 120);
  writeFileSync(join(images, "photo.jpg"), jpeg.encode({ data: rgba, width: 80, height: 60 }, 90).data);
  const from = join(root, file);
  writeFileSync(from, typeof rows === "string" ? rows : rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return { from, images, root };
}

const ROWS = [
  { id: "1", image: "wide.png", question: "What colour is the table?", answer: "Red.", boxes: [0, 0, 50, 50], split: "train" },
  { id: "2", image: "tall.png", question: "How many apples are there?", answer: "Two", split: "train", family: "counting" },
  {
    id: "3",
    image: "photo.jpg",
    question: "Is it sunny?",
    answer: "yes",
    choices: ["yes", "no"],
    split: "val",
    rationale: [{ text: "Look at the sky; it is blue.", boxes: [[0, 0, 80, 20]] }, "The answer: yes"],
  },
];

describe("lavit data import", () => {
  it("imports PNG and JPEG of any size, records each transform, turns boxes into patches, and builds an open tokenizer", async () => {
    const s = source(ROWS);
    const out = join(s.root, "d");
    const info = await importData({ from: s.from, images: s.images, out, quiet: true });
    expect(info).toMatchObject({ format: "lavit-import/1", size: 64, patch: 8, splits: { train: 2, val: 1 }, answer_format: "lavit" });
    expect(readDatasetInfo(out).format).toBe("lavit-import/1");
    const [wide, tall] = readManifest(out, "train");
    expect(wide).toMatchObject({ answer: "red", rationale: [], transform: { source: "wide.png", width: 100, height: 50, scale: 0.64, dx: 0, dy: 16 } });
    expect(wide.family).toBeUndefined();
    // [0, 0, 50, 50] of a 100 x 50 image is the left half, rows 16..48 of the fitted square: patch columns 0..3, rows 2..5.
    expect(wide.evidence).toEqual([16, 17, 18, 19, 24, 25, 26, 27, 32, 33, 34, 35, 40, 41, 42, 43]);
    expect(tall).toMatchObject({ family: "counting", transform: { width: 30, height: 90 } });
    expect(tall.evidence).toBeUndefined();
    const [photo] = readManifest(out, "val");
    expect(photo.rationale.map((r) => r.text)).toEqual(["look look at the sky , it is blue .", "look the reply : yes"]);
    expect(photo.rationale[0].patches.length).toBeGreaterThan(0);
    expect(photo.rationale[1].patches).toEqual([]);
    const split = loadSplit(out, "val");
    expect(split.images[0].length).toBe(64 * 64 * 3);
    expect(split.tokenizer.open).toBe(true);
    expect(split.tokenizer.has("apples") && split.tokenizer.has("?") && split.tokenizer.has("two")).toBe(true);
    expect(split.tokenizer.encode("How many PEARS?")).toEqual(["how", "many", UNK, "?"].map((w) => split.tokenizer.id(w)));
  });

  it("reports metrics that need an absent field as absent: grounding without boxes, chance without choices", async () => {
    const s = source(ROWS);
    const out = join(s.root, "d");
    await importData({ from: s.from, images: s.images, out, quiet: true });
    const [wide, tall] = readManifest(out, "train");
    expect(sampleRegions(wide)!(0)).toEqual(wide.evidence);
    expect(sampleRegions(tall)).toBeUndefined();
    const stats = computeStats(out).splits;
    expect(stats.train.chance_accuracy).toBeUndefined();
    expect(stats.train.prior_only_accuracy).toBeUndefined();
    expect(stats.val.chance_accuracy).toBe(0.5);
  });

  it("draws a seeded split for rows without one, the same whatever the row order", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `s${i}`);
    const splits = ids.map((id) => defaultSplit(0, id, 0.1, 0.1));
    expect(splits.filter((x) => x === "val").length).toBeGreaterThan(60);
    expect(splits.filter((x) => x === "test").length).toBeGreaterThan(60);
    expect(splits.filter((x) => x === "train").length).toBeGreaterThan(700);
    expect(defaultSplit(0, "s7", 0.1, 0.1)).toBe(splits[7]);
    expect(ids.map((id) => defaultSplit(1, id, 0.1, 0.1))).not.toEqual(splits);
  });

  it("refuses bad rows naming the file, line and field, and keeps what was there", async () => {
    const good = source(ROWS);
    const out = join(good.root, "d");
    await importData({ from: good.from, images: good.images, out, quiet: true });
    const before = readFileSync(join(out, "train", "manifest.jsonl"), "utf8");
    const bad = async (rows: Record<string, unknown>[] | string, pattern: RegExp, file?: string) => {
      const s = source(rows, file);
      await expect(importData({ from: s.from, images: s.images, out, force: true, quiet: true })).rejects.toThrow(pattern);
      await expect(importData({ from: s.from, images: s.images, out, force: true, quiet: true })).rejects.toBeInstanceOf(UserError);
    };
    await bad([ROWS[0], { id: "2", image: "tall.png", answer: "x" }], /rows\.jsonl:2: question: missing/);
    await bad([ROWS[0], { ...ROWS[1], id: "1" }], /id "1" is on line 1 and again on line 2/);
    await bad([{ ...ROWS[0], image: "gone.png" }], /gone\.png.*no such file|gone\.png: cannot read \(ENOENT\)/);
    await bad([{ ...ROWS[0], boxes: [0, 0, 101, 50] }], /rows\.jsonl:1: boxes: box \[0, 0, 101, 50\] lies outside its image wide\.png \(100x50/);
    await bad([{ ...ROWS[0], boxes: [10, 0, 10, 50] }], /rows\.jsonl:1: boxes: box \[10, 0, 10, 50\] is empty/);
    await bad([{ ...ROWS[0], image: "../rows.jsonl" }], /leads outside/);
    await bad("id,image,question,answer\n1,wide.png,Q?,red\n2,wide.png,Q?,red,extra\n", /rows\.csv:3: not valid CSV/, "rows.csv");
    await bad('id,image,question,answer\n1,wide.png,"Q?,red\n', /rows\.csv:\d+: not valid CSV.*quote/i, "rows.csv");
    expect(readFileSync(join(out, "train", "manifest.jsonl"), "utf8")).toBe(before);
  });

  it("refuses an image over the pixel limit by its header, before decoding it", async () => {
    const s = source(ROWS.slice(0, 1));
    // A PNG signature and an IHDR declaring 20000 x 20000 pixels, and nothing else.
    const ihdr = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(ihdr);
    ihdr.writeUInt32BE(13, 8);
    ihdr.write("IHDR", 12);
    ihdr.writeUInt32BE(20000, 16);
    ihdr.writeUInt32BE(20000, 20);
    writeFileSync(join(s.images, "wide.png"), ihdr);
    await expect(importData({ from: s.from, images: s.images, out: join(s.root, "d"), quiet: true })).rejects.toThrow(
      /wide\.png: 20000x20000 pixels is over the limit/,
    );
    expect(existsSync(join(s.root, "d"))).toBe(false);
  });

  it("imports CSV with JSON cells, and answers of several words make the free answer format", async () => {
    const csv =
      'id,image,question,answer,boxes,choices\n1,wide.png,"Which fruit, exactly?",Two apples.,"[0,0,10,10]",two apples|one pear\n2,tall.png,Q?,one pear,,\n';
    const s = source(csv, "rows.csv");
    const out = join(s.root, "d");
    const info = await importData({ from: s.from, images: s.images, out, quiet: true, val: 0, test: 0 });
    expect(info).toMatchObject({ answer_format: "free", splits: { train: 2 } });
    const [a, b] = readManifest(out, "train");
    expect(a).toMatchObject({ question: "Which fruit, exactly?", answer: "two apples", choices: ["two apples", "one pear"], boxes: [[0, 0, 10, 10]] });
    expect(b.boxes).toBeUndefined();
  });

  it("imports the official metadata and Visual-CoT's JSON: ids, splits, free answers, bbox strings as evidence", async () => {
    const official = {
      results: [{ question_id: 0, split: "train", question: "Q one?", ground_truth_enriched: "look here ; red", image_relative_path: "wide.png" }],
    };
    const visualCot = [{ question_id: 7, question: "<image>\nWhat is it?", answer: "A cat", image: "tall.png", bbox: "[0, 0, 30, 45]" }];
    const a = source(JSON.stringify(official), "meta.json");
    const info = await importData({ fromOfficial: a.from, images: a.images, out: join(a.root, "d"), quiet: true });
    expect(info).toMatchObject({ splits: { train: 1 }, answer_format: "free" });
    expect(readManifest(join(a.root, "d"), "train")[0]).toMatchObject({ id: "0", answer: "look here red" });
    const b = source(JSON.stringify(visualCot), "vcot.json");
    await importData({ fromOfficial: b.from, images: b.images, out: join(b.root, "d"), quiet: true, val: 0, test: 0 });
    const [s] = readManifest(join(b.root, "d"), "train");
    expect(s).toMatchObject({ id: "7", question: "What is it?", answer: "a cat", boxes: [[0, 0, 30, 45]] });
    expect(s.evidence!.length).toBeGreaterThan(0);
    await expect(importData({ from: b.from, fromOfficial: b.from, images: b.images, out: join(b.root, "e"), quiet: true })).rejects.toThrow(/one of --from/);
  });

  it("exits 2 from the CLI naming the line, and refuses an --out holding its inputs", () => {
    const s = source([ROWS[0], { id: "x", image: "wide.png", question: "Q" }]);
    const r = runCli(["data", "import", "--from", s.from, "--images", s.images, "--out", join(s.root, "d")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/rows\.jsonl:2: answer: missing/);
    const inside = runCli(["data", "import", "--from", s.from, "--images", s.images, "--out", join(s.images, "d")]);
    expect(inside.status).toBe(2);
    expect(inside.stderr).toMatch(/--images/);
  });
});

describe("fitting images", () => {
  it("maps a box to the patches it covers, and a map back over the original image", () => {
    const t = fitTransform("x.png", 200, 100, 64);
    expect(t).toMatchObject({ scale: 0.32, dx: 0, dy: 16 });
    expect(boxPatches([190, 90, 200, 100], t, 64, 8)).toEqual([5 * 8 + 7]);
    const map = new Float32Array(64).map((_, i) => i);
    const back = mapOverOriginal(map, 8, t, 64, { rows: 4, cols: 8 });
    // Row 0 of the original (y 0..25) lands on fitted rows 16..24: patch row 2.
    expect(Array.from(back.subarray(0, 8))).toEqual([16, 17, 18, 19, 20, 21, 22, 23]);
  });

  it("reads the benchmark's text as it always did (the closed vocabulary refuses unknown words)", () => {
    const tok = Tokenizer.forGrammar();
    expect(tok.open).toBe(false);
    expect(tok.encode("What color is the circle?")).toEqual(tok.encode("what color is the circle ?"));
    expect(() => tok.encode("how many apples ?")).toThrow(/unknown word "apples"/);
  });
});
