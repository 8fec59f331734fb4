import { describe, expect, it } from "vitest";
import { LruCache } from "../../src/util/lru.js";

describe("LruCache", () => {
  it("computes a value once, keeps the most recently used, drops the least recently used past capacity", () => {
    const made: number[] = [];
    const c = new LruCache<number, string>(2);
    const get = (k: number) => c.get(k, (x) => (made.push(x), `v${x}`));
    expect([get(1), get(2), get(1)]).toEqual(["v1", "v2", "v1"]);
    expect(made).toEqual([1, 2]);
    get(3); // drops 2, the least recently used
    expect(c.size).toBe(2);
    get(1);
    expect(made).toEqual([1, 2, 3]);
    get(2);
    expect(made).toEqual([1, 2, 3, 2]);
    expect(() => new LruCache(0)).toThrow(/capacity/);
  });
});
