import { z } from "zod";
import { UserError } from "../errors.js";
import { flagOf } from "./presets.js";
import { MAX_SEED } from "../util/limits.js";

/**
 * One validation layer for every stage's options, shared by the CLI and the library: each stage
 * states its options as a strict zod object built from these fields, checks them on entry, and
 * the CLI's parsers take their ranges from the same fields, so a range is written once.
 */

/** The largest count or seed lavit takes. */
export const MAX_INT = MAX_SEED;

/** An integer in [min, max]. */
export const intIn = (min: number, max = MAX_INT) => z.number().int().min(min).max(max);
/** A finite number in [min, max]. */
export const numIn = (min: number, max: number) => z.number().min(min).max(max);
/** A path or name: a non-empty string. */
export const text = () => z.string().min(1);
export const flag = () => z.boolean();

export const positiveInt = () => intIn(1);
export const countOrZero = () => intIn(0);
export const seedField = () => intIn(0);

/** What a schema's options are called in an unknown-key message ("student option"). */
const nouns = new WeakMap<z.ZodType, string>();

/** Names what a schema's options are (for messages such as `unknown student option "x"`) and returns it. */
export function named<S extends z.ZodType>(schema: S, noun: string): S {
  nouns.set(schema, noun);
  return schema;
}

/** The schema with every key optional (the option sets a study file gives), keeping its name. */
export function partialOptions<S extends z.ZodObject>(schema: S): ReturnType<S["partial"]> {
  const partial = schema.partial();
  nouns.set(partial, nouns.get(schema) ?? "option");
  return partial as ReturnType<S["partial"]>;
}

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 60) + "..." : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

function unwrap(t: z.ZodType): z.ZodType {
  let s: z.ZodType = t;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** What a field wants, in the CLI's words. */
export function describeField(t: z.ZodType): string {
  const nullable = t instanceof z.ZodNullable || (t instanceof z.ZodOptional && t.unwrap() instanceof z.ZodNullable);
  const s = unwrap(t);
  let what: string;
  if (s.description) what = s.description;
  else if (s instanceof z.ZodNumber) what = `${s.isInt ? "an integer" : "a number"} in [${s.minValue}, ${s.maxValue}]`;
  else if (s instanceof z.ZodEnum) what = `one of ${s.options.join(", ")}`;
  else if (s instanceof z.ZodBoolean) what = "true or false";
  else if (s instanceof z.ZodString) what = "a non-empty string";
  else if (s instanceof z.ZodArray) what = `a non-empty list of ${describeField(s.element as z.ZodType).replace(/^an? /, "")}s`;
  else if (s instanceof z.ZodRecord || s instanceof z.ZodObject) what = "an object";
  else what = "valid";
  return nullable ? `${what} or null` : what;
}

function fieldAt(schema: z.ZodType, key: string): z.ZodType | undefined {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>)[key] : undefined;
}

/**
 * Checks `value` against a stage's options schema. The first problem is a UserError naming the
 * option as the CLI does (`--steps must be an integer in [1, 2147483647], got -1`), prefixed by
 * `where` when given (`studies/x.json: variants.no-align: unknown student option "tarj"`).
 */
export function validateOptions<S extends z.ZodType>(schema: S, value: unknown, where = ""): z.output<S> {
  const prefix = where ? `${where}: ` : "";
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UserError(`${prefix}options must be an object, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue.code === "unrecognized_keys") throw new UserError(`${prefix}unknown ${nouns.get(schema) ?? "option"} ${shown(issue.keys[0])}`);
  const key = String(issue.path[0] ?? "");
  const given = (value as Record<string, unknown>)[key];
  const field = fieldAt(schema, key);
  if (given === undefined) throw new UserError(`${prefix}${flagOf(key)} is required`);
  const sub = issue.path.length > 1 ? ` (at ${issue.path.slice(1).join(".")}: ${issue.message})` : "";
  throw new UserError(`${prefix}${flagOf(key)} must be ${field ? describeField(field) : "valid"}, got ${shown(given)}${sub}`);
}

/** The bounds of a numeric option, for the CLI's parser. */
export function numericBounds(field: z.ZodType): { int: boolean; min: number; max: number } {
  const s = unwrap(field);
  if (!(s instanceof z.ZodNumber)) throw new Error("numericBounds: not a number field");
  return { int: !!s.isInt, min: s.minValue ?? -Infinity, max: s.maxValue ?? Infinity };
}
