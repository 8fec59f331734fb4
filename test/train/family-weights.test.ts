import { beforeAll, describe, expect, it } from "vitest";
import type { LoadedSplit } from "../../src/data/dataset.js";
import { familyCounts, formatFamilyWeights, parseFamilyWeights, weighFamilies } from "../../src/train/family-weights.js";
import { tinySplit } from "../helpers/tiny.js";

describe("--family-weight", () => {
  let data: LoadedSplit;
  beforeAll(async () => {
    data = await tinySplit({ teacherTrain: 60, train: 4, test: 4 });
  });

  it("parses family=weight pairs and refuses unknown families, bad numbers and repeats by name", () => {
    expect(parseFamilyWeights("depth=3, attribute=0.5")).toEqual({ depth: 3, attribute: 0.5 });
    expect(() => parseFamilyWeights("colour=2")).toThrow(/unknown family "colour"/);
    expect(() => parseFamilyWeights("depth=-1")).toThrow(/family=weight/);
    expect(() => parseFamilyWeights("depth=1e3")).toThrow(/family=weight/);
    expect(() => parseFamilyWeights("depth=200")).toThrow(/weight of depth/);
    expect(() => parseFamilyWeights("depth=2,depth=3")).toThrow(/depth given twice/);
    expect(formatFamilyWeights({ multihop: 0, depth: 2.5 })).toBe("depth=2.5,multihop=0");
  });

  it("repeats each family by its weight, drops weight 0, and shares the images", () => {
    const before = familyCounts(data);
    expect(Object.keys(before).length).toBeGreaterThan(2);
    const out = weighFamilies(data, { depth: 3, spatial: 0, counting: 0.5 }, 0);
    const after = familyCounts(out);
    expect(after.depth).toBe(3 * before.depth);
    expect(after.spatial).toBeUndefined();
    expect(after.counting).toBe(Math.round(0.5 * before.counting));
    expect(after.attribute).toBe(before.attribute);
    out.samples.forEach((s, i) => expect(out.images[i]).toBe(data.images[data.samples.indexOf(s)]));
    // The fractional part is a seeded choice: the same seed picks the same samples.
    expect(weighFamilies(data, { counting: 0.5 }, 4).samples.map((s) => s.id)).toEqual(weighFamilies(data, { counting: 0.5 }, 4).samples.map((s) => s.id));
  });

  it("refuses a weighting that leaves nothing to train on", () => {
    expect(() => weighFamilies(data, { attribute: 0, spatial: 0, depth: 0, counting: 0, multihop: 0 }, 0)).toThrow(/leaves no training samples/);
  });
});
