import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findCycles, importGraph } from "../helpers/import-graph.js";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

describe("import cycles", () => {
  it("src/ has none, type-only imports included", () => {
    expect(findCycles(importGraph(here("../../src")))).toEqual([]);
  });

  it("the scanner finds a cycle of type-only imports", () => {
    expect(findCycles(importGraph(here("../fixtures/import-cycle")))).toEqual([["a.ts", "b.ts"]]);
  });

  it("finds every cycle of a synthetic graph, self-imports included, and nothing in a chain", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", ["e"]],
      ["e", []],
      ["f", ["f"]],
      ["g", ["d"]],
    ]);
    expect(findCycles(graph)).toEqual([["a", "b", "c"], ["f"]]);
    expect(
      findCycles(
        new Map([
          ["x", ["y"]],
          ["y", []],
        ]),
      ),
    ).toEqual([]);
  });
});
