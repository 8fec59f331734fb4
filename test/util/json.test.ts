import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../../src/errors.js";
import { checkJson, parseJsonText, readJson } from "../../src/util/json.js";

const schema = z.object({ name: z.string(), layers: z.array(z.object({ size: z.number().int().positive() })) }).strict();

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("readJson", () => {
  const dir = mkdtempSync(join(tmpdir(), "lavit-json-"));

  it("returns the typed value of a valid file", () => {
    const file = join(dir, "ok.json");
    writeFileSync(file, JSON.stringify({ name: "a", layers: [{ size: 2 }] }));
    expect(readJson(file, schema)).toEqual({ name: "a", layers: [{ size: 2 }] });
  });

  it("names the file and what it should hold when it cannot be read, with the hint", () => {
    const e = thrown(() => readJson(join(dir, "missing.json"), schema, { what: "model config", hint: "is it a model folder?" }));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${join(dir, "missing.json")}: cannot read model config (no such file); is it a model folder?`);
  });

  it("names the file and the field path of the first bad field", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ name: "a", layers: [{ size: 2 }, { size: -1 }] }));
    const e = thrown(() => readJson(file, schema));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: field layers\\.1\\.size: `));
    expect(thrown(() => checkJson([], schema, "x.json")).message).toMatch(/^x\.json: field \(root\): /);
  });

  it("never quotes the file's contents, whatever the bad text or bad values", () => {
    const secret = fc.stringMatching(/^[a-z]{12,40}$/);
    fc.assert(
      fc.property(
        secret,
        fc.constantFrom('{"name": SECRET}', "SECRET", "[1, SECRET]", '{"name": "x", "layers": [], "SECRET": 1}', '{"name": 5, "layers": [{"size": "SECRET"}]}'),
        (s, shape) => {
          const file = join(dir, "s.json");
          writeFileSync(file, shape.replace("SECRET", s));
          const e = thrown(() => readJson(file, schema));
          expect(e).toBeInstanceOf(UserError);
          const unrecognisedKey = shape.includes('"SECRET": 1');
          // A key the schema does not know is named (it is a field, not a value).
          if (!unrecognisedKey) expect(e.message).not.toContain(s);
          expect(e.message.startsWith(`${file}: `)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("parseJsonText names the place and says why, without the text", () => {
    const e = thrown(() => parseJsonText('{"a": hello world}', "m.jsonl:3"));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/^m\.jsonl:3: not valid JSON \(/);
    expect(e.message).not.toContain("hello");
  });
});
