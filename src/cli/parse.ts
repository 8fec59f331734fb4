import { InvalidArgumentError } from "commander";

/** Commander argument parser for a positive (or, with allowZero, non-negative) integer flag. */
export function parsePositiveInt(flag: string, allowZero = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new InvalidArgumentError(`${flag} must be a${allowZero ? " non-negative" : " positive"} integer, got "${value}"`);
    return n;
  };
}

/** Commander argument parser for a number within [min, max]. */
export function parseNumberIn(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a number in [${min}, ${max}], got "${value}"`);
    return n;
  };
}
