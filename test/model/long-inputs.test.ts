import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkQuestionFits, checkSplitQuestions, promptIds, wordCount } from "../../src/model/sequence.js";
import { studentConfig } from "../../src/model/presets.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { manifestPath } from "../../src/data/manifest.js";
import { ask } from "../../src/stages/ask.js";
import { UserError } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";

const tok = Tokenizer.forGrammar();
const config = studentConfig(tok.size, 64, 8); // 64 patches
const max = config.decoder.max_positions;
const words = (n: number, w = "circle") => Array.from({ length: n }, () => w).join(" ");

describe("long inputs", () => {
  it("counts words as encode splits them", () => {
    for (const t of ["", "  ", "a", " what  color\tis\nthe circle ? ", "a\u00a0b"])
      expect(wordCount(t), JSON.stringify(t)).toBe(t.trim().split(/\s+/).filter(Boolean).length);
  });

  it("encodes a million known words without overflowing the stack", () => {
    const ids = promptIds(tok, 64, words(1_000_000), 2);
    expect(ids.length).toBe(3 + 64 + 1_000_000 + 2);
  });

  it("an unknown word in a million-word question gives a one-line error of a few hundred characters", () => {
    const q = `${words(500_000)} zebra ${words(500_000)}`;
    let message = "";
    try {
      tok.encode(q, "question");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^question: unknown word "zebra" in "circle circle .*" \(\d+ characters\)$/);
    expect(message.length).toBeLessThan(400);
    expect(message).not.toContain("\n");
  });

  it("refuses a question over max_positions before encoding, naming where it came from and its length", () => {
    expect(() => checkQuestionFits(config, words(max), 0, "the question")).toThrow(
      new UserError(
        `the question: the question is ${max} words long; with 64 image patches its prompt takes ${max + 67} positions, more than the model's decoder.max_positions ${max}`,
      ),
    );
    expect(() => checkQuestionFits(config, words(max - 67), 0, "q")).not.toThrow();
    expect(() => checkQuestionFits(config, words(max - 67), 1, "q")).toThrow(/with 64 image patches and 1 latents its prompt takes/);
  });

  it("names the manifest file and line of a split's too-long question", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-long-"));
    mkdirSync(join(dir, "train"));
    const samples = [{ question: "what color is the circle ?" }, { question: words(1_000_000, "zebra") }];
    // A blank line before the second sample: lines, not sample indices, are named.
    writeFileSync(manifestPath(dir, "train"), `{}\n\n{}\n`);
    expect(() => checkSplitQuestions(config, { dir, split: "train", samples: samples as never }, 0)).toThrow(
      `${manifestPath(dir, "train")}:3: the question is 1000000 words long; with 64 image patches its prompt takes 1000067 positions`,
    );
  });

  it("ask refuses a million-word question early (library) and a long one on the command line, naming the question", async () => {
    await expect(ask({ model: join("models", "student-base"), image: "/nonexistent.png", question: words(1_000_000) })).rejects.toThrow(
      /^the question: the question is 1000000 words long/,
    );
    const r = runCli(["ask", "--model", join("models", "student-base"), "--image", "/nonexistent.png", words(10_000)]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/the question is 10000 words long/);
  });
});
