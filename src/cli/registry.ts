import type { Command } from "commander";
import * as bench from "./bench.js";
import * as data from "./data.js";
import * as trainCli from "./train.js";
import * as evalCli from "./eval.js";
import * as extractCli from "./extract.js";
import * as askCli from "./ask.js";
import * as demoCli from "./demo.js";
import * as info from "./info.js";
import * as signalsCli from "./signals.js";
import * as gapCli from "./gap.js";
import * as studyCli from "./study.js";

export interface CommandModule {
  register(program: Command): void;
}

/** Every sub-command lives in its own file; add it here. */
export const commandModules: CommandModule[] = [demoCli, info, data, trainCli, extractCli, evalCli, gapCli, askCli, signalsCli, studyCli, bench];
