import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boxesToPatches, datasetRegionBoxes, patchesToBoxes, readBoxes } from "../../src/signals/regions.js";
import type { Sample } from "../../src/data/manifest.js";
import { resizeMap } from "../../src/signals/maps.js";
import { readImageAny, imageSize } from "../../src/data/read-image.js";
import { encodePng } from "../../src/data/png.js";
import { isUserError } from "../../src/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "lavit-regions-"));

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isUserError(e), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("ground-truth regions", () => {
  it("puts pixel boxes on a grid: a patch counts when it overlaps a box", () => {
    // 40 x 24 image, 4 x 4 grid: cells 10 x 6 px
    expect(boxesToPatches([[0, 0, 10, 6]], 40, 24, { rows: 4, cols: 4 })).toEqual([0]);
    expect(boxesToPatches([[0, 0, 10.5, 6]], 40, 24, { rows: 4, cols: 4 })).toEqual([0, 1]);
    expect(boxesToPatches([[25, 13, 40, 24]], 40, 24, { rows: 4, cols: 4 })).toEqual([10, 11, 14, 15]);
    // boxes reaching past the image are clipped to it
    expect(boxesToPatches([[-5, -5, 3, 3]], 40, 24, { rows: 2, cols: 3 })).toEqual([0]);
  });

  it("carries a lavit patch set to pixel boxes and back unchanged on the same grid", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (grid, cell, raw) => {
        const patches = [...new Set(raw.map((p) => p % (grid * grid)))].sort((a, b) => a - b);
        const size = grid * cell;
        expect(boxesToPatches(patchesToBoxes(patches, size, grid), size, size, { rows: grid, cols: grid })).toEqual(patches);
      }),
    );
  });

  it("gives a lavit sample's steps as boxes, and a step past the rationale's end the whole rationale", () => {
    const sample = {
      id: "s",
      rationale: [
        { text: "look a", objects: [0], patches: [0, 1] },
        { text: "look b", objects: [1], patches: [1, 5] },
      ],
    } as unknown as Sample;
    const steps = datasetRegionBoxes([sample], 32, 4).get("s")!.steps;
    const patches = steps.map((b) => boxesToPatches(b, 32, 32, { rows: 4, cols: 4 }));
    // The last entry serves every step past the rationale (lavit gap takes min(t, last)).
    expect(patches).toEqual([
      [0, 1],
      [1, 5],
      [0, 1, 5],
    ]);
  });

  it("reads JSONL {question_id, boxes} and JSON arrays with Visual-CoT bbox, and names the bad line", () => {
    const d = tmp();
    writeFileSync(
      join(d, "a.jsonl"),
      `${JSON.stringify({ question_id: 3, bbox: [1, 2, 3, 4] })}\n\n${JSON.stringify({
        id: "x",
        boxes: [
          [0, 0, 1, 1],
          [2, 2, 5, 5],
        ],
      })}\n${JSON.stringify({ question_id: 3, bboxs: [[5, 5, 6, 6]] })}\n`,
    );
    const m = readBoxes(join(d, "a.jsonl"));
    expect(m.get("3")).toEqual([
      [1, 2, 3, 4],
      [5, 5, 6, 6],
    ]);
    expect(m.get("x")).toHaveLength(2);
    writeFileSync(join(d, "b.json"), JSON.stringify([{ question_id: 1, bbox: [0, 0, 2, 2] }]));
    expect(readBoxes(join(d, "b.json")).get("1")).toEqual([[0, 0, 2, 2]]);
    writeFileSync(join(d, "c.jsonl"), `${JSON.stringify({ question_id: 1, bbox: [0, 0, 2, 2] })}\n{oops\n`);
    expect(userError(() => readBoxes(join(d, "c.jsonl")))).toMatch(/c\.jsonl: line 2: not valid JSON/);
    writeFileSync(join(d, "e.jsonl"), JSON.stringify({ bbox: [0, 0, 2, 2] }) + "\n");
    expect(userError(() => readBoxes(join(d, "e.jsonl")))).toMatch(/e\.jsonl: line 1: needs question_id or id/);
    writeFileSync(join(d, "f.jsonl"), JSON.stringify({ id: 1, bbox: [0, 0, "2", 2] }) + "\n");
    expect(userError(() => readBoxes(join(d, "f.jsonl")))).toMatch(/f\.jsonl: line 1: field bbox: a box is/);
    expect(userError(() => readBoxes(join(d, "missing.jsonl")))).toMatch(/missing\.jsonl: cannot read boxes/);
  });

  it("resizes a map to any grid", () => {
    // a 1 x 2 map stretched to 2 x 4: columns interpolate, rows repeat
    expect(Array.from(resizeMap([0, 1], { rows: 1, cols: 2 }, { rows: 2, cols: 4 }))).toEqual([0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1]);
  });
});

describe("readImageAny", () => {
  it("reads PNG of any size, gives its size from the header, and refuses other files naming them", () => {
    const d = tmp();
    writeFileSync(join(d, "a.png"), encodePng(new Uint8Array(7 * 3 * 3).fill(9), 7, 3));
    expect(readImageAny(join(d, "a.png"))).toMatchObject({ width: 7, height: 3 });
    expect(imageSize(join(d, "a.png"))).toEqual({ width: 7, height: 3 });
    writeFileSync(join(d, "b.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]));
    expect(userError(() => readImageAny(join(d, "b.jpg")))).toMatch(/b\.jpg/);
    writeFileSync(join(d, "c.gif"), "GIF89a....");
    expect(userError(() => imageSize(join(d, "c.gif")))).toMatch(/c\.gif: (not a PNG or JPEG|no image size in its header)/);
    expect(userError(() => readImageAny(join(d, "none.png")))).toMatch(/none\.png: cannot read/);
  });
});
