import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Command, Option } from "commander";
import { buildProgram } from "../../src/cli/main.js";
import { leafCommands, runMain } from "../helpers/cli-in-process.js";

/**
 * The argument layer under random values: for every command and every flag that parses a
 * value, any value (numbers of every size and shape, hex, exponents, signs, spaces, text) ends
 * in exit 0, 1 or 2 with no stack trace. Inputs are paths that do not exist and --out is below
 * a file, so every run fails fast right after parsing instead of doing work.
 */
const MISSING = "/nonexistent-lavit-input";
const NO_OUT = "/dev/null/lavit-out";
// bench runs for as many steps (or products of any size) as asked: it has no inputs to fail fast on.
const SKIP = new Set(["bench step", "bench gemm"]);

interface Leaf {
  path: string[];
  args: string[];
  valued: Option[];
}

/** Each leaf command with the arguments that let it parse, and its flags that parse a value. */
function leaves(program: Command): Leaf[] {
  return leafCommands(program).map(({ path, cmd }) => leaf(path, cmd));
}

function leaf(path: string[], cmd: Command): Leaf {
  const args: string[] = [];
  for (const a of cmd.registeredArguments) if (a.required) args.push(a.name() === "question" ? "is it red" : MISSING);
  for (const o of cmd.options)
    if (o.mandatory) args.push(`${o.long}=${o.long === "--out" ? NO_OUT : o.long === "--split" ? "train" : o.long === "--id" ? "x" : MISSING}`);
  // Optional inputs and outputs too: never the defaults, which may be real folders.
  for (const o of cmd.options) if (!o.mandatory && o.required && !o.parseArg) args.push(`${o.long}=${o.long === "--out" ? NO_OUT : MISSING}`);
  return { path, args, valued: cmd.options.filter((o) => o.required && o.parseArg) };
}

const value = fc.oneof(
  fc.integer({ min: -5, max: 70 }).map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom(
    "0x10",
    "1e3",
    " 5",
    "5 ",
    "1.0",
    "+3",
    "",
    "NaN",
    "Infinity",
    "-0",
    "007",
    "9007199254740993",
    "1e30",
    "1e-3",
    "0",
    "1",
    "2147483648",
    "attention",
    "lavit",
  ),
  fc.string({ maxLength: 12 }),
);

let stderr = "";

/** The CLI in process: its exit code, its stderr kept in `stderr` for the assertions that follow. */
async function run(argv: string[]): Promise<number> {
  const r = await runMain(argv);
  stderr = r.stderr;
  return r.code;
}

describe("CLI argument layer", () => {
  const all = leaves(buildProgram()).filter((l) => !SKIP.has(l.path.join(" ")) && l.valued.length > 0);

  it("knows the commands it fuzzes", () => {
    expect(all.map((l) => l.path.join(" "))).toEqual(expect.arrayContaining(["data generate", "train teacher", "train student", "extract", "eval", "demo"]));
  });

  for (const leaf of all) {
    it(`${leaf.path.join(" ")}: random flag values end in exit 0, 1 or 2 without a stack trace`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.tuple(fc.constantFrom(...leaf.valued.map((o) => o.long!)), value), { minLength: 1, maxLength: 4, selector: ([f]) => f }),
          async (flags) => {
            const argv = [...leaf.path, ...leaf.args, ...flags.map(([f, v]) => `${f}=${v}`)];
            const code = await run(argv);
            expect([0, 1, 2], `${argv.join(" ")}\n${stderr}`).toContain(code);
            expect(stderr, argv.join(" ")).not.toMatch(/\n\s+at .*:\d+:\d+/);
          },
        ),
        { numRuns: 150, seed: 24 },
      );
    }, 20_000);
  }

  it("rejects loose integers that Number() would take", async () => {
    for (const v of ["0x10", "1e3", " 5", "1.0", "+3", "", "-1", "9007199254740993"]) {
      expect(await run(["data", "generate", `--out=${NO_OUT}`, `--train=${v}`]), v).toBe(2);
      expect(stderr).toMatch(/--train must be an integer/);
    }
    expect(await run(["data", "generate", `--out=${NO_OUT}`, "--seed=2147483648"])).toBe(2);
  });

  it("shows a stack only with LAVIT_DEBUG=1", async () => {
    process.env.LAVIT_DEBUG = "1";
    try {
      expect(await run(["data", "generate", `--out=${NO_OUT}`])).toBe(2);
      expect(stderr).toMatch(/\n\s+at .*:\d+:\d+/);
    } finally {
      delete process.env.LAVIT_DEBUG;
    }
    expect(await run(["data", "generate", `--out=${NO_OUT}`])).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/\/dev\/null is a file, not a folder/);
  });
});
