import { Command, CommanderError } from "commander";
import { isUserError } from "../errors.js";
import { commandModules } from "./registry.js";

export function buildProgram(): Command {
  const program = new Command("lavit")
    .description("LaViT: latent visual thoughts for multi-modal reasoning, on a CPU")
    .showHelpAfterError()
    .exitOverride();
  for (const mod of commandModules) mod.register(program);
  // exitOverride is not inherited by sub-commands added later, so apply it everywhere.
  const applyOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.showHelpAfterError();
    for (const sub of cmd.commands) applyOverride(sub);
  };
  applyOverride(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 failure, 2 bad usage/input). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version requests are successes; every other parse problem is a usage error.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 2;
    }
    if (isUserError(e)) {
      process.stderr.write(`lavit: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`lavit: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
