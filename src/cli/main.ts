import { Command, CommanderError } from "commander";
import { isUserError } from "../errors.js";
import { describeAllocationError, describeFsError } from "../util/errors-text.js";
import { commandModules } from "./registry.js";

export function buildProgram(): Command {
  const program = new Command("lavit").description("LaViT: latent visual thoughts for multi-modal reasoning, on a CPU").showHelpAfterError().exitOverride();
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

/** LAVIT_DEBUG=1 adds the stack to every error message (never shown otherwise). */
function debugging(): boolean {
  return !!process.env.LAVIT_DEBUG && process.env.LAVIT_DEBUG !== "0";
}

/**
 * An error as the user sees it: one line, exit 1 (a failure) or 2 (bad usage or input). Only
 * LAVIT_DEBUG=1 shows a stack trace.
 */
export function reportError(e: unknown, args: readonly string[]): number {
  const stack = debugging() && e instanceof Error && e.stack ? `\n${e.stack}` : "";
  const say = (line: string) => process.stderr.write(`lavit: ${line}${stack}\n`);
  if (isUserError(e)) {
    say(e.message);
    return 2;
  }
  const known = describeFsError(e, args) ?? describeAllocationError(e);
  if (known) {
    say(known.message);
    return known.exitCode;
  }
  const message = e instanceof Error ? `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message.split("\n")[0]}` : String(e);
  say(`${message}${stack ? "" : " (run with LAVIT_DEBUG=1 to see where it happened)"}`);
  return 1;
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 failure, 2 bad usage/input). */
export async function main(argv: string[]): Promise<number> {
  let program: Command;
  try {
    program = buildProgram();
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version requests are successes; every other parse problem is a usage error.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 2;
    }
    return reportError(e, argv.slice(2));
  }
}
