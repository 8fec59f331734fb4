import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { readPth, writePth, f32ToBf16, bf16ToF32 } from "../../src/io/pth.js";
import { UserError } from "../../src/errors.js";
import { FIXTURES, PYTHON, torchAvailable } from "../helpers/torch.js";

const tmp = () => mkdtempSync(join(tmpdir(), "lavit-pth-"));
const hasTorch = torchAvailable();

/** Bytes of a local-file-header's data, to check torch's 64-byte record alignment. */
function dataOffsets(file: string): Record<string, number> {
  const b = readFileSync(file);
  const out: Record<string, number> = {};
  let at = 0;
  while (b.readUInt32LE(at) === 0x04034b50) {
    const nameLen = b.readUInt16LE(at + 26);
    const extraLen = b.readUInt16LE(at + 28);
    const size = b.readUInt32LE(at + 18);
    const name = b.subarray(at + 30, at + 30 + nameLen).toString();
    out[name] = at + 30 + nameLen + extraLen;
    at = out[name] + size;
  }
  return out;
}

describe("writePth / readPth (lavit only)", () => {
  it("round-trips fp32 exactly and bf16 to bf16 precision, deterministically, 64-byte aligned", () => {
    const dir = tmp();
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10 ** (i % 5));
    writePth(join(dir, "a.pth"), { dtype: "fp32", shape: [4, 6], data });
    const a = readPth(join(dir, "a.pth"));
    expect(a).toEqual({ dtype: "fp32", shape: [4, 6], data });
    writePth(join(dir, "b.pth"), { dtype: "bf16", shape: [4, 6], data });
    writePth(join(dir, "c.pth"), { dtype: "bf16", shape: [4, 6], data });
    expect(readFileSync(join(dir, "b.pth"))).toEqual(readFileSync(join(dir, "c.pth")));
    const b = readPth(join(dir, "b.pth"));
    expect(b.dtype).toBe("bf16");
    for (let i = 0; i < 24; i++) {
      expect(b.data[i]).toBe(bf16ToF32(f32ToBf16(data[i])));
      expect(Math.abs(b.data[i] - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) / 256);
    }
    for (const [name, off] of Object.entries(dataOffsets(join(dir, "b.pth")))) expect(off % 64, name).toBe(0);
  });

  it("rounds to nearest even like torch", () => {
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even (down)
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(f32ToBf16(-0)).toBe(0x8000);
    expect(f32ToBf16(Infinity)).toBe(0x7f80);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });

  it("refuses non-zip files and archives without one data.pkl, naming the file", () => {
    const dir = tmp();
    writeFileSync(join(dir, "junk.pth"), "not a zip at all");
    expect(() => readPth(join(dir, "junk.pth"))).toThrow(/junk\.pth: not a torch\.save zip file/);
    writeFileSync(join(dir, "empty.pth"), zipSync({ "archive/version": new TextEncoder().encode("3\n") }));
    expect(() => readPth(join(dir, "empty.pth"))).toThrow(/empty\.pth: not a torch\.save file/);
    expect(() => readPth(join(dir, "missing.pth"))).toThrow(/missing\.pth: cannot read \(ENOENT\)/);
  });

  it("refuses a data.pkl that calls os.system, and nothing runs", () => {
    const dir = tmp();
    const marker = join(dir, "pwned");
    const cmd = `touch ${marker}`;
    const pkl = Buffer.concat([
      Buffer.from("\x80\x02cos\nsystem\nX", "latin1"),
      Buffer.from([cmd.length, 0, 0, 0]),
      Buffer.from(cmd),
      Buffer.from("\x85R.", "latin1"),
    ]);
    writeFileSync(join(dir, "evil.pth"), zipSync({ "archive/data.pkl": pkl, "archive/version": new TextEncoder().encode("3\n") }));
    expect(() => readPth(join(dir, "evil.pth"))).toThrow(UserError);
    expect(() => readPth(join(dir, "evil.pth"))).toThrow(/evil\.pth \(data\.pkl\): pickle global os\.system at byte 2 is outside the allowed subset/);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a view that claims more values than it may allocate", () => {
    const dir = tmp();
    const file = join(dir, "v.pth");
    writePth(file, { dtype: "fp32", shape: [2, 2], data: [1, 2, 3, 4] });
    const entries = unzipSync(readFileSync(file));
    // shape (65535, 65535) with strides (0, 0) over a 4-value storage
    const pkl = Buffer.from(entries["archive/data.pkl"]);
    const at = pkl.indexOf(Buffer.from([0x4b, 0x00, 0x4b, 0x02, 0x4b, 0x02, 0x86, 0x4b, 0x02, 0x4b, 0x01, 0x86]));
    expect(at).toBeGreaterThan(0);
    const patched = Buffer.concat([
      pkl.subarray(0, at),
      Buffer.from([0x4b, 0x00, 0x4d, 0xff, 0xff, 0x4d, 0xff, 0xff, 0x86, 0x4b, 0x00, 0x4b, 0x00, 0x86]),
      pkl.subarray(at + 12),
    ]);
    writeFileSync(join(dir, "huge.pth"), zipSync({ ...entries, "archive/data.pkl": patched }));
    expect(() => readPth(join(dir, "huge.pth"))).toThrow(/huge\.pth: tensor shape \[65535, 65535\] is too large/);
  });

  it("never throws anything but UserError on mutated .pth files", () => {
    const dir = tmp();
    const file = join(dir, "v.pth");
    writePth(file, { dtype: "bf16", shape: [3, 2], data: [1, 2, 3, 4, 5, 6] });
    const entries = unzipSync(readFileSync(file));
    const pkl = entries["archive/data.pkl"];
    const target = join(dir, "m.pth");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(pkl.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(64),
        (edits, storageCut) => {
          const m = Uint8Array.from(pkl);
          for (const [i, v] of edits) m[i] = v;
          writeFileSync(target, zipSync({ ...entries, "archive/data.pkl": m, "archive/data/0": entries["archive/data/0"].subarray(0, storageCut) }));
          try {
            readPth(target);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe.skipIf(!hasTorch)("against PyTorch (python3-torch)", () => {
  let dir = "";
  let expected: Record<string, { shape: number[]; values: (number | string)[] }> = {};
  beforeAll(() => {
    dir = tmp();
    const r = spawnSync(PYTHON, [join(FIXTURES, "torch_tensors.py"), dir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
  });

  it("reads what torch.save wrote, with the same values (bf16, fp16, fp32, views, offsets, scalars, empty)", () => {
    for (const [name, e] of Object.entries(expected)) {
      const t = readPth(join(dir, `${name}.pth`));
      expect(t.shape, name).toEqual(e.shape);
      expect(Array.from(t.data), name).toEqual(e.values.map((v) => (typeof v === "string" ? Number(v.replace("inf", "Infinity")) : Math.fround(v))));
      expect(t.dtype, name).toBe(name.split("_").find((p) => p === "bf16" || p === "fp16" || p === "fp32") ?? t.dtype);
    }
  });

  it("refuses other payloads and dtypes with a clear message", () => {
    expect(() => readPth(join(dir, "dict.pth"))).toThrow(/dict\.pth: holds no single tensor/);
    expect(() => readPth(join(dir, "list.pth"))).toThrow(/list\.pth: holds no single tensor/);
    expect(() => readPth(join(dir, "fp64.pth"))).toThrow(/fp64\.pth: tensor dtype float64 is not supported \(bf16, fp16 or fp32\)/);
    expect(() => readPth(join(dir, "int64.pth"))).toThrow(/int64\.pth: tensor dtype int64 is not supported/);
  });

  it("torch.load reads what lavit wrote, with equal values", () => {
    const out = tmp();
    const data = Float32Array.from({ length: 35 }, (_, i) => Math.cos(i * 0.7) * (i + 1));
    for (const dtype of ["bf16", "fp32"] as const) {
      const file = join(out, `${dtype}.pth`);
      writePth(file, { dtype, shape: [5, 7], data });
      const r = spawnSync(PYTHON, [join(FIXTURES, "torch_tensors.py"), file, dtype, "5", "7"], { encoding: "utf8", env: { ...process.env, READ: "1" } });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(Array.from(readPth(file).data));
    }
  });
});
