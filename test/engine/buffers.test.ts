import { describe, expect, it } from "vitest";
import { tf } from "../../src/engine/index.js";
import fc from "fast-check";
import { BufferPool, sizeClass, storageOf } from "../../src/engine/kernels/buffers.js";
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
      expect(new Set([...again, ...first].map((a) => a.buffer)).size).toBe(3);
      for (const a of again) pool.release(a);
    }
  });

  it("serves lengths of one size class from the same buffers, each as a view of its exact length", () => {
    const pool = new BufferPool(1 << 20);
    // a step padded to 100 tokens, then one padded to 98: same classes, no new memory
    const first = [pool.alloc(100 * 64), pool.alloc(100 * 100)];
    for (const a of first) pool.release(a);
    const bound = pool.boundBytes;
    const again = [pool.alloc(98 * 64), pool.alloc(98 * 98)];
    expect(again.map((a) => a.length)).toEqual([98 * 64, 98 * 98]);
    expect(new Set([...again, ...first].map((a) => a.buffer)).size).toBe(2);
    expect(again.every((a) => a.byteOffset === 0)).toBe(true);
    expect(pool.boundBytes).toBe(bound);
  });

  it("drops the classes asked for least recently first when shapes change", () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.alloc(100); // class 104
    const b = pool.alloc(50); // class 52
    pool.release(a);
    pool.release(b);
    const b2 = pool.alloc(50);
    expect(b2.buffer).toBe(b.buffer); // 52 is now the most recent class
    pool.release(b2);
    // a miss: 80 more floats with 156 free exceed the high-water mark of 156 out at once
    const c = pool.alloc(80);
    expect(pool.pooledBytes).toBe(52 * 4); // the 104 went, the 52 stayed
    expect(pool.alloc(50).buffer).toBe(b.buffer);
    expect(pool.alloc(100).buffer).not.toBe(a.buffer);
    expect(c.length).toBe(80);
  });

  it("gives a reader an exact copy of a partial view and takes the view back", () => {
    const pool = new BufferPool(1 << 20);
    const whole = pool.alloc(8); // exact below 17
    expect(pool.readOut(whole)).toBe(whole);
    const w = pool.alloc(200);
    const v = pool.alloc(100);
    v.fill(3);
    const copy = pool.readOut(v) as Float32Array;
    expect(copy).not.toBe(v);
    expect(copy.buffer.byteLength).toBe(400);
    expect(Array.from(copy)).toEqual(Array.from(v));
    expect(pool.pooledBytes).toBe(104 * 4);
    // pinned views are copied for the reader but stay out of the pool
    pool.pin(w);
    expect((pool.readOut(w) as Float32Array).buffer.byteLength).toBe(800);
    expect(pool.pooledBytes).toBe(104 * 4);
  });
});

describe("size classes", () => {
  it("round up by at most an eighth, keep lengths up to 16, and never go down", () => {
    for (let n = 0; n <= 16; n++) expect(sizeClass(n)).toBe(n);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 28 }), (n) => {
        const c = sizeClass(n);
        expect(c).toBeGreaterThanOrEqual(n);
        expect(c).toBeLessThanOrEqual(n * 1.125);
        expect(sizeClass(c)).toBe(c);
        expect(sizeClass(n + 1)).toBeGreaterThanOrEqual(c);
      }),
    );
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

  run("reads out a kernel output of a length between size classes as exactly its own bytes", async () => {
    const reg = registerNativeKernels(addon!);
    try {
      const x = tf.range(0, 100, 1, "float32"); // 100 floats: class 104
      const y = tf.add(x, 1);
      expect(storageOf(y).buffer.byteLength).toBe(104 * 4);
      const bytes = await y.bytes();
      expect(bytes.length).toBe(400);
      const read = y.dataSync() as Float32Array;
      expect(read.buffer.byteLength).toBe(400);
      expect(read[99]).toBe(100);
      tf.dispose([x, y]);
    } finally {
      reg.restore();
    }
  });

  run("reuses a kernel output's buffer once its tensor is gone, and restore() turns recycling off", () => {
    const reg = registerNativeKernels(addon!);
    const x = tf.tensor1d([1, 2, 3]);
    try {
      const a = tf.add(x, 1);
      const buf = storageOf(a);
      a.dispose();
      const b = tf.mul(x, 2);
      expect(storageOf(b)).toBe(buf);
      expect(Array.from(b.dataSync())).toEqual([2, 4, 6]);
      b.dispose();
    } finally {
      reg.restore();
    }
    const c = tf.add(x, 1);
    const buf = storageOf(c);
    c.dispose();
    const d = tf.add(x, 1);
    expect(storageOf(d)).not.toBe(buf);
    tf.dispose([x, d]);
  });
});
