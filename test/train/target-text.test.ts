import { describe, expect, it } from "vitest";
import { studentTargetText } from "../../src/train/target-text.js";
import { splitSteps, parseAnswer } from "../../src/model/sequence.js";

const depth = "look blue diamond 5 5 ; look cyan circle 5 3 ; look hidden cyan ; look blue diamond in front ; answer yes";

describe("studentTargetText", () => {
  it("keeps the teacher's text as it is by default", () => {
    expect(studentTargetText(depth, "full")).toBe(depth);
  });

  it("drops only the look steps' grid coordinates, keeping steps and answer", () => {
    const text = studentTargetText(depth, "no-coords");
    expect(text).toBe("look blue diamond ; look cyan circle ; look hidden cyan ; look blue diamond in front ; answer yes");
    const words = text.split(" ");
    expect(splitSteps(words)).toHaveLength(splitSteps(depth.split(" ")).length);
    expect(parseAnswer(text)).toBe("yes");
  });

  it("leaves a number that is the answer (counting) alone", () => {
    expect(studentTargetText("look red circle 2 3 ; look red square 6 1 ; answer 2", "no-coords")).toBe("look red circle ; look red square ; answer 2");
  });
});
