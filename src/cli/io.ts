import type { Command } from "commander";
import type { IoSpec } from "../util/io-guard.js";

/**
 * Which of a command's options (and positional arguments, by label) are paths it reads or
 * writes: the same IoSpec its stage hands the output guard. Every command with a path option
 * declares one; test/cli/io-guard.test.ts walks the program and fails on an output-looking
 * option that no spec declares as an output.
 */
const specs = new WeakMap<Command, IoSpec>();

export function declareIo(cmd: Command, spec: IoSpec): Command {
  specs.set(cmd, spec);
  return cmd;
}

export function ioSpecOf(cmd: Command): IoSpec | undefined {
  return specs.get(cmd);
}
