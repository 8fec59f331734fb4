import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertInsideRoot, readRegularFile, resolveAsKernel } from "../../src/util/read-guard.js";
import { isUserError } from "../../src/errors.js";
import { readJsonValue } from "../../src/util/json.js";
import { readPng } from "../../src/data/png.js";
import { imageSize } from "../../src/io/jpeg.js";
import { readImageAny } from "../../src/data/read-image.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { readPth } from "../../src/io/pth.js";
import { readBoxes } from "../../src/signals/regions.js";
import { readManifest } from "../../src/data/manifest.js";
import { readSafetensorsMetadata } from "../../src/model/checkpoint.js";

const fresh = () => mkdtempSync(join(tmpdir(), "lavit-read-"));

function fifo(path: string): string {
  const r = spawnSync("mkfifo", [path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
  return path;
}

function userErrorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(isUserError(e), String(e)).toBe(true);
    return e as Error;
  }
  throw new Error("did not throw");
}

describe("read guard: only regular files are opened", () => {
  it("refuses a FIFO, a folder and a device without blocking, and reads a regular file", () => {
    const root = fresh();
    const pipe = fifo(join(root, "pipe"));
    writeFileSync(join(root, "ok.txt"), "hello");
    expect(readRegularFile(join(root, "ok.txt"), "utf8")).toBe("hello");
    expect(userErrorOf(() => readRegularFile(pipe)).message).toBe(`${pipe}: is a FIFO (named pipe), not a regular file; lavit reads only regular files`);
    expect(userErrorOf(() => readRegularFile(root)).message).toMatch(/is a folder, not a regular file/);
    expect(userErrorOf(() => readRegularFile("/dev/zero")).message).toMatch(/\/dev\/zero: is a device, not a regular file/);
    // A missing file keeps Node's own error, so each reader can say "no such file".
    expect(() => readRegularFile(join(root, "missing"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("every file reader refuses a FIFO with a one-line UserError naming it", () => {
    const root = fresh();
    const pipe = fifo(join(root, "pipe"));
    mkdirSync(join(root, "train"));
    fifo(join(root, "train", "manifest.jsonl"));
    const readers: [string, () => unknown][] = [
      ["json", () => readJsonValue(pipe)],
      ["png", () => readPng(pipe)],
      ["any image", () => readImageAny(pipe)],
      ["image size", () => imageSize(pipe)],
      ["safetensors", () => readSafetensors(pipe)],
      ["safetensors metadata", () => readSafetensorsMetadata(pipe)],
      ["pth", () => readPth(pipe)],
      ["boxes", () => readBoxes(pipe)],
      ["manifest", () => readManifest(root, "train")],
    ];
    for (const [name, read] of readers) {
      const e = userErrorOf(read);
      expect(e.message, name).toMatch(/pipe|manifest\.jsonl/);
      expect(e.message, name).toMatch(/FIFO/);
      expect(e.message, name).not.toContain("\n");
    }
  });
});

describe("read guard: paths read from a file stay inside their root", () => {
  it("gives one message whether the outside path exists or not", () => {
    const base = fresh();
    const root = join(base, "root");
    mkdirSync(root);
    writeFileSync(join(base, "secret.txt"), "TOP SECRET");
    symlinkSync(join(base, "secret.txt"), join(root, "link-existing"));
    symlinkSync(join(base, "missing.txt"), join(root, "link-dangling"));
    const wording = (p: string) => userErrorOf(() => assertInsideRoot(root, p, "m.json: image")).message.replace(p, "PATH");
    const same = wording("../secret.txt");
    expect(same).toBe(`m.json: image: path "PATH" leads outside ${root}; lavit reads only inside that folder (pass --allow-outside-root to read it anyway)`);
    for (const p of ["../missing.txt", join(base, "secret.txt"), join(base, "missing.txt"), "link-existing", "link-dangling", "/etc/passwd", "/nonexistent/x"])
      expect(wording(p), p).toBe(same);
  });

  it("applies .. after a symlink as the kernel does, not lexically", () => {
    const base = fresh();
    const root = join(base, "root");
    mkdirSync(join(root, "sub"), { recursive: true });
    mkdirSync(join(base, "outside", "deep"), { recursive: true });
    writeFileSync(join(base, "outside", "x"), "secret");
    symlinkSync(join(base, "outside", "deep"), join(root, "sub", "link"));
    // Lexically sub/link/../../x is root/x; the kernel opens outside/x.
    expect(resolveAsKernel(join(root, "sub", "link") + "/../x")).toBe(join(base, "outside", "x"));
    expect(() => assertInsideRoot(root, "sub/link/../x", "img")).toThrow(/leads outside/);
    writeFileSync(join(root, "sub", "a.png"), "");
    expect(assertInsideRoot(root, "sub/a.png", "img")).toBe(join(root, "sub", "a.png"));
    expect(assertInsideRoot(root, "sub/link/../x", "img", true)).toBe(join(base, "outside", "x"));
  });
});
