import { describe, expect, it } from "vitest";
import { runStepBench } from "../../src/bench/step.js";
import { runTeacherStepBench } from "../../src/bench/teacher-step.js";

describe("the step benchmarks' counts", () => {
  it("refuse a library call's bad step or warm-up count with the CLI's message", async () => {
    await expect(runStepBench("small", 0, 3)).rejects.toThrow("--steps must be an integer in [1, 2147483647], got 0");
    await expect(runStepBench("small", 2.5, 3)).rejects.toThrow(/--steps must be an integer/);
    await expect(runStepBench("small", 1, -1)).rejects.toThrow("--warmup must be an integer in [0, 2147483647], got -1");
    await expect(runTeacherStepBench({ steps: NaN, warmup: 0 })).rejects.toThrow("--steps must be an integer in [1, 2147483647], got NaN");
    await expect(runTeacherStepBench({ steps: 1, warmup: -2 })).rejects.toThrow(/--warmup must be an integer/);
  });
});
