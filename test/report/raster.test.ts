import { describe, expect, it } from "vitest";
import { enlarge, outlinePatches } from "../../src/util/raster.js";
import { heatmapPanel } from "../../src/report/heatmap.js";

const pixel = (img: Uint8Array, width: number, x: number, y: number) => Array.from(img.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));

describe("raster helpers", () => {
  it("enlarges by nearest neighbour", () => {
    const rgb = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // 2x2
    const big = enlarge(rgb, 2, 3);
    expect(pixel(big, 6, 0, 0)).toEqual([1, 2, 3]);
    expect(pixel(big, 6, 5, 0)).toEqual([4, 5, 6]);
    expect(pixel(big, 6, 2, 5)).toEqual([7, 8, 9]);
    expect(pixel(big, 6, 3, 3)).toEqual([10, 11, 12]);
  });

  it("outlines only the outer boundary of a patch region", () => {
    // 4x4 grid of 4-pixel cells; region = patches 5 and 6 (row 1, columns 1-2).
    const img = new Uint8Array(16 * 16 * 3);
    outlinePatches(img, 16, 4, [5, 6], [255, 0, 0], 0, 1);
    const red = (x: number, y: number) => pixel(img, 16, x, y)[0] === 255;
    expect(red(4, 4)).toBe(true); // top-left corner of the region
    expect(red(11, 7)).toBe(true); // bottom-right corner
    expect(red(7, 5)).toBe(false); // right edge of patch 5 is shared with patch 6
    expect(red(8, 5)).toBe(false); // left edge of patch 6, shared too
    expect(red(4, 5)).toBe(true); // left edge of the region
    expect(red(11, 5)).toBe(true); // right edge of the region
    expect(red(5, 5)).toBe(false); // inside
    expect(red(0, 0)).toBe(false); // outside
  });

  it("heatmap panels blend the map and outline the ground truth", () => {
    const image = new Uint8Array(4 * 4 * 3).fill(100);
    const panel = heatmapPanel(image, 4, 2, [0, 0, 0, 1], [0], 2);
    expect(panel.size).toBe(8);
    expect(pixel(panel.rgb, 8, 1, 1)).toEqual([0, 255, 255]); // outline of patch 0 (2 pixels wide)
    expect(pixel(panel.rgb, 8, 6, 6)).toEqual([193, 193, 193]); // hottest patch: white blended at 0.6 over grey 100
    expect(pixel(panel.rgb, 8, 6, 1)).toEqual([40, 40, 40]); // coolest: black at 0.6 over 100
  });
});
