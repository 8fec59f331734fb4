import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { z } from "zod";
import { InvalidArgumentError } from "commander";
import { UserError } from "../../src/errors.js";
import { describeField, partialOptions, validateOptions } from "../../src/stages/options-schema.js";
import { generate, generateOptionsSchema } from "../../src/stages/generate.js";
import { extract, extractOptionsSchema } from "../../src/stages/extract.js";
import { baseOptionsSchema, teacherOptionsSchema, trainBase, trainTeacher } from "../../src/stages/pretrain.js";
import { partialStudentOptionsSchema, studentOptionsSchema, trainStudent } from "../../src/stages/train-student.js";
import { diagnosticOptionsSchema, evaluate, evaluateOptionsSchema, evaluateTeacherForced, evaluateVisionTower } from "../../src/stages/evaluate.js";
import { gap, gapOptionsSchema } from "../../src/stages/gap.js";
import { ask, askOptionsSchema } from "../../src/stages/ask.js";
import { runDemo } from "../../src/demo/pipeline.js";
import { demoOptionsSchema } from "../../src/demo/recipe.js";
import { readDatasetInfo } from "../../src/data/manifest.js";
import { optionParser } from "../../src/cli/parse.js";
import { buildProgram } from "../../src/cli/main.js";
import type { Command } from "commander";
import { flagOf } from "../../src/stages/presets.js";
import { TRAINER_FIELDS } from "../../src/stages/trainer-options.js";
import { savedTeacherSignals } from "../helpers/signals.js";

/** Inputs that do not exist and an output below a file: a run that passes validation fails fast after it. */
const MISSING = "/nonexistent-lavit-input";
const NO_OUT = "/dev/null/lavit-out";

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof UserError)) throw new Error(`expected a UserError, got ${String(e)}`);
  return e.message;
}

const base = { data: MISSING, signals: MISSING, out: NO_OUT };

describe("the library refuses what the CLI refuses, in the CLI's words", () => {
  it.each([
    ["--train must be an integer in [1, 2147483647], got -1", () => generate({ out: NO_OUT, train: -1 })],
    ["--prior must be a number in [0, 1], got 2", () => generate({ out: NO_OUT, prior: 2 })],
    ['--size must be an integer in [1, 2147483647], got "64"', () => generate({ out: NO_OUT, size: "64" as unknown as number })],
    ['--seed must be an integer in [0, 2147483647], got "abc"', () => generate({ out: NO_OUT, seed: "abc" as unknown as number })],
    ["--train must be an integer in [1, 2147483647], got Infinity", () => generate({ out: NO_OUT, train: Infinity })],
    ["--steps must be an integer in [1, 2147483647], got NaN", () => trainStudent({ ...base, steps: NaN })],
    ["--steps must be an integer in [1, 2147483647], got -1", () => trainStudent({ ...base, steps: -1 })],
    ["--latents must be an integer in [0, 2147483647], got -1", () => trainStudent({ ...base, latents: -1 })],
    ["--batch-size must be an integer in [1, 2147483647], got 0", () => trainStudent({ ...base, batchSize: 0 })],
    ["--lr must be a number in [0, 1], got -1", () => trainStudent({ ...base, lr: -1 })],
    ["--clip must be a number in [0, 1000000], got -1", () => trainStudent({ ...base, clip: -1 })],
    ["--w-vtop must be a number in [0, 100], got NaN", () => trainStudent({ ...base, wVtop: NaN })],
    ['--mode must be one of lavit, distill, got "both"', () => trainStudent({ ...base, mode: "both" as "lavit" })],
    ["--limit must be an integer in [1, 2147483647], got -1", () => evaluate({ model: MISSING, data: MISSING, split: "test-ood", limit: -1 })],
    ['--compare must be a non-empty list of non-empty strings, got "dir"', () => gap({ teacher: MISSING, compare: "dir" as unknown as string[], out: NO_OUT })],
    ["--out is required", () => generate({} as never)],
    ["--data is required", () => trainStudent({ signals: MISSING, out: NO_OUT } as never)],
    ["--data is required", () => trainTeacher({ out: NO_OUT } as never)],
    ["--aux-patch must be a number in [0, 100], got -1", () => trainBase({ data: MISSING, out: NO_OUT, auxPatch: -1 })],
    ['--layers must be all, official or last:N, got "first:2"', () => extract({ data: MISSING, out: NO_OUT, layers: "first:2" as never })],
    ["--top must be an integer in [1, 2147483647], got 0", () => ask({ question: "is it red", model: MISSING, image: MISSING, top: 0 })],
    ["--seeds must be an integer in [1, 2147483647], got 0", () => runDemo({ seeds: 0 })],
    ["--limit must be an integer in [1, 2147483647], got 0", () => evaluateTeacherForced({ model: MISSING, data: MISSING, split: "train", limit: 0 })],
    ['unknown student option "tarj"', () => trainStudent({ ...base, tarj: 1 } as never)],
  ])("%s", async (message, call) => {
    expect(await refusal(call())).toBe(message);
  });

  it("names where an option set came from (a study file's variant)", () => {
    expect(() => validateOptions(partialStudentOptionsSchema, { tarj: 1 }, "studies/x.json: variants.no-align")).toThrow(
      new UserError('studies/x.json: variants.no-align: unknown student option "tarj"'),
    );
    expect(() => validateOptions(partialStudentOptionsSchema, { steps: 0 }, "studies/x.json: variants.a")).toThrow(
      new UserError("studies/x.json: variants.a: --steps must be an integer in [1, 2147483647], got 0"),
    );
    expect(validateOptions(partialStudentOptionsSchema, { traj: false, vtop: false }, "x")).toEqual({ traj: false, vtop: false });
    const gen = partialOptions(generateOptionsSchema);
    expect(validateOptions(gen, { train: 400, prior: 0.5 }, "x")).toEqual({ train: 400, prior: 0.5 });
    expect(() => validateOptions(gen, { trian: 4 }, "f.json: data")).toThrow(new UserError('f.json: data: unknown generate option "trian"'));
    expect(() => validateOptions(gen, [], "f.json")).toThrow(new UserError("f.json: options must be an object, got an array"));
  });

  it("every stage command's flags are its schema's options, with its choices and ranges", () => {
    const program = buildProgram();
    const find = (path: string[]) => path.reduce<Command>((c, name) => c.commands.find((x) => x.name() === name)!, program);
    const commands: [string[], z.ZodObject][] = [
      [["data", "generate"], generateOptionsSchema],
      [["extract"], extractOptionsSchema],
      [["train", "teacher"], teacherOptionsSchema],
      [["train", "base"], baseOptionsSchema],
      [["train", "student"], studentOptionsSchema],
      [["eval"], evaluateOptionsSchema],
      [["gap"], gapOptionsSchema],
      [["ask"], askOptionsSchema],
      [["demo"], demoOptionsSchema],
    ];
    // Flags the CLI handles itself before calling the stage.
    const cliOnly = new Set(["--recipe", "--quick", "--json", "--teacher-forced", "--vision-heads", "--image-for-answer"]);
    for (const [path, schema] of commands) {
      const shape = schema.shape as Record<string, z.ZodType>;
      const byFlag = new Map(Object.keys(shape).map((k) => [flagOf(k), k]));
      for (const opt of find(path).options) {
        const long = opt.long!.replace(/^--no-/, "--");
        if (cliOnly.has(long)) continue;
        const key = byFlag.get(long);
        expect(key, `${path.join(" ")} ${opt.long}`).toBeDefined();
        if (opt.argChoices) expect(describeField(shape[key!]), opt.long).toBe(`one of ${opt.argChoices.join(", ")}`);
        // A numeric flag refuses just outside its schema's range and takes its ends.
        const field = shape[key!];
        const inner = field instanceof z.ZodOptional ? field.unwrap() : field;
        if (inner instanceof z.ZodNumber && opt.parseArg) {
          expect(opt.parseArg(String(inner.minValue), undefined), opt.long).toBe(inner.minValue);
          expect(opt.parseArg(String(inner.maxValue), undefined), opt.long).toBe(inner.maxValue);
          expect(() => opt.parseArg!(String(inner.minValue! - 1), undefined), opt.long).toThrow(/must be/);
        }
      }
    }
  });

  it("the CLI's parsers take their ranges from the schemas", () => {
    const steps = optionParser(TRAINER_FIELDS, "steps");
    expect(steps("5")).toBe(5);
    expect(() => steps("0")).toThrow(new InvalidArgumentError('--steps must be an integer in [1, 2147483647], got "0"'));
    const wVtop = optionParser(studentOptionsSchema.shape, "wVtop");
    expect(wVtop("2.5")).toBe(2.5);
    expect(() => wVtop("101")).toThrow(new InvalidArgumentError('--w-vtop must be a number in [0, 100], got "101"'));
  });
});

/** A value a field accepts: small counts, so a valid run stays cheap. */
function validValue(field: z.ZodType, key: string): fc.Arbitrary<unknown> {
  let s: z.ZodType = field;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodNumber) {
    const min = s.minValue!;
    const max = s.maxValue!;
    return s.isInt ? fc.integer({ min, max: Math.min(max, min + 3) }) : fc.double({ min, max, noNaN: true });
  }
  if (s instanceof z.ZodEnum) return fc.constantFrom(...(s.options as string[]));
  if (s instanceof z.ZodBoolean) return fc.boolean();
  if (s instanceof z.ZodArray) return fc.constant([MISSING]);
  if (s instanceof z.ZodString) return fc.constant(key === "out" || key.startsWith("dump") || key === "predictions" || key === "heatmap" ? NO_OUT : MISSING);
  if (s instanceof z.ZodRecord) return fc.constant({ depth: 2 });
  throw new Error(`no generator for ${key}`);
}

const JUNK = fc.constantFrom<unknown>(-1, 0, 0.5, 1.5, NaN, Infinity, -Infinity, 1e300, -1e-300, "64", "abc", "", null, true, {}, [], [1]);

/** A valid value most of the time, junk sometimes. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: JUNK });

/** Option objects: each key absent, valid or junk; sometimes an unknown key. */
function optionsOf(schema: z.ZodObject): fc.Arbitrary<Record<string, unknown>> {
  const shape = schema.shape as Record<string, z.ZodType>;
  const entries = Object.fromEntries(
    Object.entries(shape).map(([k, f]) => [
      k,
      f instanceof z.ZodOptional ? fc.option(fc.oneof(validValue(f, k), JUNK), { nil: undefined }) : fc.oneof({ weight: 4, arbitrary: validValue(f, k) }, JUNK),
    ]),
  );
  return fc.tuple(fc.record(entries), fc.option(fc.constantFrom("tarj", "step", "Out"), { nil: undefined, freq: 5 })).map(([o, extra]) => {
    const clean = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    return extra ? { ...clean, [extra]: 1 } : clean;
  });
}

/** What validation alone says of `o`: undefined when it passes, else the message. */
function verdict(schema: z.ZodObject, o: unknown): string | undefined {
  try {
    validateOptions(schema, o);
    return undefined;
  } catch (e) {
    return (e as UserError).message;
  }
}

/**
 * The only outcomes allowed: a UserError, or a run that completes. Options the schema refuses
 * are refused by the stage with the schema's message (so the stage validates, and first);
 * options it accepts hold only finite numbers in the CLI's ranges.
 */
async function userErrorOrRun(schema: z.ZodObject, o: Record<string, unknown>, run: (o: never) => Promise<unknown>): Promise<void> {
  const refused = verdict(schema, o);
  const shape = schema.shape as Record<string, z.ZodType>;
  if (refused === undefined) for (const [k, v] of Object.entries(o)) if (typeof v === "number") expect(optionParser(shape, k)(String(v)), k).toBe(v);
  try {
    await run(o as never);
    expect(refused).toBeUndefined();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    expect(e.message).not.toMatch(/\n/);
    if (refused !== undefined) expect(e.message).toBe(refused);
  }
}

describe("every stage under random options: a UserError or a valid run", () => {
  const stages: [string, z.ZodObject, (o: never) => Promise<unknown>][] = [
    ["generate", generateOptionsSchema, generate],
    ["extract", extractOptionsSchema, extract],
    ["trainTeacher", teacherOptionsSchema, trainTeacher],
    ["trainBase", baseOptionsSchema, trainBase],
    ["trainStudent", studentOptionsSchema, trainStudent],
    ["evaluate", evaluateOptionsSchema, evaluate],
    ["evaluateTeacherForced", diagnosticOptionsSchema, evaluateTeacherForced],
    ["evaluateVisionTower", diagnosticOptionsSchema, evaluateVisionTower],
    ["gap", gapOptionsSchema, gap],
    ["ask", askOptionsSchema, ask],
    ["demo", demoOptionsSchema, runDemo],
  ];
  it.each(stages)("%s", async (_, schema, stage) => {
    await fc.assert(
      fc.asyncProperty(optionsOf(schema), (o) => userErrorOrRun(schema, o, stage)),
      { numRuns: 60, seed: 29 },
    );
  });

  it("a describable message for every field", () => {
    for (const [, schema] of stages) for (const f of Object.values(schema.shape as Record<string, z.ZodType>)) expect(describeField(f)).not.toBe("valid");
  });

  it("generate: small options write a dataset that reads back", async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-schema-"));
    let n = 0;
    let written = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          size: fc.constantFrom(32, 48, 64, 40),
          patch: fc.constantFrom(8, 16, 3),
          prior: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), JUNK),
          train: fc.oneof(fc.integer({ min: 1, max: 6 }), JUNK),
          test: fc.integer({ min: 1, max: 4 }),
          teacherTrain: fc.integer({ min: 0, max: 3 }),
        }),
        async (o) => {
          const out = join(root, String(n++));
          await userErrorOrRun(generateOptionsSchema, { ...o, out, quiet: true }, generate);
          if (existsSync(out)) {
            expect(readDatasetInfo(out).splits.train).toBe(o.train);
            written++;
          }
        },
      ),
      { numRuns: 25, seed: 33 },
    );
    expect(written).toBeGreaterThan(0);
  });

  it("trainStudent: small options on real signals train or are refused", async () => {
    const { data, signals, root } = await savedTeacherSignals({ teacherTrain: 2, train: 8, test: 2 }, { layers: 2, prefix: "lavit-schema-st-" });
    let n = 0;
    let trained = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            mode: fc.constantFrom("lavit", "distill"),
            steps: mostly(fc.integer({ min: 1, max: 3 })),
            latents: mostly(fc.integer({ min: 0, max: 3 })),
            batchSize: mostly(fc.integer({ min: 1, max: 4 })),
            lr: mostly(fc.double({ min: 0, max: 1, noNaN: true })),
            clip: mostly(fc.double({ min: 0, max: 10, noNaN: true })),
            wVtop: mostly(fc.double({ min: 0, max: 100, noNaN: true })),
            trajTopk: fc.integer({ min: 0, max: 20 }),
            gateSchedule: fc.constantFrom("none", "cosine", "two-stage"),
          },
          { requiredKeys: ["mode", "steps"] },
        ),
        async (o) => {
          const out = join(root, `s${n++}`);
          // Distill takes no LaViT option: a contradiction the stage refuses, which is also allowed.
          await userErrorOrRun(studentOptionsSchema, { ...o, data, signals, out, initFrom: null, quiet: true }, trainStudent);
          if (existsSync(join(out, "model.safetensors"))) trained++;
        },
      ),
      { numRuns: 12, seed: 7 },
    );
    expect(trained).toBeGreaterThan(0);
  }, 120_000);
});
