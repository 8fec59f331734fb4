import { describe, expect, it } from "vitest";
import { Command } from "commander";
import { givenOptions } from "../../src/cli/options.js";

describe("CLI options", () => {
  it("passes on only what the user gave, so the stage's defaults decide the rest", () => {
    const given = (args: string[]) => {
      let seen: Record<string, unknown> = {};
      const program = new Command().exitOverride();
      program
        .command("x")
        .option("--steps <n>", "", Number, 500)
        .option("--lr <x>", "", Number, 0.001)
        .option("--no-traj", "")
        .action((_: unknown, cmd: Command) => {
          seen = givenOptions(cmd);
        });
      program.parse(["node", "lavit", "x", ...args]);
      return seen;
    };
    expect(given(["--steps", "60", "--no-traj"])).toEqual({ steps: 60, traj: false });
    expect(given([])).toEqual({});
  });
});
