import { describe, expect, it, vi } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { assertOutputLocation } from "../../src/util/paths.js";
import { assertInsideRoot } from "../../src/util/read-guard.js";
import { checkReplaceable, MARKER_FILE, writeMarker } from "../../src/util/marker.js";
import { buildDirAtomic, removeStaleSiblings } from "../../src/util/atomic.js";

const fresh = () => mkdtempSync(join(tmpdir(), "lavit-paths-"));

describe("paths", () => {
  it("keeps reads inside their root unless allowed, without quoting contents", () => {
    const root = fresh();
    const ds = join(root, "ds");
    mkdirSync(join(ds, "train"), { recursive: true });
    writeFileSync(join(root, "secret.txt"), "TOP SECRET");
    symlinkSync(join(root, "secret.txt"), join(ds, "train", "escape.png"));
    expect(assertInsideRoot(ds, "train/a.png", "img")).toBe(join(ds, "train", "a.png"));
    expect(assertInsideRoot(ds, join(ds, "train", "a.png"), "img")).toBe(join(ds, "train", "a.png"));
    expect(() => assertInsideRoot(ds, "../secret.txt", "m.jsonl: image")).toThrow(
      /m\.jsonl: image: path "\.\.\/secret\.txt" leads outside .*--allow-outside-root/,
    );
    expect(() => assertInsideRoot(ds, "/etc/passwd", "img")).toThrow(/leads outside/);
    expect(() => assertInsideRoot(ds, "train/escape.png", "img")).toThrow(/leads outside/);
    try {
      assertInsideRoot(ds, "train/escape.png", "img");
    } catch (e) {
      expect((e as Error).message).not.toContain("TOP SECRET");
    }
    expect(assertInsideRoot(ds, "../secret.txt", "img", true)).toBe(join(root, "secret.txt"));
  });

  it("refuses special file systems and paths below a file", () => {
    expect(() => assertOutputLocation("/proc/x")).toThrow(/kernel file system \/proc/);
    const root = fresh();
    writeFileSync(join(root, "f"), "x");
    expect(() => assertOutputLocation(join(root, "f", "out"))).toThrow(/is a file, not a folder/);
    expect(() => assertOutputLocation(join(root, "a", "b"))).not.toThrow();
  });
});

describe("--force and the lavit marker", () => {
  it("replaces only a marked folder of the same kind, never the cwd, home or root", () => {
    const root = fresh();
    const mine = join(root, "mine");
    mkdirSync(mine);
    writeFileSync(join(mine, "x"), "1");
    expect(() => checkReplaceable(mine, "dataset", false)).toThrow(/already exists and is not empty \(use --force/);
    expect(() => checkReplaceable(mine, "dataset", true)).toThrow(/was not made by lavit \(no \.lavit\.json\)/);
    writeMarker(mine, "signals");
    expect(() => checkReplaceable(mine, "dataset", true)).toThrow(/holds a lavit signals folder, not a dataset folder/);
    expect(checkReplaceable(mine, "signals", true)).toBe(true);
    expect(checkReplaceable(join(root, "none"), "signals", true)).toBe(false);
    expect(() => checkReplaceable(".", "dataset", true)).toThrow(/is the current folder/);
    expect(() => checkReplaceable("/", "dataset", true)).toThrow(/file system root/);
    expect(() => checkReplaceable(process.env.HOME ?? "/root", "dataset", true)).toThrow(/home folder|contains the current folder/);
    writeFileSync(join(root, "file"), "");
    expect(() => checkReplaceable(join(root, "file"), "dataset", true)).toThrow(/is a file, not a folder/);
  });

  it("buildDirAtomic marks new folders of a kind", async () => {
    const root = fresh();
    await buildDirAtomic(join(root, "d"), (tmp) => writeFileSync(join(tmp, "a"), "1"), "dataset");
    expect(readdirSync(join(root, "d")).sort()).toEqual([MARKER_FILE, "a"]);
  });
});

describe("stale temp folders", () => {
  it("are removed when their process is gone, kept while it runs", async () => {
    const root = fresh();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout);
    mkdirSync(join(root, `.tmp-data-${deadPid}-0123abcd`));
    writeFileSync(join(root, `.tmp-data-${deadPid}-0123abcd`, "big"), "x");
    writeFileSync(join(root, `.tmp-model.safetensors-${deadPid}-89abcdef`), "x");
    mkdirSync(join(root, `.tmp-data-${process.pid}-00000000`));
    mkdirSync(join(root, `.tmp-data-1-00000000`)); // init never dies
    mkdirSync(join(root, ".tmp-notours"));
    await buildDirAtomic(join(root, "data"), () => {});
    // Moved aside at once, deleted in the background.
    await vi.waitFor(() =>
      expect(readdirSync(root).sort()).toEqual([".tmp-data-1-00000000", `.tmp-data-${process.pid}-00000000`, ".tmp-notours", "data"].sort()),
    );
    expect(removeStaleSiblings(join(root, "missing")).moved).toEqual([]);
    expect(existsSync(join(root, "data"))).toBe(true);
  });

  it("are moved aside before any work and deleted in the background, saying so on stderr; a dead run's trash is taken up", async () => {
    const root = fresh();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout);
    const big = join(root, `.tmp-data-${deadPid}-0123abcd`);
    mkdirSync(join(big, "images"), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(big, "images", `${i}.png`), "x");
    mkdirSync(join(root, `.trash-.old-x-1-00000000-${deadPid}-0123abcd`));
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    let r: ReturnType<typeof removeStaleSiblings>;
    let said = "";
    try {
      r = removeStaleSiblings(root);
      said = String(err.mock.calls[0]?.[0]);
    } finally {
      err.mockRestore();
    }
    expect(r.moved.sort()).toEqual([big, join(root, `.trash-.old-x-1-00000000-${deadPid}-0123abcd`)].sort());
    // Nothing under the old names once the call returns.
    expect(readdirSync(root).filter((n) => n.startsWith(".tmp-") || n.startsWith(".old-"))).toEqual([]);
    expect(said).toMatch(/^lavit: deleting 2 temp folders left by a stopped run in .*, in the background \(/);
    await r.done;
    expect(readdirSync(root)).toEqual([]);
  });
});
