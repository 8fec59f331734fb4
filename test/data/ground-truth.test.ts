import { describe, expect, it } from "vitest";
import { GT_MIN_COVERAGE, groundTruthPatches } from "../../src/data/ground-truth.js";
import { readManifest } from "../../src/data/manifest.js";
import { locatedName } from "../../src/data/names.js";
import { compose } from "../../src/data/render.js";
import { MaskCache } from "../../src/data/shapes.js";
import { tinyDataset } from "../helpers/tiny.js";

describe("ground-truth patches", () => {
  it("are the patches an object covers at least an eighth of", () => {
    expect(GT_MIN_COVERAGE).toBe(1 / 8);
    const coverage = new Map([
      [2, 0.125],
      [3, 0.12],
      [4, 0.9],
      [9, 1],
    ]);
    expect(groundTruthPatches(coverage)).toEqual([2, 4, 9]);
  });

  it("give an object too small to cover an eighth of any patch its most-covered patch", () => {
    const coverage = new Map([
      [3, 0.05],
      [7, 0.1],
      [9, 0.02],
    ]);
    expect(groundTruthPatches(coverage)).toEqual([7]);
    expect(groundTruthPatches(new Map([[5, 0.01]]))).toEqual([5]);
    expect(groundTruthPatches(new Map())).toEqual([]);
  });

  it("in a generated dataset, each look step's patches are where its objects visibly cover an eighth of a patch", async () => {
    const dir = await tinyDataset({ teacherTrain: 24, train: 24, test: 4 });
    const size = 32;
    const patch = 8;
    const grid = size / patch;
    const masks = new MaskCache(size);
    let looked = 0;
    for (const split of ["teacher-train", "train"] as const)
      for (const s of readManifest(dir, split)) {
        const objects = s.objects!;
        const { owner } = compose(objects, { size, patch, masks });
        // Visible pixels of object o in patch p, counted from the composed image.
        const cover = (o: number, p: number) => {
          let c = 0;
          const [pr, pc] = [Math.floor(p / grid), p % grid];
          for (let y = pr * patch; y < (pr + 1) * patch; y++) for (let x = pc * patch; x < (pc + 1) * patch; x++) if (owner[y * size + x] === o) c++;
          return c / (patch * patch);
        };
        for (const step of s.rationale) {
          // Look steps name their objects; verdict steps (depth's hidden colour, the final comparison) have their own regions.
          if (step.text !== `look ${step.objects!.map((i) => locatedName(objects[i], size)).join(" ")}`) continue;
          looked++;
          const expected = new Set<number>();
          for (const o of step.objects!) {
            const per = Array.from({ length: grid * grid }, (_, p) => cover(o, p));
            const enough = per.flatMap((c, p) => (c >= 1 / 8 ? [p] : []));
            const best = per.indexOf(Math.max(...per));
            for (const p of enough.length ? enough : per[best] > 0 ? [best] : []) expected.add(p);
          }
          expect(step.patches, `${split} ${s.id}: ${step.text}`).toEqual([...expected].sort((a, b) => a - b));
        }
      }
    expect(looked).toBeGreaterThan(40);
  });
});
