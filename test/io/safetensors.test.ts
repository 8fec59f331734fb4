import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeSafetensors,
  encodeSafetensors,
  float32ToBf16Bits,
  float32ToF16Bits,
  readSafetensors,
  SafetensorsError,
  toFloat32,
  writeSafetensors,
  type SafeTensor,
} from "../../src/io/safetensors.js";

/** A file assembled byte by byte from a header object, as Python's safetensors lays it out. */
function handBuilt(header: object | string, data: Uint8Array, pad = 0): Uint8Array {
  const json = Buffer.from((typeof header === "string" ? header : JSON.stringify(header)) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const le = (...parts: ArrayBufferView[]) => Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));
const f16 = (...v: number[]) => float32ToF16Bits(new Float32Array(v));

describe("safetensors", () => {
  it("round-trips every dtype, a 0-d scalar and empty tensors", () => {
    const tensors: Record<string, SafeTensor> = {
      f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, -Infinity]) },
      f16: { dtype: "F16", shape: [3], data: f16(1, -2, 0.5) },
      bf16: { dtype: "BF16", shape: [2], data: float32ToBf16Bits(new Float32Array([3, -0.125])) },
      i32: { dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
      i64: { dtype: "I64", shape: [1, 2], data: new BigInt64Array([-5n, 2n ** 62n]) },
      u8: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
      empty: { dtype: "F32", shape: [0], data: new Float32Array(0) },
      empty2d: { dtype: "I64", shape: [0, 4], data: new BigInt64Array(0) },
    };
    const buf = encodeSafetensors(tensors, { format: "pt" });
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    const { tensors: back, metadata } = decodeSafetensors(buf);
    expect(metadata).toEqual({ format: "pt" });
    expect([...back.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.get(name)!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(b.data.constructor).toBe(t.data.constructor);
      expect([...b.data]).toEqual([...t.data]);
    }
    expect([...toFloat32(back.get("f16")!)]).toEqual([1, -2, 0.5]);
    expect([...toFloat32(back.get("bf16")!)]).toEqual([3, -0.125]);
    expect([...toFloat32(back.get("scalar")!)]).toEqual([42]);
  });

  it("toFloat32 of F32 is a copy", () => {
    const t: SafeTensor = { dtype: "F32", shape: [1], data: new Float32Array([1]) };
    toFloat32(t)[0] = 9;
    expect(t.data[0]).toBe(1);
  });

  it("writes the same bytes whatever the insertion order", () => {
    const a: SafeTensor = { dtype: "F32", shape: [1], data: new Float32Array([1]) };
    const b: SafeTensor = { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) };
    const c: SafeTensor = { dtype: "I64", shape: [], data: new BigInt64Array([7n]) };
    const one = encodeSafetensors(
      new Map([
        ["a", a],
        ["b", b],
        ["c", c],
      ]),
      { x: "1", y: "2" },
    );
    const two = encodeSafetensors({ c, b, a }, { y: "2", x: "1" });
    expect(one.equals(two)).toBe(true);
    // Decoding and re-encoding is a fixed point.
    expect(encodeSafetensors(decodeSafetensors(one).tensors, decodeSafetensors(one).metadata).equals(one)).toBe(true);
  });

  it("converts to F16 with round-to-nearest-even", () => {
    expect([...f16(1, -2, 65504, 70000, -70000, 0, -0, Infinity, -Infinity)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0, 0x8000, 0x7c00, 0xfc00]);
    expect(f16(1e-7)[0]).toBe(2); // ~1.68 * 2^-24: the subnormal 2 * 2^-24
    expect(f16(2 ** -24)[0]).toBe(1);
    expect(f16(2 ** -25)[0]).toBe(0); // exactly half the smallest subnormal: ties to even (0)
    expect(f16(1.5 * 2 ** -25)[0]).toBe(1);
    expect(f16(2 ** -14 - 2 ** -25)[0]).toBe(0x0400); // rounds up out of the subnormals
    expect(f16(1 + 2 ** -11)[0]).toBe(0x3c00); // half way: ties to even
    expect(f16(1 + 3 * 2 ** -11)[0]).toBe(0x3c02);
    expect(f16(65519)[0]).toBe(0x7bff);
    expect(f16(65520)[0]).toBe(0x7c00);
    const nan = f16(NaN);
    expect(nan[0] & 0x7c00).toBe(0x7c00);
    expect(nan[0] & 0x3ff).not.toBe(0);
    expect(Number.isNaN(toFloat32({ dtype: "F16", shape: [1], data: nan })[0])).toBe(true);
    // Every finite F16 value survives F16 -> F32 -> F16.
    const all = new Uint16Array(0x10000).map((_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
    expect(float32ToF16Bits(toFloat32({ dtype: "F16", shape: [all.length], data: all }))).toEqual(all);
  });

  it("converts to BF16 with round-to-nearest-even", () => {
    const bf = (...v: number[]) => [...float32ToBf16Bits(new Float32Array(v))];
    expect(bf(1, -2, 0, Infinity)).toEqual([0x3f80, 0xc000, 0, 0x7f80]);
    expect(bf(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20)).toEqual([0x3f80, 0x3f82, 0x3f81]);
    expect(bf(3.4028234663852886e38)).toEqual([0x7f80]); // max F32 rounds up to infinity
    expect(Number.isNaN(toFloat32({ dtype: "BF16", shape: [1], data: float32ToBf16Bits(new Float32Array([NaN])) })[0])).toBe(true);
  });

  it("decodes a hand-built file, also when the data section is not 8-aligned", () => {
    // Laid out independently of encodeSafetensors, in the order Python writes: metadata first,
    // then tensors, offsets relative to the data section.
    const data = le(new Float32Array([1.5, -0.25]), new Uint16Array([0x3c00, 0xc000]), new BigInt64Array([-3n]), new Uint8Array([7]));
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},' +
      '"h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},' +
      '"i":{"dtype":"I64","shape":[],"data_offsets":[12,20]},' +
      '"u":{"dtype":"U8","shape":[1],"data_offsets":[20,21]},' +
      '"e":{"dtype":"BF16","shape":[0,3],"data_offsets":[21,21]}}';
    for (const pad of [0, 1, 2, 3, 5]) {
      const file = handBuilt(header, data, pad);
      // Also at an odd offset inside a larger buffer, so nothing leans on the caller's alignment.
      const shifted = new Uint8Array(file.length + 1).subarray(1);
      shifted.set(file);
      for (const buf of [file, shifted]) {
        const { tensors, metadata } = decodeSafetensors(buf);
        expect(metadata).toEqual({ format: "pt" });
        expect(tensors.get("w")).toEqual({ dtype: "F32", shape: [2, 1], data: new Float32Array([1.5, -0.25]) });
        expect([...toFloat32(tensors.get("h")!)]).toEqual([1, -2]);
        expect(tensors.get("i")).toEqual({ dtype: "I64", shape: [], data: new BigInt64Array([-3n]) });
        expect([...tensors.get("u")!.data]).toEqual([7]);
        expect(tensors.get("e")).toEqual({ dtype: "BF16", shape: [0, 3], data: new Uint16Array(0) });
      }
    }
  });

  it("rejects corrupt files with a SafetensorsError naming the file and the tensor", () => {
    const data = new Uint8Array(16);
    const bad = (header: object | string, match: RegExp, buf = handBuilt(header, data)) => {
      let err: unknown;
      try {
        decodeSafetensors(buf, "m.safetensors");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SafetensorsError);
      expect((err as SafetensorsError).file).toBe("m.safetensors");
      expect((err as Error).message).toMatch(/^m\.safetensors: /);
      expect((err as Error).message).toMatch(match);
    };
    const w = (e: unknown) => ({ ok: { dtype: "U8", shape: [1], data_offsets: [15, 16] }, w: e });
    bad(w({ shape: [1], data_offsets: [0, 4] }), /tensor w: missing dtype/);
    bad(w({ dtype: 5, shape: [1], data_offsets: [0, 4] }), /tensor w: dtype is not a string/);
    bad(w({ dtype: "F99", shape: [1], data_offsets: [0, 4] }), /tensor w: unsupported dtype F99/);
    bad(w({ dtype: "constructor", shape: [1], data_offsets: [0, 4] }), /tensor w: unsupported dtype constructor/);
    bad(w({ dtype: "F32", data_offsets: [0, 4] }), /tensor w: missing shape/);
    bad(w({ dtype: "F32", shape: "1", data_offsets: [0, 4] }), /tensor w: shape "1" is not/);
    bad(w({ dtype: "F32", shape: [-1], data_offsets: [0, 4] }), /tensor w: shape \[-1\] is not/);
    bad(w({ dtype: "F32", shape: [1.5], data_offsets: [0, 4] }), /tensor w: shape \[1.5\] is not/);
    bad(w({ dtype: "F32", shape: [1] }), /tensor w: missing data_offsets/);
    bad(w({ dtype: "F32", shape: [1], data_offsets: [0] }), /tensor w: data_offsets \[0\] is not two/);
    bad(w({ dtype: "F32", shape: [1], data_offsets: [0, 4.5] }), /tensor w: data_offsets \[0,4.5\] is not two/);
    bad(w({ dtype: "F32", shape: [1], data_offsets: ["0", 4] }), /tensor w: data_offsets \["0",4\] is not two/);
    bad(w({ dtype: "F32", shape: [1], data_offsets: [4, 0] }), /tensor w: data_offsets begin 4 > end 0/);
    bad(w({ dtype: "F32", shape: [8], data_offsets: [0, 32] }), /tensor w: data_offsets end 32 is beyond the data section \(16 bytes\)/);
    bad(w({ dtype: "F32", shape: [3], data_offsets: [0, 8] }), /tensor w: 8 bytes, but F32 \[3\] needs 12/);
    bad(w("nope"), /tensor w: entry is not an object/);
    bad({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, w: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, /tensor w: .*overlap tensor a/);
    // Not adjacent after sorting: the short tensor in between must not hide the overlap.
    bad(
      {
        a: { dtype: "U8", shape: [8], data_offsets: [0, 8] },
        b: { dtype: "U8", shape: [2], data_offsets: [2, 4] },
        w: { dtype: "U8", shape: [4], data_offsets: [6, 10] },
      },
      /tensor [bw]: .*overlap tensor a/,
    );
    bad({ __metadata__: { k: 1 } }, /__metadata__\.k is not a string/);
    bad({ __metadata__: [] }, /__metadata__ is not an object/);
    // File-level faults have no tensor to name; the message names the field instead.
    bad("", /too short .*4 bytes/, new Uint8Array(4));
    const huge = handBuilt({}, data);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    bad("", /header length 1099511627776 exceeds the file/, huge);
    bad("{]", /header is not valid UTF-8 JSON/);
    bad(
      "",
      /header is not valid UTF-8 JSON/,
      handBuilt('{"\xff":1}', data).map((b, i) => (i === 10 ? 0xff : b)),
    );
    bad("[1,2]", /header is not a JSON object/);
  });

  it("accepts zero-length tensors sharing an offset and the __proto__ name", () => {
    const header = {
      a: { dtype: "F32", shape: [0], data_offsets: [0, 0] },
      b: { dtype: "U8", shape: [0], data_offsets: [0, 0] },
      c: { dtype: "U8", shape: [2], data_offsets: [0, 2] },
    };
    expect([...decodeSafetensors(handBuilt(header, new Uint8Array(2))).tensors.keys()]).toEqual(["a", "b", "c"]);
    const t = new Map([["__proto__", { dtype: "U8" as const, shape: [1], data: new Uint8Array([1]) }]]);
    const back = decodeSafetensors(encodeSafetensors(t, { __proto__x: "y" }));
    expect([...back.tensors.keys()]).toEqual(["__proto__"]);
  });

  it("refuses to encode inconsistent tensors", () => {
    expect(() => encodeSafetensors({ w: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(/tensor w: 2 values for shape \[3\]/);
    expect(() => encodeSafetensors({ w: { dtype: "F16", shape: [1], data: new Float32Array(1) } })).toThrow(/tensor w: Float32Array does not hold dtype F16/);
    expect(() => encodeSafetensors({ w: { dtype: "F32", shape: [-1, -1], data: new Float32Array(1) } })).toThrow(/tensor w: shape/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } })).toThrow(SafetensorsError);
  });

  it("writes atomically and reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-st-"));
    try {
      const file = join(dir, "sub", "model.safetensors");
      writeSafetensors(file, { a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { step: "3" });
      writeSafetensors(file, { a: { dtype: "F32", shape: [2], data: new Float32Array([3, 4]) } }, { step: "4" });
      expect(readdirSync(join(dir, "sub"))).toEqual(["model.safetensors"]);
      const { tensors, metadata } = readSafetensors(file);
      expect([...tensors.get("a")!.data]).toEqual([3, 4]);
      expect(metadata).toEqual({ step: "4" });
      expect(() => readSafetensors(join(dir, "missing.safetensors"))).toThrow(/missing\.safetensors: cannot read \(ENOENT\)/);
      // A failed write leaves neither a temp file nor a changed target.
      expect(() => writeSafetensors(join(dir, "sub"), { a: { dtype: "U8", shape: [0], data: new Uint8Array(0) } })).toThrow(SafetensorsError);
      expect(readdirSync(dir)).toEqual(["sub"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Fuzzing: whatever the bytes, decoding either succeeds with every tensor's bytes inside the
 * data section, or throws a SafetensorsError; never another error, never an out-of-bounds read.
 */
describe("safetensors fuzzing", () => {
  const decodeOrReject = (buf: Uint8Array) => {
    let decoded: ReturnType<typeof decodeSafetensors>;
    try {
      decoded = decodeSafetensors(buf, "f.safetensors");
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      return;
    }
    const headerLength = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
    for (const t of decoded.tensors.values()) {
      const bytes = t.data.byteLength;
      const elements = t.shape.reduce((a, b) => a * b, 1);
      expect(bytes).toBe(elements * { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 }[t.dtype]);
      expect(bytes).toBeLessThanOrEqual(buf.length - 8 - headerLength);
      toFloat32(t);
    }
  };

  it("rejects or safely decodes random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => decodeOrReject(bytes)),
      { numRuns: 2000, seed: 1 },
    );
  });

  it("rejects or safely decodes random headers over a small data section", () => {
    const dtype = fc.oneof(fc.constantFrom("F32", "F16", "BF16", "I32", "I64", "U8", "F64", "constructor", ""), fc.integer(), fc.constant(null));
    const dim = fc.oneof(fc.nat({ max: 6 }), fc.integer({ min: -3, max: 1 << 30 }), fc.double(), fc.string());
    const offset = fc.oneof(fc.nat({ max: 40 }), fc.integer({ min: -5, max: 2 ** 40 }), fc.double(), fc.constant("0"));
    const entry = fc.oneof(
      fc.record({ dtype, shape: fc.array(dim, { maxLength: 3 }), data_offsets: fc.array(offset, { minLength: 0, maxLength: 3 }) }),
      fc.record(
        { dtype, shape: fc.array(dim, { maxLength: 3 }), data_offsets: fc.tuple(fc.nat({ max: 32 }), fc.nat({ max: 32 })) },
        { requiredKeys: ["dtype"] },
      ),
      fc.anything(),
    );
    const header = fc.dictionary(fc.oneof(fc.constantFrom("__metadata__", "__proto__", "w"), fc.string({ maxLength: 4 })), entry, { maxKeys: 4 });
    fc.assert(
      fc.property(header, fc.uint8Array({ minLength: 0, maxLength: 32 }), (h, data) => decodeOrReject(handBuilt(h, data))),
      { numRuns: 3000, seed: 2 },
    );
  });

  it("rejects or safely decodes valid files with mutated bytes, cut short or lengthened", () => {
    const valid = encodeSafetensors({
      a: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      b: { dtype: "F16", shape: [4], data: f16(1, 2, 3, 4) },
      c: { dtype: "I64", shape: [1], data: new BigInt64Array([7n]) },
    });
    const mutation = fc.record({
      flips: fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 255 })), { maxLength: 6 }),
      cut: fc.nat({ max: valid.length }),
      extra: fc.uint8Array({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutation, ({ flips, cut, extra }) => {
        const buf = new Uint8Array(Buffer.concat([valid.subarray(0, cut), extra]));
        for (const [i, v] of flips) if (i < buf.length) buf[i] = v;
        decodeOrReject(buf);
      }),
      { numRuns: 3000, seed: 3 },
    );
  });
});
