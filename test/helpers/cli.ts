import { spawnSync } from "node:child_process";
import { join } from "node:path";

const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
const cli = join(process.cwd(), "src", "cli", "run.ts");

/** Runs the `lavit` CLI from source (no build needed), capturing output and exit code. */
export function runCli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(tsx, [cli, ...args], { encoding: "utf8", env: { ...process.env, LAVIT_NO_PROGRESS: "1", ...env } });
}
