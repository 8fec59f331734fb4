import { describe, expect, it } from "vitest";
import { defaultWarmup, trainerOptions, TRAINER_DEFAULTS } from "../../src/stages/trainer-options.js";
import { UserError } from "../../src/errors.js";
import { STUDENT_DEFAULTS } from "../../src/stages/train-student.js";
import { demoSizes } from "../../src/demo/recipe.js";

describe("trainer options", () => {
  it("scales the warm-up with the run: 10% of the steps, at most 100", () => {
    expect(defaultWarmup(500)).toBe(50);
    expect(defaultWarmup(60)).toBe(6);
    expect(defaultWarmup(3000)).toBe(100);
    expect(defaultWarmup(5)).toBe(0);
    expect(trainerOptions({ out: "x", steps: 60 }, 500).warmup).toBe(6);
  });

  it("fills every default from the one defaults object, and keeps what was given", () => {
    const o = trainerOptions({ out: "x" }, 700);
    expect(o).toMatchObject({ ...TRAINER_DEFAULTS, steps: 700, warmup: 70, resume: false });
    expect(trainerOptions({ out: "x", lr: 0.5, seed: 9 }, 700)).toMatchObject({ lr: 0.5, seed: 9 });
  });

  it("refuses a warm-up as long as the run, naming both flags", () => {
    expect(() => trainerOptions({ out: "x", steps: 10, warmup: 10 }, 500)).toThrow(UserError);
    expect(() => trainerOptions({ out: "x", steps: 10, warmup: 10 }, 500)).toThrow(/--warmup 10 must be smaller than --steps 10/);
  });

  it("gives the demo's students the student stage's own step count", () => {
    expect(demoSizes(false).steps).toBe(STUDENT_DEFAULTS.steps);
  });
});
