import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Argument, Command, Option } from "commander";
import { buildProgram } from "../../src/cli/main.js";
import { leafCommands, runMain } from "../helpers/cli-in-process.js";
import { ioSpecOf } from "../../src/cli/io.js";
import { flagOf, isOutput, type IoRole, type IoSpec } from "../../src/util/io-guard.js";

/**
 * Every command's paths go through the output guard. The program is walked: every option or
 * argument that takes a path must be declared in the command's IoSpec, and every option whose
 * name says it writes must be declared as an output. Then each declared output is tried, in
 * process, over an existing file or folder and over an input: the guard must refuse it (exit 2,
 * its own words, nothing changed) before the command reads anything. A new command with an
 * output that skips the declaration, or a stage that skips the guard, fails here.
 */

/** Option names that say "this is written". */
const OUTPUT_NAME = /^--(out|output|predictions|heatmap|report|dump(-[\w-]+)?|save[\w-]*|write[\w-]*|export[\w-]*)$/;
/** Value placeholders of a path. */
const PATH_VALUE = /<(dir|file|png|path|folder|root|image)s?>/;
/** Descriptions of a path option that say it is written. */
const WRITTEN = /^(write|output)\b|\bto write\b/i;
/** Positional arguments that are paths. */
const PATH_ARG = /^(dir|root|file|path|folder|image)s?$/;

interface Leaf {
  name: string;
  path: string[];
  cmd: Command;
}

const leaves = (program: Command): Leaf[] => leafCommands(program).map(({ path, cmd }) => ({ name: path.join(" "), path, cmd }));

const pathOptions = (cmd: Command) => cmd.options.filter((o: Option) => OUTPUT_NAME.test(o.long ?? "") || PATH_VALUE.test(o.flags));
const pathArgs = (cmd: Command) => cmd.registeredArguments.filter((a: Argument) => PATH_ARG.test(a.name()));

const all = leaves(buildProgram());

describe("every command declares its paths to the output guard", () => {
  it("knows the commands that write", () => {
    const writing = all.filter((l) => Object.values(ioSpecOf(l.cmd) ?? {}).some(isOutput)).map((l) => l.name);
    expect(writing).toEqual(
      expect.arrayContaining([
        "data generate",
        "data show",
        "train teacher",
        "train base",
        "train student",
        "extract",
        "eval",
        "gap",
        "ask",
        "demo",
        "study run",
        "study report",
      ]),
    );
  });

  for (const leaf of all) {
    it(`${leaf.name}: every path option and argument is declared, every output-looking option as an output`, () => {
      const spec = ioSpecOf(leaf.cmd);
      const opts = pathOptions(leaf.cmd);
      const args = pathArgs(leaf.cmd);
      if (!opts.length && !args.length) return;
      expect(spec, `${leaf.name} takes paths but declares no IoSpec (declareIo in src/cli/io.ts)`).toBeDefined();
      for (const o of opts) {
        const role = spec![o.attributeName()];
        expect(role, `${leaf.name} ${o.long} is not in its IoSpec`).toBeDefined();
        if (OUTPUT_NAME.test(o.long!) || (PATH_VALUE.test(o.flags) && WRITTEN.test(o.description)))
          expect(isOutput(role!), `${leaf.name} ${o.long} writes but is declared as an input`).toBe(true);
        expect(flagOf(o.attributeName(), role!)).toBe(o.long);
      }
      for (const a of args) {
        const label = `<${a.name()}>`;
        expect(
          Object.values(spec!).some((r) => r.label === label),
          `${leaf.name} ${label} is not in its IoSpec`,
        ).toBe(true);
      }
      // No stale entry: each declared key is an option, a labelled argument, or a path the command's input file names (labelled in words).
      const attrs = new Set(leaf.cmd.options.map((o) => o.attributeName()));
      const labels = new Set(leaf.cmd.registeredArguments.map((a) => `<${a.name()}>`));
      for (const [key, role] of Object.entries(spec!))
        expect(
          attrs.has(key) || (role.label !== undefined && (labels.has(role.label) || !/^(<|--)/.test(role.label))),
          `${leaf.name}: IoSpec key ${key} names no option`,
        ).toBe(true);
    });
  }
});

let stderr = "";

/** The CLI in process: its exit code, its stderr kept in `stderr` for the assertions that follow. */
async function run(argv: string[]): Promise<number> {
  const r = await runMain(argv);
  stderr = r.stderr;
  return r.code;
}

/** Options a command needs besides its paths, so that parsing passes and the stage begins. */
const VALUES: Record<string, string> = { "--split": "train", "--id": "x" };
/** Optional inputs some commands need to reach their stage (train teacher and train base: --data, unless --recipe). */
const EXTRA: Record<string, string[]> = { "train teacher": ["--data"], "train base": ["--data"] };

interface Case {
  argv: string[];
  inputs: { flag: string; path: string }[];
}

/**
 * The command line of `leaf` with every mandatory path (and its extra inputs) an empty folder
 * under `root`, and its outputs as given (mandatory outputs not given: a new path).
 */
function commandLine(leaf: Leaf, spec: IoSpec, root: string, outputs: Record<string, string>): Case {
  const inputs: { flag: string; path: string }[] = [];
  const pathFor = (key: string, role: IoRole) => {
    if (outputs[key] !== undefined) return outputs[key];
    if (isOutput(role)) return join(root, `new-${key}`);
    const p = join(root, `in-${key}`);
    mkdirSync(p, { recursive: true });
    inputs.push({ flag: flagOf(key, role), path: p });
    return p;
  };
  const positional = leaf.cmd.registeredArguments.map((a) => {
    const entry = Object.entries(spec).find(([, r]) => r.label === `<${a.name()}>`);
    return entry ? pathFor(entry[0], entry[1]) : "is it red";
  });
  const flags: string[] = [];
  for (const o of leaf.cmd.options) {
    const key = o.attributeName();
    const role = spec[key];
    const wanted = o.mandatory || outputs[key] !== undefined || (EXTRA[leaf.name] ?? []).includes(o.long!);
    if (!wanted) continue;
    flags.push(`${o.long}=${role ? pathFor(key, role) : (VALUES[o.long!] ?? "x")}`);
  }
  return { argv: [...leaf.path, ...positional, ...flags], inputs };
}

/** A snapshot of what lies under a folder (names and file contents), to prove nothing changed. */
function snapshot(dir: string): string {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? [`${e.name}/`, ...walk(join(d, e.name)).map((x) => `${e.name}/${x}`)] : [`${e.name}=${readFileSync(join(d, e.name), "utf8")}`],
    );
  return walk(dir).sort().join("\n");
}

describe("every declared output goes through the guard (in process, before any read)", () => {
  const writing = all.filter((l) => Object.values(ioSpecOf(l.cmd) ?? {}).some(isOutput));
  for (const leaf of writing) {
    const spec = ioSpecOf(leaf.cmd)!;
    for (const [key, role] of Object.entries(spec).filter(([, r]) => isOutput(r))) {
      const flag = flagOf(key, role);
      it(`${leaf.name} ${flag}: an existing file or folder is refused (exit 2), and left as it was`, async () => {
        const root = mkdtempSync(join(tmpdir(), "lavit-cli-guard-"));
        const target = join(root, "existing");
        let expected: RegExp;
        if (role.role === "folder" && role.existing === "replace") {
          mkdirSync(target);
          writeFileSync(join(target, "mine.txt"), "user data");
          expected = /already exists and is not empty \(use --force/;
        } else {
          writeFileSync(target, "user data");
          expected = role.role === "file" ? /already exists \(use --force to replace it\)/ : /is a file, not a folder/;
        }
        const { argv } = commandLine(leaf, spec, root, { [key]: target });
        const before = snapshot(root);
        expect(await run(argv), `${argv.join(" ")}\n${stderr}`).toBe(2);
        expect(stderr).toMatch(new RegExp(`^lavit: ${flag} ${target}`));
        expect(stderr).toMatch(expected);
        expect(stderr.trim().split("\n")).toHaveLength(1);
        expect(snapshot(root)).toBe(before);
      });

      it(`${leaf.name} ${flag}: an output over an input is refused (exit 2), with or without --force`, async () => {
        const root = mkdtempSync(join(tmpdir(), "lavit-cli-guard-"));
        const probe = commandLine(leaf, spec, root, {});
        if (!probe.inputs.length) return; // a command without inputs (data generate)
        const victim = probe.inputs[0];
        const over = role.role === "file" ? join(victim.path, "out.png") : victim.path;
        writeFileSync(join(victim.path, "input.txt"), "input data");
        for (const force of [false, true]) {
          const { argv } = commandLine(leaf, spec, root, { [key]: over });
          if (force && leaf.cmd.options.some((o) => o.long === "--force")) argv.push("--force");
          const before = snapshot(root);
          expect(await run(argv), `${argv.join(" ")}\n${stderr}`).toBe(2);
          expect(stderr).toMatch(new RegExp(`^lavit: ${flag} ${over} (is the same path as|lies inside) ${victim.flag} ${victim.path}: `));
          expect(snapshot(root)).toBe(before);
        }
      });
    }

    const outputs = Object.entries(spec).filter(([, r]) => isOutput(r));
    if (outputs.length > 1)
      it(`${leaf.name}: its outputs may not overlap each other`, async () => {
        const root = mkdtempSync(join(tmpdir(), "lavit-cli-guard-"));
        const [[a], [b]] = outputs;
        const { argv } = commandLine(leaf, spec, root, { [a]: join(root, "shared"), [b]: join(root, "shared", "metadata.json") });
        expect(await run(argv), `${argv.join(" ")}\n${stderr}`).toBe(2);
        expect(stderr).toMatch(/one output would overwrite the other/);
      });
  }
});

describe("the case of issue 33", () => {
  it("eval --predictions DIR/metadata.json --dump-attention DIR is refused before any work", async () => {
    const root = mkdtempSync(join(tmpdir(), "lavit-cli-guard-"));
    const dir = join(root, "dump");
    const argv = ["eval", "--model", root + "/m", "--data", root + "/d", "--split", "test-id"];
    expect(await run([...argv, "--predictions", join(dir, "metadata.json"), "--dump-attention", dir])).toBe(2);
    expect(stderr.trim()).toBe(
      `lavit: --predictions ${join(dir, "metadata.json")} lies inside --dump-attention ${dir}: one output would overwrite the other; give each output its own path`,
    );
    expect(readdirSync(root)).toEqual([]);
  });
});
