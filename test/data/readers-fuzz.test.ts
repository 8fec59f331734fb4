import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptOrRefuse } from "../helpers/fuzz.js";
import { parseManifest } from "../../src/data/manifest.js";
import { parseVlmConfig } from "../../src/model/config.js";
import { Tokenizer, SPECIAL_TOKENS } from "../../src/data/tokenizer.js";
import { decodePng, encodePng } from "../../src/data/png.js";

const anyJson = fc.jsonValue({ maxDepth: 3 });
const num = fc.oneof(fc.integer({ min: -3, max: 64 }), fc.double(), fc.constantFrom(1e9, 1e15, 2 ** 31, 2 ** 53 + 2, -1, 0, 0.5));

describe("manifest lines under fuzz", () => {
  const valid = {
    id: "a",
    image: "images/a.png",
    question: "q",
    answer: "yes",
    family: "count",
    template: "t",
    choices: ["yes", "no"],
    rationale: [{ text: "look", objects: [0], patches: [1] }],
    objects: [{ shape: "circle", colour: "red", size: "small", x0: 1, y0: 1, w: 2, h: 2, depth: 0 }],
  };
  it("refuses arbitrary text and JSON with a UserError naming file:line", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            anyJson.map((v) => JSON.stringify(v)),
          ),
          { maxLength: 4 },
        ),
        (lines) => {
          acceptOrRefuse(() => parseManifest(lines.join("\n"), "m.jsonl"));
        },
      ),
      { numRuns: 500, seed: 1 },
    );
  });
  it("refuses valid lines with one field replaced by anything", () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(valid)), fc.oneof(anyJson, num), (key, v) => {
        acceptOrRefuse(() => parseManifest(JSON.stringify({ ...valid, [key]: v }), "m.jsonl"));
      }),
      { numRuns: 500, seed: 2 },
    );
  });
  it("never quotes a line that is not JSON", () => {
    expect(() => parseManifest("root:x:0:0:root:/root:/bin/bash", "m.jsonl")).toThrow(
      /^m\.jsonl:1: not valid JSON( \(at line 1, column \d+\)| \(unexpected input\))?$/,
    );
  });
});

describe("config.json under fuzz", () => {
  const base = {
    model_type: "lavit-vlm",
    vision: { image_size: 32, patch_size: 8, channels: 3, hidden_size: 16, num_layers: 1, num_heads: 2, mlp_size: 32 },
    decoder: { vocab_size: 50, hidden_size: 16, num_layers: 1, num_heads: 2, ffn_size: 32, max_positions: 64 },
  };
  it("takes or refuses any widths, including ones no memory holds", () => {
    const part = fc.constantFrom("vision", "decoder");
    fc.assert(
      fc.property(
        part,
        fc
          .string({ maxLength: 14 })
          .chain((k) => fc.constantFrom(k, "hidden_size", "image_size", "patch_size", "vocab_size", "num_heads", "max_positions", "ffn_size", "num_layers")),
        num,
        (p, key, v) => {
          const cfg = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
          cfg[p][key] = v;
          acceptOrRefuse(() => parseVlmConfig(cfg, "config.json"));
        },
      ),
      { numRuns: 1000, seed: 3 },
    );
    fc.assert(
      fc.property(anyJson, (v) => acceptOrRefuse(() => parseVlmConfig(v, "config.json"))),
      { numRuns: 300, seed: 4 },
    );
  });
  it("refuses hidden_size 1e9 with a memory estimate", () => {
    const cfg = structuredClone(base);
    cfg.decoder.hidden_size = 1e9;
    expect(() => parseVlmConfig(cfg, "config.json")).toThrow(/config\.json: a model of [\d,]+ parameters: would need about [\d.]+ [GT]B of memory/);
  });
});

describe("tokenizer.json under fuzz", () => {
  const dir = mkdtempSync(join(tmpdir(), "lavit-tokfuzz-"));
  it("reads or refuses any file", () => {
    const vocab = fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...SPECIAL_TOKENS)), { maxLength: 30 });
    const doc = fc.oneof(
      anyJson.map((v) => JSON.stringify(v)),
      fc.record({ type: fc.constantFrom("word-level", "bpe"), specials: fc.array(fc.string()), vocab }).map((v) => JSON.stringify(v)),
      fc
        .record({ type: fc.constant("word-level"), specials: fc.constant([]), vocab: vocab.map((v) => [...SPECIAL_TOKENS, ...v]) })
        .map((v) => JSON.stringify(v)),
      fc.string(),
    );
    let i = 0;
    fc.assert(
      fc.property(doc, (text) => {
        const file = join(dir, `t${i++}.json`);
        writeFileSync(file, text);
        acceptOrRefuse(() => Tokenizer.read(file));
      }),
      { numRuns: 400, seed: 5 },
    );
  });
});

describe("PNG reader under fuzz", () => {
  const good = encodePng(new Uint8Array(4 * 4 * 3).fill(7), 4, 4);
  it("decodes or refuses random bytes and mutated PNGs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => acceptOrRefuse(() => decodePng(b, "x.png"))),
      { numRuns: 1000, seed: 6 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat({ max: good.length }),
        (edits, cut) => {
          const b = Uint8Array.from(good.subarray(0, Math.max(cut, 8)));
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          acceptOrRefuse(() => decodePng(b, "x.png"));
        },
      ),
      { numRuns: 1000, seed: 7 },
    );
  });
  it("refuses a header claiming a huge image before decoding it", () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(100000, 16);
    b.writeUInt32BE(100000, 20);
    expect(() => decodePng(b, "big.png")).toThrow(/big\.png: 100000x100000 pixels is outside what lavit reads/);
    expect(() => decodePng(good, "s.png", { width: 8, height: 8 })).toThrow(/image is 4x4, expected 8x8/);
  });
});
