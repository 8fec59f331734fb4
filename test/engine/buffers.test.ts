import { describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import { BufferPool } from "../../src/engine/kernels/buffers.js";
import { registerNativeKernels } from "../../src/engine/kernels/index.js";
import { loadAddonForTests } from "./helpers.js";

describe("buffer pool", () => {
  it("hands back only its own, unpinned buffers, up to its cap", () => {
    const pool = new BufferPool(64);
    const a = pool.alloc(4);
    pool.release(a);
    expect(pool.alloc(4)).toBe(a);
    const b = pool.alloc(4);
    pool.pin(b);
    pool.release(b);
    expect(pool.alloc(4)).not.toBe(b);
    const foreign = new Float32Array(4);
    pool.release(foreign);
    expect(pool.pooledBytes).toBe(0);
    const big = pool.alloc(32);
    pool.release(big);
    expect(pool.pooledBytes).toBe(0); // 128 bytes > the 64-byte cap
    const c = pool.alloc(2);
    pool.release(c);
    pool.release(c); // a second release of the same buffer is ignored
    expect(pool.alloc(2)).toBe(c);
    expect(pool.alloc(2)).not.toBe(c);
  });
});

describe("buffer pool bound", () => {
  it("holds no more than the most it had out at once, under its cap, across many varied shapes", () => {
    const cap = 1 << 20;
    const pool = new BufferPool(cap);
    let seed = 7;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    let out: Float32Array[] = [];
    let outBytes = 0;
    let peakOut = 0;
    for (let step = 0; step < 300; step++) {
      // a "step" of a random padded length: a few outputs whose sizes depend on it
      const t = 8 + rand(40);
      for (const width of [16, 48, 16 * t]) {
        const a = pool.alloc(t * width);
        out.push(a);
        outBytes += a.byteLength;
        if (rand(10) === 0) pool.pin(a); // read out: never comes back
      }
      peakOut = Math.max(peakOut, outBytes);
      if (rand(3) === 0) {
        for (const a of out) pool.release(a);
        out = [];
        outBytes = 0;
      }
      expect(pool.pooledBytes).toBeLessThanOrEqual(pool.boundBytes);
      expect(pool.boundBytes).toBeLessThanOrEqual(Math.min(cap, peakOut));
    }
    for (const a of out) pool.release(a);
    expect(pool.pooledBytes).toBeGreaterThan(0);
    expect(pool.pooledBytes).toBeLessThanOrEqual(Math.min(cap, peakOut));
  });

  it("reuses every buffer of a loop of same-shaped steps", () => {
    const pool = new BufferPool(1 << 20);
    const step = () => [pool.alloc(100), pool.alloc(100), pool.alloc(30)];
    const first = step();
    for (const a of first) pool.release(a);
    for (let i = 0; i < 5; i++) {
      const again = step();
      expect(new Set([...again, ...first]).size).toBe(3);
      for (const a of again) pool.release(a);
    }
  });

  it("drops the lengths asked for least recently first when shapes change", () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.alloc(100);
    const b = pool.alloc(50);
    pool.release(a);
    pool.release(b);
    expect(pool.alloc(50)).toBe(b); // 50 is now the most recent length
    pool.release(b);
    // a miss: 80 more floats with 150 free exceed the high-water mark of 150 out at once
    const c = pool.alloc(80);
    expect(pool.pooledBytes).toBe(50 * 4); // the 100 went, the 50 stayed
    expect(pool.alloc(50)).toBe(b);
    expect(pool.alloc(100)).not.toBe(a);
    expect(c.length).toBe(80);
  });
});

describe("buffer recycling on the native tier", async () => {
  const addon = await loadAddonForTests();
  const run = addon ? it : it.skip;

  run("never overwrites what a caller read out, nor a view tfjs's own kernels made", () => {
    const reg = registerNativeKernels(addon!);
    try {
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
      // read out, then disposed: later kernels must not write into it
      const y = tf.add(x, 1);
      const read = y.dataSync() as Float32Array;
      y.dispose();
      // tfjs's SplitV slices by views of its input
      const z = tf.mul(x, 2);
      const [top] = tf.split(z, 2, 0);
      z.dispose();
      for (let i = 0; i < 20; i++) tf.dispose([tf.add(x, 100), tf.mul(x, -1), tf.sub(x, 7)]);
      expect(Array.from(read)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect(Array.from(top.dataSync())).toEqual([2, 4, 6, 8]);
      tf.dispose([x, top]);
    } finally {
      reg.restore();
    }
  });

  run("reuses a kernel output's buffer once its tensor is gone, and restore() turns recycling off", () => {
    const reg = registerNativeKernels(addon!);
    const x = tf.tensor1d([1, 2, 3]);
    const storage = (t: tf.Tensor) => (tf.backend() as unknown as { data: { get(id: object): { values: unknown } } }).data.get(t.dataId).values;
    try {
      const a = tf.add(x, 1);
      const buf = storage(a);
      a.dispose();
      const b = tf.mul(x, 2);
      expect(storage(b)).toBe(buf);
      expect(Array.from(b.dataSync())).toEqual([2, 4, 6]);
      b.dispose();
    } finally {
      reg.restore();
    }
    const c = tf.add(x, 1);
    const buf = storage(c);
    c.dispose();
    const d = tf.add(x, 1);
    expect(storage(d)).not.toBe(buf);
    tf.dispose([x, d]);
  });
});
