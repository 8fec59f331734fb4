import { describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive } from "../../src/util/process.js";

/** The pids of `pid`'s pool workers (tsx's loader may have an esbuild child of its own). */
function workersOf(pid: number): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter((l) => /study[/\\]worker\.[jt]s/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

describe("a pool's parent stopped by a signal", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`takes its workers with it and dies of the signal (${signal})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "lavit-pool-sig-"));
      const parent = spawn(process.execPath, ["--import", "tsx", join(process.cwd(), "test", "helpers", "pool-run.ts"), dir], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => parent.on("exit", (code, sig) => res({ code, signal: sig })));
      // The worker is under way once its temporary dataset folder has images.
      const working = () => readdirSync(dir).some((n) => n.startsWith(".tmp-data-") && existsSync(join(dir, n, "teacher-train", "images", "000010.png")));
      const t0 = Date.now();
      while (!working()) {
        if (Date.now() - t0 > 50_000) throw new Error("the worker never started");
        await new Promise((r) => setTimeout(r, 100));
      }
      const workers = workersOf(parent.pid!);
      expect(workers.length).toBe(1);
      parent.kill(signal);
      expect(await exit).toEqual({ code: null, signal });
      const t1 = Date.now();
      while (workers.some(processAlive) && Date.now() - t1 < 20_000) await new Promise((r) => setTimeout(r, 100));
      const alive = workers.filter(processAlive);
      for (const pid of alive) process.kill(pid, "SIGKILL");
      expect(alive).toEqual([]);
    }, 90_000);
  }
});
