import type { Command } from "commander";

export interface CommandModule {
  register(program: Command): void;
}

/** Every sub-command lives in its own file; add it here. */
export const commandModules: CommandModule[] = [];
