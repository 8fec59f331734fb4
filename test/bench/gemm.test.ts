import { describe, expect, it } from "vitest";
import { runGemmBench } from "../../src/bench/gemm.js";
import { BENCH_CONFIGS, stepFlops } from "../../src/bench/step.js";

describe("the benchmark's arithmetic", () => {
  it("counts a small step at about 18 GFLOP: 3 x (2 x 0.885 M weights x 3,072 tokens + attention)", () => {
    const c = BENCH_CONFIGS.small;
    const attention = 4 * 2 * (2 * 32 * 96 * 96 * 128);
    expect(stepFlops(c)).toBe(3 * (2 * 884_736 * 3072 + attention));
    expect(stepFlops(c) / 1e9).toBeCloseTo(18.12, 2);
  });

  it("measures a positive sgemm rate, the best no lower than the median", async () => {
    const r = await runGemmBench(48, 3, 1);
    expect(r.size).toBe(48);
    expect(r.gflops_median).toBeGreaterThan(0);
    expect(r.gflops_best).toBeGreaterThanOrEqual(r.gflops_median);
  });
});
