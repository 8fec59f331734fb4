import { vi } from "vitest";
import type { Command } from "commander";
import { main } from "../../src/cli/main.js";

/** Every command that has no sub-command, with the names that reach it ("data", "generate"). */
export function leafCommands(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  if (cmd.commands.length) return cmd.commands.flatMap((c) => leafCommands(c, [...path, c.name()]));
  return [{ path, cmd }];
}

/**
 * Runs `lavit ...argv` in this process (no spawn: fast enough to fuzz), with stdout dropped
 * and stderr captured: the exit code and what it wrote there.
 */
export async function runMain(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    const code = await main(["node", "lavit", ...argv]);
    return { code, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}
