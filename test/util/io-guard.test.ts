import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guardOutputs, input, outputFile, outputFolder, withOutputs, type IoSpec } from "../../src/util/io-guard.js";
import { lockFileFor } from "../../src/util/lock.js";
import { MARKER_FILE, writeMarker } from "../../src/util/marker.js";
import { isUserError } from "../../src/errors.js";

const fresh = () => mkdtempSync(join(tmpdir(), "lavit-guard-"));

const SPEC: IoSpec = {
  data: input(),
  dir: input("<dir>"),
  out: outputFolder("signals"),
  run: outputFolder("model", "run"),
  predictions: outputFile(),
  dumpAttention: outputFolder("signals"),
};

function refusal(options: object, spec: IoSpec = SPEC): string {
  try {
    guardOutputs(spec, options).release();
  } catch (e) {
    expect(isUserError(e), String(e)).toBe(true);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error(`not refused: ${JSON.stringify(options)}`);
}

const accepted = (options: object, spec: IoSpec = SPEC) => guardOutputs(spec, options).release();

describe("output guard: folders", () => {
  it("are apart from every input, labelled positionals and several values alike", () => {
    const root = fresh();
    const data = join(root, "data");
    mkdirSync(data);
    expect(refusal({ data, out: data })).toBe(
      `--out ${data} is the same path as --data ${data}: writing it would change the command's own input; choose an --out outside every input`,
    );
    expect(refusal({ data, out: join(data, "sig") })).toMatch(/--out .* lies inside --data/);
    expect(refusal({ data: join(data, "x"), out: data })).toMatch(/--out .* contains --data/);
    expect(refusal({ dir: data, out: data })).toMatch(/is the same path as <dir>/);
    expect(refusal({ compare: [join(root, "a"), data], out: join(data, "o") }, { compare: input(), out: outputFolder("gap") })).toMatch(
      /lies inside --compare/,
    );
    accepted({ data, out: join(root, "new") });
    // Symlinks resolved: a link to an input, or a new folder below one, is the input.
    symlinkSync(data, join(root, "link"));
    expect(refusal({ data, out: join(root, "link") })).toMatch(/is the same path as --data/);
    expect(refusal({ data, out: join(root, "link", "new") })).toMatch(/lies inside --data/);
    accepted({ data, out: join(root, "datax") });
  });

  it("refuse a non-empty folder unless --force, and --force replaces only lavit's own folder of the same kind", () => {
    const root = fresh();
    const out = join(root, "out");
    mkdirSync(out);
    accepted({ out }); // empty
    writeFileSync(join(out, "gap.md"), "mine");
    expect(refusal({ out })).toMatch(/--out .* already exists and is not empty \(use --force/);
    expect(refusal({ out, force: true })).toMatch(/was not made by lavit/);
    writeMarker(out, "dataset");
    expect(refusal({ out, force: true })).toMatch(/holds a lavit dataset folder, not a signals folder/);
    writeMarker(out, "signals");
    accepted({ out, force: true });
    expect(readFileSync(join(out, "gap.md"), "utf8")).toBe("mine"); // the guard itself removes nothing
  });

  it("leave an existing run folder to its stage, but never a file, the working folder or a too long name", () => {
    const root = fresh();
    const run = join(root, "run");
    mkdirSync(run);
    writeFileSync(join(run, "x"), "1");
    accepted({ run });
    writeFileSync(join(root, "file"), "");
    expect(refusal({ run: join(root, "file") })).toMatch(/--run .*file is a file, not a folder/);
    expect(refusal({ run: "." })).toMatch(/--run \. is the current folder/);
    expect(refusal({ out: "/dev/null/x" })).toMatch(/\/dev\/null is a file, not a folder/);
    expect(refusal({ out: "/proc/lavit" })).toMatch(/kernel file system/);
    const long = join(root, "n".repeat(255));
    expect(refusal({ out: long })).toMatch(/^--out: the name n+\.\.\. is 255 bytes long; lavit allows at most 200/);
    expect(readdirSync(root).sort()).toEqual(["file", "run"]);
  });

  it("take the lock: a second writer is refused, and the lock goes with release", async () => {
    const out = join(fresh(), "out");
    await withOutputs(SPEC, { out }, () => {
      expect(existsSync(lockFileFor(out))).toBe(true);
    });
    expect(existsSync(lockFileFor(out))).toBe(false);
    // A refusal after the locks were taken releases them.
    const data = join(fresh(), "d");
    mkdirSync(join(out));
    writeFileSync(join(out, "x"), "");
    expect(refusal({ data, out })).toMatch(/not empty/);
    expect(existsSync(lockFileFor(out))).toBe(false);
  });
});

describe("output guard: single files", () => {
  it("refuse an existing file unless --force, a folder, and an input even with --force", () => {
    const root = fresh();
    const data = join(root, "data");
    mkdirSync(data);
    writeFileSync(join(data, "manifest.jsonl"), "keep");
    const preds = join(root, "preds.jsonl");
    accepted({ data, predictions: preds });
    writeFileSync(preds, "old");
    expect(refusal({ data, predictions: preds })).toBe(`--predictions ${preds} already exists (use --force to replace it)`);
    accepted({ data, predictions: preds, force: true });
    expect(refusal({ data, predictions: root })).toMatch(/--predictions .* is a folder; give a file path/);
    for (const force of [false, true]) {
      expect(refusal({ data: join(data, "manifest.jsonl"), predictions: join(data, "manifest.jsonl"), force })).toMatch(/is the same path as --data/);
      expect(refusal({ data, predictions: join(data, "manifest.jsonl"), force })).toMatch(/lies inside --data/);
      expect(refusal({ data, predictions: join(data, "new.jsonl"), force })).toMatch(/lies inside --data/);
    }
  });
});

describe("output guard: the outputs of one command", () => {
  it("never overlap each other", () => {
    const root = fresh();
    const dump = join(root, "dump");
    expect(refusal({ predictions: join(dump, "metadata.json"), dumpAttention: dump })).toBe(
      `--predictions ${join(dump, "metadata.json")} lies inside --dump-attention ${dump}: one output would overwrite the other; give each output its own path`,
    );
    expect(refusal({ out: dump, dumpAttention: dump })).toMatch(/--out .* is the same path as --dump-attention/);
    expect(refusal({ out: root, dumpAttention: dump })).toMatch(/--out .* contains --dump-attention/);
    accepted({ predictions: join(root, "p.jsonl"), dumpAttention: dump, out: join(root, "o") });
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("markers", () => {
  it("gap is an output kind", () => {
    const d = fresh();
    writeMarker(d, "gap");
    expect(JSON.parse(readFileSync(join(d, MARKER_FILE), "utf8")).kind).toBe("gap");
  });
});
