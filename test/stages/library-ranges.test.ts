import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as lib from "../../src/index.js";
import { UserError } from "../../src/errors.js";
import { optionParser } from "../../src/cli/parse.js";
import { flagOf } from "../../src/stages/presets.js";
import { importOptionsSchema } from "../../src/stages/import.js";
import { loadedEvaluationOptionsSchema } from "../../src/stages/evaluate.js";
import { studyRunOptionsSchema } from "../../src/study/run.js";
import { studyReportOptionsSchema } from "../../src/study/report.js";
import type { LoadedSplit, ModelHandle } from "../../src/index.js";

/** Inputs that do not exist and an output below a file: a call that passed validation would fail fast after it. */
const MISSING = "/nonexistent-lavit-input";
const NO_OUT = "/dev/null/lavit-out";

type Call = (o: never) => Promise<unknown>;

/** Every stage's library function (what src/index.ts exports), with the schema its options are checked against. */
const STAGES: Record<string, { schema: z.ZodObject; call: Call }> = {
  generate: { schema: lib.generateOptionsSchema, call: lib.generate },
  importData: { schema: importOptionsSchema, call: lib.importData },
  extract: { schema: lib.extractOptionsSchema, call: lib.extract },
  trainTeacher: { schema: lib.teacherOptionsSchema, call: lib.trainTeacher },
  trainBase: { schema: lib.baseOptionsSchema, call: lib.trainBase },
  trainStudent: { schema: lib.studentOptionsSchema, call: lib.trainStudent },
  evaluate: { schema: lib.evaluateOptionsSchema, call: lib.evaluate },
  evaluateTeacherForced: { schema: lib.diagnosticOptionsSchema, call: lib.evaluateTeacherForced },
  evaluateVisionTower: { schema: lib.diagnosticOptionsSchema, call: lib.evaluateVisionTower },
  // Its options are checked before the handle and split are looked at.
  evaluateLoaded: { schema: loadedEvaluationOptionsSchema, call: (o) => lib.evaluateLoaded({} as ModelHandle, {} as LoadedSplit, o) },
  gap: { schema: lib.gapOptionsSchema, call: lib.gap },
  ask: { schema: lib.askOptionsSchema, call: lib.ask },
  demo: { schema: lib.demoOptionsSchema, call: lib.demo },
  runStudy: { schema: studyRunOptionsSchema, call: lib.runStudy },
  reportStudy: { schema: studyReportOptionsSchema, call: lib.reportStudy },
};

/** The other functions src/index.ts exports: readers, metrics and helpers, with no options object to range-check. */
const NOT_STAGES = [
  "UserError",
  "isUserError",
  "initEngine",
  "validateOptions",
  "partialOptions",
  "defaultWarmup",
  "jensenShannon",
  "entropy",
  "topkIou",
  "sampleGaze",
  "meanGaze",
  "mapGaze",
  "meanGap",
  "uniformGap",
  "uniformGaze",
  "sampleRegions",
  "loadSplit",
  "readDatasetInfo",
  "readManifest",
  "parseManifest",
  "Tokenizer",
  "readVlmConfig",
  "readModelFolder",
  "loadModel",
  "openSignals",
  "detectLayout",
  "readSignalsSummary",
  "joinSignals",
  "checkJoin",
  "normaliseQuestion",
];

function unwrap(t: z.ZodType): z.ZodType {
  let s = t;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s;
}

/** The schema's required options, each given a value that passes (inputs missing, outputs unwritable). */
function requiredOptions(schema: z.ZodObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (f instanceof z.ZodOptional) continue;
    const s = unwrap(f);
    if (s instanceof z.ZodString) out[k] = k === "out" ? NO_OUT : MISSING;
    else if (s instanceof z.ZodArray) out[k] = [MISSING];
    else throw new Error(`no value for the required option ${k}`);
  }
  return out;
}

/** Numbers just outside a numeric field, and numbers no range holds. */
function badNumbers(field: z.ZodNumber): number[] {
  const min = field.minValue!;
  const max = field.maxValue!;
  return [min - 1, max + 1, NaN, Infinity, -Infinity, ...(field.isInt ? [min + 0.5] : [])];
}

/** The CLI's words for a flag's range: `--steps must be an integer in [1, 2147483647]`. */
function cliRange(shape: Record<string, z.ZodType>, key: string): string {
  try {
    optionParser(shape, key)("-1e400");
  } catch (e) {
    const m = /^(--[a-z0-9-]+ must be an? (integer|number) in \[[^\]]+\])/.exec((e as Error).message);
    if (m) return m[1];
  }
  throw new Error(`the CLI's parser for ${key} refused nothing`);
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error("the call passed"),
    (e: unknown) => e,
  );
}

describe("library callers' numbers: every stage refuses a bad one as the CLI does, naming the option", () => {
  it("the stages listed here are every stage src/index.ts exports", () => {
    const functions = Object.entries(lib)
      .filter(([, v]) => typeof v === "function")
      .map(([k]) => k)
      .sort();
    expect(functions).toEqual([...Object.keys(STAGES), ...NOT_STAGES].sort());
  });

  for (const [name, { schema, call }] of Object.entries(STAGES)) {
    const shape = schema.shape as Record<string, z.ZodType>;
    const numeric = Object.entries(shape).filter(([, f]) => unwrap(f) instanceof z.ZodNumber);
    if (!numeric.length) continue;
    it(`${name}: ${numeric.map(([k]) => k).join(", ")}`, async () => {
      for (const [key, field] of numeric) {
        const range = cliRange(shape, key);
        expect(range.startsWith(flagOf(key) + " ")).toBe(true);
        for (const bad of badNumbers(unwrap(field) as z.ZodNumber)) {
          const e = await refusal(call({ ...requiredOptions(schema), [key]: bad } as never));
          expect(e, `${name}({ ${key}: ${bad} })`).toBeInstanceOf(UserError);
          expect((e as UserError).message).toBe(`${range}, got ${bad}`);
        }
      }
    });
  }

  it("every stage with options takes a number somewhere, or says why not", () => {
    const without = Object.entries(STAGES)
      .filter(([, { schema }]) => !Object.values(schema.shape as Record<string, z.ZodType>).some((f) => unwrap(f) instanceof z.ZodNumber))
      .map(([k]) => k);
    // Study reports take folders and flags alone.
    expect(without).toEqual(["reportStudy"]);
  });
});
