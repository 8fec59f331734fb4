import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** Debian's python3-torch is installed for /usr/bin/python3, not for a pyenv python3 on PATH. */
export const PYTHON = process.env.LAVIT_PYTHON ?? "/usr/bin/python3";
export const FIXTURES = join(process.cwd(), "test", "fixtures");

function probe(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Whether the torch tests run: with torch present, yes. Without it they are skipped with a
 * message, unless LAVIT_EXPECT_TORCH=1 (CI), where a missing torch is a failure.
 */
export function torchAvailable(): boolean {
  const version = probe();
  if (version) return true;
  if (process.env.LAVIT_EXPECT_TORCH === "1") throw new Error(`LAVIT_EXPECT_TORCH=1 but ${PYTHON} cannot import torch (install Debian's python3-torch)`);
  console.warn(`skipping the PyTorch client tests: ${PYTHON} cannot import torch (install python3-torch; set LAVIT_EXPECT_TORCH=1 to make this a failure)`);
  return false;
}

export function runPython(script: string, args: string[]) {
  const r = spawnSync(PYTHON, [join(FIXTURES, script), ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}
