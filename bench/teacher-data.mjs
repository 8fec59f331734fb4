#!/usr/bin/env node
// The teacher's training step with the benchmark's 512 samples and with a real phase's 40,000
// loaded, alternately in one sitting: what the data's size costs the garbage collector.
// LAVIT_BENCH_STEPS (30) timed steps after 3 warm-ups; run after `npm run build`.
import { runTeacherStepBench } from "../dist/bench/teacher-step.js";

const steps = Number(process.env.LAVIT_BENCH_STEPS ?? "30");
const sizes = (process.env.LAVIT_BENCH_SAMPLES ?? "512,40000").split(",").map(Number);
for (let round = 1; round <= 2; round++)
  for (const samples of sizes) {
    const r = await runTeacherStepBench({ steps, warmup: 3, samples });
    console.log(
      JSON.stringify({
        round,
        samples,
        ms_per_step_median: r.ms_per_step_median,
        cpu_ms_per_step_median: r.cpu_ms_per_step_median,
        peak_rss_mb: r.peak_rss_mb,
        weights_sha256: r.weights_sha256,
      }),
    );
  }
