import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors, float32ToBf16Bits, float32ToF16Bits, readSafetensors, SafetensorsError, toFloat32, writeSafetensors, type SafeTensor } from "../../src/io/safetensors.js";

/** A file built byte by byte, the way Python's safetensors lays it out. */
function handBuilt(header: object, data: Uint8Array, pad = 0): Uint8Array {
  const json = Buffer.from(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips every dtype, scalars and empty tensors", () => {
    const tensors: Record<string, SafeTensor> = {
      f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, 7]) },
      f16: { dtype: "F16", shape: [2], data: float32ToF16Bits(new Float32Array([1, -2])) },
      bf16: { dtype: "BF16", shape: [1], data: float32ToBf16Bits(new Float32Array([3])) },
      i32: { dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
      i64: { dtype: "I64", shape: [1], data: new BigInt64Array([-5n]) },
      u8: { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    };
    const buf = encodeSafetensors(tensors, { format: "pt" });
    expect((Number(buf.readBigUInt64LE(0)) + 8) % 8).toBe(0);
    const { tensors: back, metadata } = decodeSafetensors(buf);
    expect(metadata).toEqual({ format: "pt" });
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.get(name)!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect([...b.data]).toEqual([...t.data]);
    }
    expect([...toFloat32(back.get("f16")!)]).toEqual([1, -2]);
    expect([...toFloat32(back.get("bf16")!)]).toEqual([3]);
  });

  it("writes the same bytes whatever the insertion order", () => {
    const a = { dtype: "F32" as const, shape: [1], data: new Float32Array([1]) };
    const b = { dtype: "F32" as const, shape: [2], data: new Float32Array([2, 3]) };
    expect(encodeSafetensors(new Map([["a", a], ["b", b]])).equals(encodeSafetensors(new Map([["b", b], ["a", a]])))).toBe(true);
  });

  it("converts to F16 and BF16 with round-to-nearest-even", () => {
    const h = float32ToF16Bits(new Float32Array([1, -2, 65504, 70000, 1e-7, NaN, 0]));
    expect([...h.slice(0, 4)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00]);
    expect(h[4]).toBe(2); // 1e-7 is about 1.68 * 2^-24: the subnormal 2
    expect(Number.isNaN(toFloat32({ dtype: "F16", shape: [1], data: h.slice(5, 6) })[0])).toBe(true);
    expect(h[6]).toBe(0);
    // 1 + 2^-11 is exactly half way between two F16 values: ties to even (1.0)
    expect(float32ToF16Bits(new Float32Array([1 + 2 ** -11]))[0]).toBe(0x3c00);
    expect(float32ToF16Bits(new Float32Array([1 + 3 * 2 ** -11]))[0]).toBe(0x3c02);
    expect(float32ToBf16Bits(new Float32Array([1]))[0]).toBe(0x3f80);
    expect(float32ToBf16Bits(new Float32Array([-2]))[0]).toBe(0xc000);
  });

  it("reads a hand-built file, also when the data section is not aligned", () => {
    const data = new Uint8Array(new Float32Array([1.5, -0.25]).buffer);
    for (const pad of [0, 1, 3]) {
      const file = handBuilt({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, __metadata__: { k: "v" } }, data, pad);
      const { tensors, metadata } = decodeSafetensors(file);
      expect([...tensors.get("w")!.data]).toEqual([1.5, -0.25]);
      expect(metadata.k).toBe("v");
    }
  });

  it("rejects corrupt headers with an error naming the file and the tensor", () => {
    const data = new Uint8Array(16);
    const bad = (header: object, match: RegExp) => {
      expect(() => decodeSafetensors(handBuilt(header, data), "m.safetensors")).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(handBuilt(header, data), "m.safetensors")).toThrow(match);
    };
    bad({ w: { shape: [1], data_offsets: [0, 4] } }, /m\.safetensors: tensor w: missing dtype/);
    bad({ w: { dtype: "F99", shape: [1], data_offsets: [0, 4] } }, /tensor w: unsupported dtype F99/);
    bad({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, /tensor w: shape/);
    bad({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, /tensor w: data_offsets begin/);
    bad({ w: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, /tensor w: data_offsets end 32 is beyond/);
    bad({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, /tensor w: 8 bytes, but F32 \[3\] needs 12/);
    bad({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, v: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, /tensor v: data overlaps tensor w/);
    expect(() => decodeSafetensors(new Uint8Array(4), "x")).toThrow(/x: too short/);
    const huge = handBuilt({}, data);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge, "x")).toThrow(/header length .* exceeds the file/);
    const notJson = handBuilt({}, data);
    notJson[8] = 0x7b + 1;
    expect(() => decodeSafetensors(notJson, "x")).toThrow(/not valid UTF-8 JSON/);
  });

  it("writes atomically and reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-st-"));
    const file = join(dir, "model.safetensors");
    writeSafetensors(file, { a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect([...readSafetensors(file).tensors.get("a")!.data]).toEqual([1, 2]);
    expect(() => readSafetensors(join(dir, "missing.safetensors"))).toThrow(/missing\.safetensors: cannot read/);
    expect(existsSync(file)).toBe(true);
  });
});
