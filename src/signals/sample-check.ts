import { UserError } from "../errors.js";
import type { TrajectorySignals } from "./records.js";

/**
 * The semantic check every sample passes on its way out of a reader, whatever its layout: the
 * one place such checks belong (openSignals calls it for each sample it reads). The layout
 * readers have already checked the files' structure.
 */
export function checkSample(s: TrajectorySignals, where: string): void {
  if (s.vTop && s.vTop.data.length !== s.vTop.rows * s.vTop.dim)
    throw new UserError(`${where}: V_top holds ${s.vTop.data.length} values, not ${s.vTop.rows} x ${s.vTop.dim}`);
}
