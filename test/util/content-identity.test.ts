import { describe, expect, it } from "vitest";
import { cpSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentIdentity } from "../../src/util/content-identity.js";

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "lavit-identity-"));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

describe("contentIdentity", () => {
  it("is the same for a copy and a moved folder, and ignores dot-files (lavit's markers)", () => {
    const a = folder({ "model.safetensors": "w", "sub/config.json": "{}", ".lavit.json": '{"kind":"model"}' });
    const copy = join(mkdtempSync(join(tmpdir(), "lavit-identity-")), "copy");
    cpSync(a, copy, { recursive: true });
    writeFileSync(join(copy, ".lavit.json"), "other");
    expect(contentIdentity(copy)).toBe(contentIdentity(a));
    const moved = `${copy}-moved`;
    renameSync(copy, moved);
    expect(contentIdentity(moved)).toBe(contentIdentity(a));
  });

  it("changes with a file's bytes, its name, or its place in the tree", () => {
    const id = contentIdentity(folder({ "a/x": "1", b: "2" }));
    expect(contentIdentity(folder({ "a/x": "3", b: "2" }))).not.toBe(id);
    expect(contentIdentity(folder({ "a/y": "1", b: "2" }))).not.toBe(id);
    expect(contentIdentity(folder({ x: "1", b: "2" }))).not.toBe(id);
    expect(contentIdentity(folder({ "a/x": "1", b: "2", c: "" }))).not.toBe(id);
  });

  it("fingerprints a single file by its bytes", () => {
    const d = folder({ f: "abc", g: "abc", h: "abd" });
    expect(contentIdentity(join(d, "f"))).toBe(contentIdentity(join(d, "g")));
    expect(contentIdentity(join(d, "f"))).not.toBe(contentIdentity(join(d, "h")));
  });
});
