import { InvalidArgumentError } from "commander";
import type { z } from "zod";
import { numericBounds } from "../stages/options-schema.js";
import { flagOf } from "../stages/presets.js";
import { MAX_SEED } from "../util/limits.js";

export { MAX_SEED };

/**
 * A strict decimal integer: digits only (no sign, spaces, hex, exponent or fraction, which
 * `Number()` would quietly accept: "0x10" is 16, "1e3" is 1000, " 5" is 5, "" is 0).
 */
export function parseIntStrict(flag: string, value: string, min: number, max: number): number {
  const what = `${flag} must be an integer in [${min}, ${max}]`;
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${what} (digits only), got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what}, got "${value}"`);
  return n;
}

/**
 * Commander argument parser for a positive (or, with allowZero, non-negative) integer flag,
 * at most `max` (by default 2^31 - 1: no count lavit handles is larger).
 */
export function parsePositiveInt(flag: string, allowZero = false, max = MAX_SEED) {
  return (value: string): number => parseIntStrict(flag, value, allowZero ? 0 : 1, max);
}

/** Commander argument parser for a seed: an integer in [0, 2^31 - 1]. */
export function parseSeedFlag(flag = "--seed") {
  return (value: string): number => parseIntStrict(flag, value, 0, MAX_SEED);
}

/** A plain decimal number: optional sign, digits with an optional fraction, optional exponent. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Commander argument parser for a number within [min, max]. */
export function parseNumberIn(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = DECIMAL.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a number in [${min}, ${max}], got "${value}"`);
    return n;
  };
}

/**
 * Commander argument parser for a stage option, with the range its schema states (so the CLI
 * and the library check one range): `optionParser(studentOptionsSchema.shape, "wVtop")` parses --w-vtop.
 */
export function optionParser<F extends Record<string, z.ZodType>>(fields: F, key: keyof F & string) {
  const flag = flagOf(key);
  const b = numericBounds(fields[key]);
  return b.int ? (value: string): number => parseIntStrict(flag, value, b.min, b.max) : parseNumberIn(flag, b.min, b.max);
}

/** The values an enum option takes, as its schema states them (for commander's `.choices`). */
export function choicesOf<F extends Record<string, z.ZodType>>(fields: F, key: keyof F & string): string[] {
  let t: z.ZodType = fields[key];
  while ("unwrap" in t && typeof t.unwrap === "function") t = t.unwrap() as z.ZodType;
  if (!("options" in t) || !Array.isArray(t.options)) throw new Error(`choicesOf: ${key} is not an enum option`);
  return t.options.map(String);
}
