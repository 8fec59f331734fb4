#!/usr/bin/env node
// The whole demo's wall time and memory, where they go (npm run bench:demo [-- OUT] [demo flags]).
// Runs `lavit demo --out OUT --force` (default: a temporary folder) under `/usr/bin/time -v`, reads
// the resident memory of the demo and each worker from /proc every 250 ms, and prints one JSON
// line: wall time and peak RSS (`time -v`, the largest single process), the peak of each
// worker by its job (data, signals, reference, each cell), each job's start and end (seconds
// since the demo started, from the worker's first and last sample), the cells' training and
// evaluation seconds (their cell.json), and the report's own seconds (after the last job).
// Take it with the machine quiet: `/work/quiet.sh npm run bench:demo`. LAVIT_BENCH_ROOT=<checkout>
// measures another built checkout's demo (a before, in the same sitting).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = process.env.LAVIT_BENCH_ROOT ?? path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const given = args[0] && !args[0].startsWith("-") ? args.shift() : null;
const out = given ?? path.join(mkdtempSync(path.join(tmpdir(), "lavit-bench-demo-")), "demo");

/** pid -> [ppid, rss kB, argv], for every process on the machine. */
function processes() {
  const all = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${name}/status`, "utf8"))?.[1] ?? 0);
      all.set(Number(name), [ppid, rss, readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0")]);
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

const t0 = performance.now();
const child = spawn("/usr/bin/time", ["-v", process.execPath, path.join(root, "bin", "lavit.js"), "demo", "--out", out, "--force", ...args], {
  stdio: ["ignore", "ignore", "pipe"],
});
let stderr = "";
child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
const workers = new Map(); // pid -> { peak, first, last }
const sample = () => {
  const all = processes();
  const mine = new Set([child.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, [ppid]] of all) {
      if (mine.has(pid) || !mine.has(ppid)) continue;
      mine.add(pid);
      grew = true;
    }
  }
  const now = (performance.now() - t0) / 1000;
  for (const pid of mine) {
    const [, rss, argv] = all.get(pid) ?? [0, 0, []];
    const role = argv.some((a) => a.endsWith("worker.js")) ? "worker" : argv.includes("demo") && argv.some((a) => a.endsWith("lavit.js")) ? "demo" : null;
    if (!role) continue;
    const w = workers.get(pid) ?? { role, peak: 0, first: now, last: now };
    w.peak = Math.max(w.peak, rss);
    w.last = now;
    workers.set(pid, w);
  }
};
const timer = setInterval(sample, 250);
const code = await new Promise((resolve) => child.on("exit", resolve));
clearInterval(timer);
const wall = (performance.now() - t0) / 1000;
if (code !== 0) {
  process.stderr.write(stderr);
  process.exit(code ?? 1);
}
const field = (name) => /: (.*)$/.exec(stderr.split("\n").find((l) => l.includes(name)) ?? "")?.[1];
const report = JSON.parse(readFileSync(path.join(out, "report.json"), "utf8"));
const cells = Object.fromEntries(
  readdirSync(path.join(out, "cells"))
    .filter((id) => existsSync(path.join(out, "cells", id, "cell.json")))
    .map((id) => [id, JSON.parse(readFileSync(path.join(out, "cells", id, "cell.json"), "utf8")).seconds]),
);
const byPid = [...workers.entries()].sort((a, b) => a[1].first - b[1].first);
const lastJobEnd = Math.max(0, ...byPid.filter(([, w]) => w.role === "worker").map(([, w]) => w.last));
console.log(
  JSON.stringify({
    wall_s: +wall.toFixed(1),
    time_v: { elapsed: field("Elapsed (wall clock)"), max_rss_kb: Number(field("Maximum resident set size")), cpu_percent: field("Percent of CPU") },
    timings_s: report.timings_s,
    cells_s: cells,
    processes: byPid.map(([pid, w]) => ({ pid, role: w.role, from_s: +w.first.toFixed(1), to_s: +w.last.toFixed(1), peak_rss_mb: Math.round(w.peak / 1024) })),
    after_last_job_s: +(wall - lastJobEnd).toFixed(1),
  }),
);
if (!given) rmSync(path.dirname(out), { recursive: true, force: true });
