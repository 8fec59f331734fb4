import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { processAlive } from "../../src/util/process.js";

describe("demo student worker", () => {
  it("exits when its parent is killed with SIGKILL", async () => {
    const parent = spawn(process.execPath, ["--import", "tsx", join(process.cwd(), "test", "helpers", "fork-worker.ts")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      let text = "";
      parent.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
        const m = /worker (\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      parent.on("exit", () => reject(new Error("parent exited early")));
    });
    // Let the worker load its modules and start listening on the channel.
    await new Promise((r) => setTimeout(r, 3000));
    expect(processAlive(pid)).toBe(true);
    parent.kill("SIGKILL");
    const t0 = Date.now();
    while (processAlive(pid) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    const alive = processAlive(pid);
    if (alive) process.kill(pid, "SIGKILL");
    expect(alive).toBe(false);
  }, 60_000);
});
