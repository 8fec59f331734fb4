import { describe, expect, it } from "vitest";
import { runTeacherStepBench } from "../../src/bench/teacher-step.js";

describe("the teacher step benchmark", () => {
  it("runs the grounded teacher step on either path to the same loss and the same weights", async () => {
    const fused = await runTeacherStepBench({ steps: 1, warmup: 1 });
    const unfused = await runTeacherStepBench({ steps: 1, warmup: 1, unfused: true });
    expect(fused.grounding).toBe("fused");
    expect(unfused.grounding).toBe("unfused");
    expect(fused.params).toBeGreaterThan(1_000_000);
    expect(fused.ms_per_step_median).toBeGreaterThan(0);
    expect(fused.peak_rss_mb).toBeGreaterThan(0);
    expect(Number.isFinite(fused.loss_last)).toBe(true);
    expect(fused.loss_last).toBe(unfused.loss_last);
    expect(fused.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fused.weights_sha256).toBe(unfused.weights_sha256);
  }, 180_000);

  it("refuses a sample count below one batch, naming it", async () => {
    await expect(runTeacherStepBench({ steps: 1, warmup: 0, samples: 3 })).rejects.toThrow(/samples must be an integer of at least 32, got 3/);
    await expect(runTeacherStepBench({ steps: 1, warmup: 0, samples: 40.5 })).rejects.toThrow(/samples/);
  });
});
