import { UserError } from "../errors.js";
import type { TrajectorySignals } from "./records.js";

/**
 * One sample's signals as read from its files, before any resizing or normalising: what
 * `checkDecodedSample` tests. Both layouts' readers build one per sample, so `signals check` and
 * training refuse the same folders with the same messages.
 */
export interface DecodedSample {
  /** Names the sample in messages, e.g. "results.3 (sample abc)". */
  name: string;
  /** The trajectory file the steps came from. */
  trajectoryFile: string;
  /** Each step's p_t as stored (JSON numbers). */
  pT: readonly ArrayLike<number>[];
  /** V_top as decoded [rows, dim], with its file; absent when a folder is read without V_top. */
  vTop?: { file: string; rows: number; dim: number; data: ArrayLike<number> };
}

/**
 * Refuses, naming the file, a sample whose signals cannot mean what they claim (the layout
 * readers call it on each sample as decoded, before resizing hides what was stored):
 * - every p_t value finite and non-negative once stored as float32 (1e300 is Infinity there),
 *   and each step's sum > 0 (a map that puts weight nowhere cannot be normalised);
 * - V_top at least one row and a width > 0, finite, with one row per p_t value (the teacher's
 *   grid, or N_img in the official layout).
 */
export function checkDecodedSample(s: DecodedSample): void {
  for (const [t, p] of s.pT.entries()) {
    const at = `${s.trajectoryFile}: ${s.name}: steps.${t}.p_t`;
    if (p.length === 0) throw new UserError(`${at} is empty`);
    let sum = 0;
    for (let i = 0; i < p.length; i++) {
      const v = Math.fround(p[i]);
      if (!(Number.isFinite(v) && v >= 0)) throw new UserError(`${at}.${i} is ${p[i]}, not a finite non-negative number as float32`);
      sum += v;
    }
    if (!(sum > 0)) throw new UserError(`${at} sums to 0 (as float32): the step puts weight on no patch`);
  }
  const v = s.vTop;
  if (!v) return;
  const where = `${v.file}: ${s.name}: V_top`;
  if (!(v.rows > 0 && v.dim > 0)) throw new UserError(`${where} has shape [${v.rows}, ${v.dim}]; it needs at least one row and a width > 0`);
  for (const [t, p] of s.pT.entries())
    if (p.length !== v.rows)
      throw new UserError(`${s.name}: ${s.trajectoryFile} steps.${t}.p_t has ${p.length} values but V_top ${v.file} has ${v.rows} rows (one per image token)`);
  for (let i = 0; i < v.data.length; i++)
    if (!Number.isFinite(v.data[i])) throw new UserError(`${where} holds ${v.data[i]} at row ${Math.floor(i / v.dim)}, column ${i % v.dim}`);
}

/**
 * The semantic check every sample passes on its way out of a reader, whatever its layout: the
 * one place such checks belong (openSignals calls it for each sample it reads). The layout
 * readers have already checked the files' structure and run checkDecodedSample. `width` is the
 * V_top width of the first sample read (undefined before it): every sample must have it.
 * Returns the width for the next call.
 */
export function checkSample(s: TrajectorySignals, where: string, width?: number): number | undefined {
  if (!s.vTop) return width;
  if (s.vTop.data.length !== s.vTop.rows * s.vTop.dim)
    throw new UserError(`${where}: V_top holds ${s.vTop.data.length} values, not ${s.vTop.rows} x ${s.vTop.dim}`);
  if (width !== undefined && s.vTop.dim !== width) throw new UserError(`${where}: V_top has width ${s.vTop.dim}, but the first sample read has ${width}`);
  return s.vTop.dim;
}
