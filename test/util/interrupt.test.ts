import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockFileFor } from "../../src/util/lock.js";
import { LAVIT, runCli } from "../helpers/cli.js";

/** The CLI as a plain node process, so the signal reaches lavit itself. */
function start(args: string[]) {
  const child = spawn(LAVIT.command, [...LAVIT.args, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LAVIT_NO_PROGRESS: "1" },
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("exit", (code, signal) => res({ code, signal })));
  return { child, exit, stderr: () => stderr };
}

/** Resolves once `ready()` holds (polled), or rejects when the child ended first. */
async function until(ready: () => boolean, exit: Promise<unknown>): Promise<void> {
  let ended = false;
  void exit.then(() => (ended = true));
  while (!ready()) {
    if (ended) throw new Error("the run ended before it was interrupted");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("SIGTERM and SIGINT during long synchronous work", () => {
  it("stop `data generate` mid-split: the lock released, no output and no temp folder left", async () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-sig-"));
    const out = join(parent, "data");
    // Minutes of work without the signal.
    const run = start(["data", "generate", "--out", out, "--teacher-train", "1000000", "--train", "1", "--test", "2"]);
    const images = () => readdirSync(parent).some((n) => n.startsWith(".tmp-data-") && existsSync(join(parent, n, "teacher-train", "images", "000020.png")));
    await until(images, run.exit);
    expect(existsSync(lockFileFor(out))).toBe(true);
    run.child.kill("SIGTERM");
    const { signal } = await run.exit;
    expect(signal).toBe("SIGTERM");
    expect(readdirSync(parent)).toEqual([]);
    expect(run.stderr()).not.toMatch(/at .*\.[jt]s:\d+/);
  }, 60_000);

  it("stop training between steps: the lock released, the run resumable", async () => {
    const parent = mkdtempSync(join(tmpdir(), "lavit-sig-"));
    const data = join(parent, "data");
    const g = runCli(["data", "generate", "--out", data, "--teacher-train", "8", "--train", "2", "--test", "2", "--size", "32", "--patch", "8", "--quiet"]);
    expect(g.status, g.stderr).toBe(0);
    const out = join(parent, "teacher");
    const run = start([
      "train",
      "teacher",
      "--data",
      data,
      "--out",
      out,
      "--steps",
      "1000000",
      "--batch-size",
      "2",
      "--log-every",
      "1",
      "--checkpoint-every",
      "1000000",
    ]);
    await until(() => existsSync(join(out, "metrics.jsonl")), run.exit);
    run.child.kill("SIGINT");
    const { signal } = await run.exit;
    expect(signal).toBe("SIGINT");
    expect(existsSync(lockFileFor(out))).toBe(false);
    expect(readdirSync(parent).sort()).toEqual(["data", "teacher"]);
  }, 120_000);
});
