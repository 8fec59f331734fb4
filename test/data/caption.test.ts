import { describe, expect, it } from "vitest";
import { captionText } from "../../src/data/caption.js";
import type { Sample } from "../../src/data/manifest.js";

const obj = (shape: string, colour: string, x0: number, y0: number) => ({ shape, colour, size: "small", x0, y0, w: 10, h: 10, depth: 0 });

describe("scene description", () => {
  it("names every object left to right, top to bottom on ties, in the benchmark's words", () => {
    const sample = { objects: [obj("circle", "red", 40, 5), obj("square", "blue", 2, 30), obj("cross", "green", 40, 0)] } as unknown as Sample;
    expect(captionText(sample)).toBe("look blue square ; look green cross ; look red circle");
  });
});
