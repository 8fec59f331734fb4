import { describe, expect, it } from "vitest";
import { captionText } from "../../src/data/caption.js";
import type { Sample } from "../../src/data/manifest.js";

const obj = (shape: string, colour: string, x0: number, y0: number) => ({ shape, colour, size: "small", x0, y0, w: 10, h: 10, depth: 0 });

describe("scene description", () => {
  it("names and locates every object left to right, top to bottom on ties, in the benchmark's words", () => {
    const sample = { objects: [obj("circle", "red", 40, 5), obj("square", "blue", 2, 30), obj("cross", "green", 40, 0)] } as unknown as Sample;
    // Centres (45,10), (7,35), (45,5) on a 64-pixel image: 8-pixel cells, column then row, from 1.
    expect(captionText(sample, 64)).toBe("look blue square 1 5 ; look green cross 6 1 ; look red circle 6 2");
  });
});
