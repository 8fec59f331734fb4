import { describe, expect, it } from "vitest";
import { withDefaults } from "../../src/stages/defaults.js";

describe("stage defaults", () => {
  it("fill what is not given, an undefined value included; null and false are given", () => {
    const d = { steps: 500, initFrom: "base" as string | null, resume: true };
    expect(withDefaults(d, { steps: undefined, initFrom: null, resume: false })).toEqual({ steps: 500, initFrom: null, resume: false });
    expect(withDefaults(d, { steps: 60 })).toEqual({ steps: 60, initFrom: "base", resume: true });
  });
});
