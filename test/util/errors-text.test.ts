import { describe, expect, it, vi } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeAllocationError, describeFsError, quoteInput } from "../../src/util/errors-text.js";
import { writeFileAtomic } from "../../src/util/atomic.js";
import { reportError } from "../../src/cli/main.js";

const fsError = (code: string, path: string, syscall = "open") => Object.assign(new Error(`${code}: x, ${syscall} '${path}'`), { code, path, syscall });

describe("error lines", () => {
  it("names the path and what to do, exit 2 for a path the user gave", () => {
    expect(describeFsError(fsError("ENOENT", "/a/b.json"), ["eval", "--model", "/a"])).toEqual({
      message: "/a/b.json: does not exist; check the path (open)",
      exitCode: 2,
    });
    expect(describeFsError(fsError("EACCES", "/x/out"), ["--out=/x/out/sub"])?.exitCode).toBe(2);
    expect(describeFsError(fsError("EACCES", "/elsewhere/f"), ["--out", "/x"])?.exitCode).toBe(1);
    expect(describeFsError(fsError("ENOSPC", "/x/out/m"), ["--out", "/x/out"])).toEqual({
      message: "/x/out/m: no space left on the device; free some space or write to another disk (open)",
      exitCode: 1,
    });
    expect(describeFsError(fsError("EEXIST", "/dev/null", "mkdir"), ["--out", "/dev/null/x"])?.message).toMatch(/is a file where a folder is needed/);
    expect(describeFsError(new Error("plain"), [])).toBeNull();
    expect(describeAllocationError(new RangeError("Array buffer allocation failed"))?.message).toMatch(/more memory than this process can allocate/);
    expect(describeAllocationError(new RangeError("Invalid typed array length: 4000000000000"))?.exitCode).toBe(2);
  });

  it("a write onto a folder or into an unwritable folder names the user's path", () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-err-"));
    mkdirSync(join(root, "dir"));
    expect(() => writeFileAtomic(join(root, "dir"), "x")).toThrow(/dir is a folder, but a file is written there/);
    const ro = join(root, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    let err: NodeJS.ErrnoException | undefined;
    try {
      writeFileAtomic(join(ro, "f.json"), "x");
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    chmodSync(ro, 0o700);
    // root may write anywhere; elsewhere the error names the file asked for, not a temp name.
    if (err) expect(err.path).toBe(join(ro, "f.json"));
    writeFileSync(join(root, "ok"), "");
  });

  it("prints one line without a stack unless LAVIT_DEBUG=1", () => {
    let out = "";
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    try {
      expect(reportError(new TypeError("Cannot read properties of undefined (reading 'x')"), [])).toBe(1);
      expect(out).toBe("lavit: TypeError: Cannot read properties of undefined (reading 'x') (run with LAVIT_DEBUG=1 to see where it happened)\n");
      out = "";
      expect(reportError(new RangeError("Invalid array length"), [])).toBe(2);
      expect(out.split("\n")).toHaveLength(2);
      out = "";
      process.env.LAVIT_DEBUG = "1";
      reportError(new Error("boom"), []);
      expect(out).toMatch(/lavit: boom\nError: boom\n\s+at /);
    } finally {
      delete process.env.LAVIT_DEBUG;
      spy.mockRestore();
    }
  });
});

describe("quoteInput", () => {
  it("quotes short input whole, on one line", () => {
    expect(quoteInput("what color ?")).toBe('"what color ?"');
    expect(quoteInput('a "b"\nc')).toBe('"a \\"b\\"\\nc"');
  });
  it("cuts long input to about 200 characters and says how long it was", () => {
    const q = "x".repeat(1_000_000);
    const s = quoteInput(q);
    expect(s).toMatch(/^"x{140}…x{60}" \(1000000 characters\)$/);
  });
});
