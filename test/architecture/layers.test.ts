import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph } from "../helpers/import-graph.js";

/** docs/architecture.md's order, top first; folders of one layer may import each other. */
const LAYERS: string[][] = [
  ["index.ts"],
  ["cli"],
  ["demo"],
  ["study"],
  ["stages", "bench"],
  ["report", "eval", "signals", "train"],
  ["model"],
  ["data"],
  ["io"],
  ["engine", "util", "errors.ts"],
];
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

/** Imports from a module to one in a higher layer, as "from -> to". */
function upwardImports(graph: Map<string, string[]>): string[] {
  const layer = (m: string) => {
    const top = m.split("/")[0];
    const l = layerOf.get(top);
    if (l === undefined) throw new Error(`${top}: not in the layer list of test/architecture/layers.test.ts (docs/architecture.md)`);
    return l;
  };
  return [...graph].flatMap(([from, tos]) => tos.filter((to) => layer(to) < layer(from)).map((to) => `${from} -> ${to}`));
}

describe("layers", () => {
  it("no module of src/ imports from a layer above its own", () => {
    expect(upwardImports(importGraph(fileURLToPath(new URL("../../src", import.meta.url))))).toEqual([]);
  });

  it("the check sees an upward import, and allows imports down and within a layer", () => {
    const graph = new Map([
      ["io/jpeg.ts", ["data/png.ts", "util/rng.ts"]],
      ["eval/a.ts", ["train/b.ts", "model/c.ts"]],
    ]);
    expect(upwardImports(graph)).toEqual(["io/jpeg.ts -> data/png.ts"]);
  });
});
