#!/usr/bin/env node
// Training-step benchmark, both configs, after the sgemm peak (`lavit bench gemm`) each step's
// GFLOP/s is set against. With --torch, runs ../shared/bench/torch_reference.py (or
// $LAVIT_TORCH_REFERENCE) right after each of ours, so the ratio is measured in one sitting.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const withTorch = process.argv.includes("--torch");
const steps = process.env.LAVIT_BENCH_STEPS ?? "10";
const reference = process.env.LAVIT_TORCH_REFERENCE ?? path.resolve(root, "../shared/bench/torch_reference.py");
const python = process.env.LAVIT_TORCH_PYTHON ?? "/usr/bin/python3";

function lastJsonLine(out) {
  const lines = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  return lines.length ? JSON.parse(lines[lines.length - 1]) : null;
}

function lavit(args) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/lavit.js"), "bench", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return lastJsonLine(r.stdout);
}

const peak = lavit(["gemm"]);
console.log(JSON.stringify(peak));
for (const config of ["small", "base"]) {
  const a = lavit(["step", "--config", config, "--steps", steps, "--json"]);
  console.log(JSON.stringify({ ...a, gemm_peak_fraction: +(a.gflops / peak.gflops_best).toFixed(3) }));
  if (!withTorch) continue;
  if (!existsSync(reference)) {
    console.error(`torch reference not found at ${reference} (set LAVIT_TORCH_REFERENCE)`);
    process.exit(2);
  }
  const torch = spawnSync(python, [reference, config], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const b = torch.status === 0 ? lastJsonLine(torch.stdout) : null;
  if (!b) {
    console.error(`the PyTorch reference failed (${python}); install it with: apt-get install python3-torch libopenblas0-pthread`);
    process.exit(2);
  }
  console.log(JSON.stringify(b));
  console.log(
    JSON.stringify({
      config,
      ratio_median: +(a.ms_per_step_median / b.ms_per_step_median).toFixed(3),
      ratio_min: +(a.ms_per_step_min / b.ms_per_step_min).toFixed(3),
    }),
  );
}
