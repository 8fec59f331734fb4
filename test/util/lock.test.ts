import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, lockFileFor } from "../../src/util/lock.js";
import { UserError } from "../../src/errors.js";

// Node itself with tsx's loader (not the tsx wrapper), so the child's pid is the holder's.
const node = (args: string[]) => [process.execPath, ["--import", "tsx", ...args]] as const;
const helper = join(process.cwd(), "test", "helpers", "hold-lock.ts");

function startHolder(out: string) {
  const child = spawn(...node([helper, out]), { stdio: ["ignore", "pipe", "inherit"] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
    child.on("exit", () => reject(new Error("holder exited early")));
  });
  return { child, ready };
}

describe("output lock", () => {
  it("refuses a second writer naming the holder, and takes over the lock of a killed one", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-lock-")), "run");
    const { child, ready } = startHolder(out);
    await ready;
    let err: unknown;
    try {
      acquireLock(out);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`--out ${out} is being written by another lavit run (pid ${child.pid} on`);
    const gone = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await gone;
    // The dead holder's lock is still there; it is taken over.
    expect(existsSync(lockFileFor(out))).toBe(true);
    const lock = acquireLock(out);
    expect(JSON.parse(readFileSync(lockFileFor(out), "utf8")).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(lockFileFor(out))).toBe(false);
  });

  it("is released when its process exits or is stopped by SIGTERM", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-lock-")), "run");
    const r = spawnSync(...node([helper, out, "exit"]), { encoding: "utf8" });
    expect(r.stdout).toContain("locked");
    expect(existsSync(lockFileFor(out))).toBe(false);
    const { child, ready } = startHolder(out);
    await ready;
    const gone = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_c, s) => res(s)));
    child.kill("SIGTERM");
    expect(await gone).toBe("SIGTERM");
    expect(existsSync(lockFileFor(out))).toBe(false);
  });

  it("takes over an unreadable lock and refuses one held on another host", () => {
    const out = join(mkdtempSync(join(tmpdir(), "lavit-lock-")), "run");
    writeFileSync(lockFileFor(out), "");
    acquireLock(out).release();
    writeFileSync(lockFileFor(out), JSON.stringify({ pid: 1, host: "elsewhere.example", started: "then", token: "x" }));
    expect(() => acquireLock(out)).toThrow(/pid 1 on elsewhere\.example/);
  });

  it("refuses a folder at the lock path with a UserError, moving nothing aside", () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-lock-"));
    const out = join(parent, "run");
    mkdirSync(lockFileFor(out));
    writeFileSync(join(lockFileFor(out), "keep"), "x");
    let err: unknown;
    try {
      acquireLock(out);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `--out ${out}: its lock path ${lockFileFor(out)} is a folder, so no lock can be taken; remove it yourself or choose another --out`,
    );
    expect(readdirSync(parent)).toEqual([".run.lavit-lock"]);
    expect(readdirSync(lockFileFor(out))).toEqual(["keep"]);
  });

  it("refuses an output name too long for its lock's name, with a UserError", () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-lock-"));
    expect(() => acquireLock(join(parent, "x".repeat(255)), "--dump-attention")).toThrow(UserError);
    expect(() => acquireLock(join(parent, "x".repeat(255)))).toThrow(/^--out: the name x+\.\.\. is 255 bytes long/);
    acquireLock(join(parent, "x".repeat(200))).release();
    expect(readdirSync(parent)).toEqual([]);
  });
});
