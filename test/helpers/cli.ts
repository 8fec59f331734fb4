import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { newest } from "../../scripts/newest.mjs";
import { join } from "node:path";

const root = process.cwd();

/**
 * The built CLI when dist/ is at least as new as src/ (`npm test` builds first): it starts in
 * about half the time of compiling the sources on the fly, and the tests spawn it often. A
 * vitest run on edited sources without a build falls back to the sources, so it never tests
 * stale code.
 */
const built = existsSync(join(root, "dist", "cli", "run.js")) && newest(join(root, "dist"), ".js") >= newest(join(root, "src"), ".ts");

/** How to start `lavit` as a plain node process: the program and its leading arguments. */
export const LAVIT: { command: string; args: readonly string[] } = built
  ? { command: process.execPath, args: [join(root, "bin", "lavit.js")] }
  : { command: process.execPath, args: ["--import", "tsx", join(root, "src", "cli", "run.ts")] };

/** Runs the `lavit` CLI, capturing output and exit code. */
export function runCli(args: string[], env: Record<string, string> = {}, options: SpawnSyncOptions = {}) {
  return spawnSync(LAVIT.command, [...LAVIT.args, ...args], {
    encoding: "utf8",
    ...options,
    env: { ...process.env, LAVIT_NO_PROGRESS: "1", ...env },
  }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
}
