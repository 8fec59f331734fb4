import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVlmConfig } from "../../src/model/config.js";
import { studentConfig } from "../../src/model/presets.js";
import { Tokenizer } from "../../src/data/tokenizer.js";
import { UserError } from "../../src/errors.js";

const base = () => JSON.parse(JSON.stringify(studentConfig(100, 32, 8))) as { vision: Record<string, unknown>; decoder: Record<string, unknown> };
const refuse = (edit: (c: ReturnType<typeof base>) => void, message: RegExp) => {
  const c = base();
  edit(c);
  expect(() => parseVlmConfig(c, "cfg.json")).toThrow(UserError);
  expect(() => parseVlmConfig(c, "cfg.json")).toThrow(message);
};

describe("config sanity: values that cannot train are refused, naming the file and field", () => {
  it("accepts the built-in config and the usual ranges", () => {
    for (const [rope, eps] of [
      [10000, 1e-6],
      [1e6, 1e-5],
      [500000, 1e-12],
    ]) {
      const c = base();
      Object.assign(c.decoder, { rope_base: rope, rms_eps: eps });
      expect(parseVlmConfig(c, "cfg.json").decoder.rope_base).toBe(rope);
    }
  });

  it("refuses rope_base <= 1 or huge, rms_eps tiny or huge", () => {
    for (const v of [1e-300, 0.5, 1, 1e300]) refuse((c) => (c.decoder.rope_base = v), /^cfg\.json: field decoder\.rope_base: rope_base must be/);
    for (const v of [1e-300, 1e-20, 0.5, 1e300]) refuse((c) => (c.decoder.rms_eps = v), /^cfg\.json: field decoder\.rms_eps: rms_eps must be/);
  });

  it("refuses a vision tower or decoder of 0 layers, and absurd layer counts", () => {
    refuse((c) => (c.vision.num_layers = 0), /cfg\.json: field vision\.num_layers: a vision tower needs at least one layer/);
    refuse((c) => (c.decoder.num_layers = 0), /cfg\.json: field decoder\.num_layers: a decoder needs at least one layer/);
    refuse((c) => (c.decoder.num_layers = 1e6), /cfg\.json: field decoder\.num_layers/);
  });
});

describe("tokenizer.json sanity", () => {
  const write = (vocab: string[]) => {
    const file = join(mkdtempSync(join(tmpdir(), "lavit-tok-")), "tokenizer.json");
    writeFileSync(file, JSON.stringify({ ...Tokenizer.forGrammar().toJSON(), vocab }));
    return file;
  };
  it("reads the grammar's tokenizer, refuses an empty or multi-word token naming the file and index", () => {
    const vocab = Tokenizer.forGrammar().vocab;
    expect(Tokenizer.read(write([...vocab])).size).toBe(vocab.length);
    for (const bad of ["", "two words", " ", "tab\there"]) {
      const file = write([...vocab, bad]);
      expect(() => Tokenizer.read(file)).toThrow(new RegExp(`tokenizer\\.json.*vocab\\.${vocab.length}.*one non-empty word`));
    }
  });
});
