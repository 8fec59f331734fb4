import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { processAlive } from "../../src/util/process.js";

describe("processAlive", () => {
  it("this process runs; a pid that cannot exist does not", () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(0)).toBe(false);
    expect(processAlive(-5)).toBe(false);
    expect(processAlive(2 ** 31 - 2)).toBe(false);
  });

  it.runIf(process.platform === "linux")("a zombie (exited, not reaped by its parent) is not alive; its parent is", async () => {
    // The parent forks a child that exits at once and never waits for it, so the child stays a zombie.
    const parent = spawn("python3", ["-c", "import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid,flush=True)\ntime.sleep(30)"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const line = await new Promise<string>((done) => createInterface({ input: parent.stdout! }).once("line", done));
      const zombie = Number(line);
      // Give the child the moment it takes to exit.
      for (let i = 0; i < 100 && processAlive(zombie); i++) await new Promise((r) => setTimeout(r, 20));
      expect(processAlive(zombie)).toBe(false);
      expect(processAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
