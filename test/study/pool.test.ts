import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planJobs, runJobs } from "../../src/study/pool.js";
import { UserError } from "../../src/errors.js";
import type { StudentOptions } from "../../src/stages/train-student.js";

describe("students in processes", () => {
  it("plans one job per thread, at most one per student, and shares the threads", () => {
    expect(planJobs(2, 2)).toEqual({ jobs: 2, threadsPerJob: 1 });
    expect(planJobs(9, 2)).toEqual({ jobs: 2, threadsPerJob: 1 });
    expect(planJobs(2, 8)).toEqual({ jobs: 2, threadsPerJob: 4 });
    expect(planJobs(1, 8)).toEqual({ jobs: 1, threadsPerJob: 8 });
    expect(planJobs(3, 1)).toEqual({ jobs: 1, threadsPerJob: 1 });
    expect(planJobs(4, 8, 3)).toEqual({ jobs: 3, threadsPerJob: 2 });
    expect(planJobs(0, 2)).toEqual({ jobs: 1, threadsPerJob: 2 });
  });

  it("passes a worker's error on as the user error it was, naming the student's bad folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-par-"));
    const options: StudentOptions = {
      data: join(dir, "no-data"),
      signals: join(dir, "no-signals"),
      out: join(dir, "s"),
      mode: "distill",
      steps: 5,
      seed: 1,
      quiet: true,
    };
    const run = runJobs(
      [
        { name: "distill", task: { kind: "student", options } },
        { name: "other", task: { kind: "student", options: { ...options, out: join(dir, "t") } } },
      ],
      { jobs: 2, threadsPerJob: 1 },
      { quiet: true },
    );
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(run).rejects.toThrow(/no-(data|signals)/);
  }, 60_000);
});
