#!/usr/bin/env node
// The study runner's cost (npm run bench:study), on the built package: bench/study.json (8
// students of 100 steps) run with --jobs 2. Reports (1) per cell, the overhead beyond its own
// stages: the worker's wall time minus the training and evaluation time the cell records; (2)
// the cells' wall time against the sum of their training times divided by 2 (the jobs).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { runStudy } = await import(path.join(root, "dist", "index.js"));
const out = path.join(mkdtempSync(path.join(tmpdir(), "lavit-bench-study-")), "run");
const jobs = Number(process.env.LAVIT_BENCH_JOBS ?? 2);
const run = await runStudy({ file: path.join(root, "bench", "study.json"), out, jobs, quiet: true });
const cells = Object.entries(run.jobs).filter(([name]) => name.startsWith("cell "));
let overhead = 0;
let train = 0;
let cellWall = 0;
for (const [name, wall] of cells) {
  const rec = JSON.parse(readFileSync(path.join(out, "cells", name.slice(5), "cell.json"), "utf8"));
  overhead += wall - rec.seconds.train - rec.seconds.eval;
  train += rec.seconds.train;
  cellWall += wall;
}
const shared = (run.timings.data ?? 0) + (run.timings.signals ?? 0) + (run.timings.reference ?? 0);
const result = {
  cells: cells.length,
  jobs,
  wall_s: +run.seconds.toFixed(1),
  shared_stages_s: +shared.toFixed(1),
  overhead_per_cell_s: +(overhead / cells.length).toFixed(2),
  train_sum_s: +train.toFixed(1),
  cells_wall_over_train_sum_per_job: +(cellWall / jobs / (train / jobs)).toFixed(3),
  wall_over_train_sum_per_job: +(run.seconds / (train / jobs)).toFixed(3),
};
console.log(JSON.stringify(result));
rmSync(path.dirname(out), { recursive: true, force: true });
