import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodePng } from "../../src/data/png.js";
import { importData } from "../../src/stages/import.js";
import { trainTeacher } from "../../src/stages/pretrain.js";
import { evaluate } from "../../src/stages/evaluate.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { tinyConfig } from "../helpers/tiny.js";

/** Twelve rows over images of two sizes: half with boxes, a third with choices, splits named by the rows. */
function rows(root: string): string {
  const images = join(root, "images");
  mkdirSync(images);
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) {
    const [w, h] = i % 2 ? [40, 24] : [24, 48];
    writeFileSync(join(images, `${i}.png`), encodePng(new Uint8Array(w * h * 3).fill(i % 3 ? 200 : 40), w, h));
    const row: Record<string, unknown> = {
      id: `r${i}`,
      image: `${i}.png`,
      question: "Is the picture Bright?",
      answer: i % 3 ? "Yes." : "No.",
      split: i < 8 ? "fit" : "val",
    };
    if (i % 2 === 0) row.boxes = [0, 0, 10, 10];
    if (i % 3 === 0) row.choices = ["yes", "no"];
    lines.push(JSON.stringify(row));
  }
  writeFileSync(join(root, "rows.jsonl"), lines.join("\n") + "\n");
  return images;
}

describe("a teacher on imported data, from scratch", () => {
  it("trains on a split of any name and is evaluated on another: free answers, choices scoring, n/a pairs", async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-import-pipe-"));
    const images = rows(root);
    const data = join(root, "d");
    await importData({ from: join(root, "rows.jsonl"), images, out: data, size: 32, patch: 8, quiet: true });
    const vocab = Tokenizer.read(join(data, "tokenizer.json")).size;
    const config = join(root, "config.json");
    writeFileSync(config, JSON.stringify(tinyConfig(vocab)));
    const teacher = join(root, "teacher");
    await trainTeacher({ data, split: "fit", config, out: teacher, steps: 2, batchSize: 4, groundAttention: 1, quiet: true });
    const predictions = join(root, "p.jsonl");
    const { result, predictions: preds } = await evaluate({ model: teacher, data, split: "val", predictions, quiet: true });
    expect(result).toMatchObject({ split: "val", count: 4, answer_format: "lavit", unknown_words: 0, families: {} });
    expect(result.pair_accuracy).toBeUndefined();
    // Rows 9 (choices) is answered by one of its choices whatever the model generated.
    expect(["yes", "no"]).toContain(preds.find((p) => p.id === "r9")!.predicted);
    const free = await evaluate({ model: teacher, data, split: "val", answerFormat: "free", quiet: true });
    expect(free.result.answer_format).toBe("free");
  }, 120_000);
});
