// Hand-written mutation testing: applies each one-line bug of test/mutations/mutations.json to
// its source file in place, runs the vitest files listed for it, and restores the file. A
// mutant is killed when a test fails; it survives when they all pass. Exit 1 if any survives
// (or if a mutant only breaks loading, which means the entry itself is wrong).
// Usage: node scripts/mutate.mjs [--only id[,id...]] [--no-baseline] [--list]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const listFile = join(root, "test", "mutations", "mutations.json");
const vitest = join(root, "node_modules", ".bin", "vitest");

function usage(message) {
  process.stderr.write(`mutate: ${message}\nusage: node scripts/mutate.mjs [--only id[,id...]] [--no-baseline] [--list]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let only = null;
let baseline = true;
let listOnly = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--only") {
    if (!args[i + 1]) usage("--only needs a mutation id");
    only = new Set(args[++i].split(","));
  } else if (args[i] === "--no-baseline") baseline = false;
  else if (args[i] === "--list") listOnly = true;
  else usage(`unknown argument ${args[i]}`);
}

const all = JSON.parse(readFileSync(listFile, "utf8"));
if (only) {
  const unknown = [...only].filter((id) => !all.some((m) => m.id === id));
  if (unknown.length) usage(`--only: no mutation ${unknown.join(", ")} in ${listFile}`);
}
const chosen = only ? all.filter((m) => only.has(m.id)) : all;
if (listOnly) {
  for (const m of chosen) process.stdout.write(`${m.id}\t${m.file}\t${m.why}\n`);
  process.exit(0);
}

for (const m of chosen) {
  const text = readFileSync(join(root, m.file), "utf8");
  const count = text.split(m.find).length - 1;
  if (count !== 1) usage(`${m.id}: its find string occurs ${count} times in ${m.file}, not once`);
}

// Never mutate a file with uncommitted changes: restoring it must give back exactly what git has.
const files = [...new Set(chosen.map((m) => m.file))];
const dirty = spawnSync("git", ["status", "--porcelain", "--", ...files], { cwd: root, encoding: "utf8" });
if (dirty.status !== 0) usage(`git status failed: ${dirty.stderr.trim()}`);
if (dirty.stdout.trim()) usage(`uncommitted changes in files it would mutate (commit or stash them first):\n${dirty.stdout}`);

// The one file mutated right now and its original text: restored on every way out.
let live = null;
function restore() {
  if (!live) return;
  writeFileSync(join(root, live.file), live.original);
  live = null;
}
let child = null;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    restore();
    if (child) child.kill("SIGTERM");
    process.stderr.write(`\nmutate: stopped by ${signal}; source restored\n`);
    process.exit(130);
  });
}
process.on("exit", restore);
process.on("uncaughtException", (e) => {
  restore();
  process.stderr.write(`mutate: ${e.stack ?? e}\n`);
  process.exit(2);
});

const scratch = mkdtempSync(join(tmpdir(), "lavit-mutate-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

/** Runs vitest on the files; resolves to {ok, loadError, ran}. */
function runTests(tests) {
  const report = join(scratch, "report.json");
  rmSync(report, { force: true });
  return new Promise((done) => {
    child = spawn(vitest, ["run", "--reporter=json", `--outputFile=${report}`, ...tests], { cwd: root, stdio: "ignore" });
    child.on("exit", (code) => {
      child = null;
      let r = null;
      try {
        r = JSON.parse(readFileSync(report, "utf8"));
      } catch {
        // No report: vitest itself could not run.
      }
      // A mutant that does not parse or import fails the run without any test of the mutated code failing.
      const loadError =
        !r || (r.testResults ?? []).some((f) => /Transform failed|SyntaxError|Failed to load url|does not provide an export/.test(f.message ?? ""));
      done({ ok: code === 0, loadError, ran: r?.numTotalTests ?? 0 });
    });
  });
}

if (baseline) {
  const tests = [...new Set(chosen.flatMap((m) => m.tests))];
  process.stdout.write(`baseline: ${tests.length} test files on the unmutated code... `);
  const r = await runTests(tests);
  if (!r.ok) {
    process.stdout.write("FAILED\n");
    usage(`the listed tests fail on the unmutated code; fix that first (npx vitest run ${tests.join(" ")})`);
  }
  process.stdout.write(`pass (${r.ran} tests)\n`);
}

const tally = { killed: 0, survived: 0, broken: 0 };
const survivors = [];
for (const [i, m] of chosen.entries()) {
  const path = join(root, m.file);
  const original = readFileSync(path, "utf8");
  live = { file: m.file, original };
  writeFileSync(
    path,
    original.replace(m.find, () => m.replace),
  );
  const r = await runTests(m.tests);
  restore();
  const verdict = r.ok ? "survived" : r.loadError ? "broken" : "killed";
  tally[verdict]++;
  if (verdict !== "killed") survivors.push(`${m.id} (${verdict})`);
  process.stdout.write(`[${i + 1}/${chosen.length}] ${verdict.padEnd(8)} ${m.id}  ${m.file}\n`);
}
process.stdout.write(`\n${tally.killed} killed, ${tally.survived} survived, ${tally.broken} broken of ${chosen.length}\n`);
if (survivors.length) process.stdout.write(`not killed: ${survivors.join(", ")}\n`);
process.exit(survivors.length ? 1 : 0);
