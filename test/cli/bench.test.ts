import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("lavit bench step", () => {
  it("refuses --unfused for a config without a grounding term, naming the flag (exit 2, one line)", () => {
    const r = runCli(["bench", "step", "--config", "small", "--unfused"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--unfused: only --config teacher/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  });
});
