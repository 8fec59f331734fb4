import { describe, expect, it } from "vitest";
import { patchLabels } from "../../src/data/patch-labels.js";
import { MaskCache } from "../../src/data/shapes.js";
import { COLOURS, SHAPES } from "../../src/data/vocab.js";
import type { BenchmarkSample as Sample } from "../../src/data/manifest.js";

/** A large red square at (8, 8) (19 x 19 pixels) with a small blue circle in front of its lower right part. */
function squareAndCircle(): { masks: MaskCache; sample: Sample } {
  const masks = new MaskCache(64);
  const sq = masks.get("square", "large").g;
  const circle = masks.get("circle", "small").g;
  const sample = {
    objects: [
      { shape: "square", colour: "red", size: "large", x0: 8, y0: 8, w: sq.w, h: sq.h, depth: 2 },
      { shape: "circle", colour: "blue", size: "small", x0: 18, y0: 18, w: circle.w, h: circle.h, depth: 0 },
    ],
  } as unknown as Sample;
  return { masks, sample };
}

describe("per-patch labels", () => {
  it("labels the patches an object covers and leaves the background at 0, front object winning", () => {
    const { masks, sample } = squareAndCircle();
    const { shape, colour } = patchLabels(sample, 64, 8, masks);
    expect(shape[1 * 8 + 1]).toBe(1 + SHAPES.indexOf("square")); // patch (1,1) = pixels 8..15: inside the square
    expect(colour[1 * 8 + 1]).toBe(1 + COLOURS.indexOf("red"));
    expect(shape[3 * 8 + 3]).toBe(1 + SHAPES.indexOf("circle")); // pixels 24..31, covered by the circle in front
    expect(shape[7 * 8 + 7]).toBe(0);
    expect(shape[0]).toBe(0);
  });

  it("labels what the front object hides, only where it hides something", () => {
    const { masks, sample } = squareAndCircle();
    const { hiddenShape, hiddenColour } = patchLabels(sample, 64, 8, masks);
    expect(hiddenShape[3 * 8 + 3]).toBe(1 + SHAPES.indexOf("square")); // the circle covers the square here
    expect(hiddenColour[3 * 8 + 3]).toBe(1 + COLOURS.indexOf("red"));
    expect(hiddenShape[1 * 8 + 1]).toBe(0); // the square itself hides nothing
    expect(hiddenShape[0]).toBe(0);
    // Swap the depths: where the square (pixels 8..26) covers patch (2,2), it now hides the circle.
    expect(hiddenShape[2 * 8 + 2]).toBe(0);
    sample.objects[0].depth = 0;
    sample.objects[1].depth = 2;
    const swapped = patchLabels(sample, 64, 8, masks);
    expect(swapped.shape[2 * 8 + 2]).toBe(1 + SHAPES.indexOf("square"));
    expect(swapped.hiddenShape[2 * 8 + 2]).toBe(1 + SHAPES.indexOf("circle"));
    expect(swapped.hiddenColour[2 * 8 + 2]).toBe(1 + COLOURS.indexOf("blue"));
  });

  it("labels every patch of an object with the grid cell of the object's centre", () => {
    const { masks, sample } = squareAndCircle();
    const { objectRow, objectCol } = patchLabels(sample, 64, 8, masks);
    // Square: pixels 8..26, centre 17.5 -> cell 2 (label 3), on its own patches near and far from the centre.
    expect([objectRow[1 * 8 + 1], objectCol[1 * 8 + 1], objectRow[2 * 8 + 1], objectCol[1 * 8 + 2]]).toEqual([3, 3, 3, 3]);
    // Circle: pixels 18..30 (13 wide), centre 24.5 -> cell 3 (label 4).
    expect(sample.objects[1].w).toBe(13);
    expect([objectRow[3 * 8 + 3], objectCol[3 * 8 + 3]]).toEqual([4, 4]);
    expect([objectRow[0], objectCol[7 * 8 + 7]]).toEqual([0, 0]);
  });

  it("labels a patch with an object that covers a quarter of it or more, not less", () => {
    const { masks, sample } = squareAndCircle();
    sample.objects = sample.objects.slice(0, 1);
    // The square spans pixels 8..26: 3 of patch (1,3)'s 8 columns (37.5%), 3 x 3 pixels of patch (3,3) (14%).
    expect([sample.objects[0].x0, sample.objects[0].w]).toEqual([8, 19]);
    const { shape } = patchLabels(sample, 64, 8, masks);
    expect(shape[1 * 8 + 3]).toBe(1 + SHAPES.indexOf("square"));
    expect(shape[3 * 8 + 3]).toBe(0);
  });
});
