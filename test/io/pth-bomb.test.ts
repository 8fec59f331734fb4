import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { unzipSync, zipSync } from "fflate";
import { readPth, writePth } from "../../src/io/pth.js";

const tmp = () => mkdtempSync(join(tmpdir(), "lavit-bomb-"));
const MB = 2 ** 20;

/**
 * A raw deflate stream of `mb` MB of zeros built without holding them: 1 MB of zeros
 * full-flushed (byte-aligned, not final) repeated, then an empty final block.
 */
function zerosStream(mb: number): Buffer {
  const chunk = deflateRawSync(Buffer.alloc(MB), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mb }, () => chunk), Buffer.from([0x03, 0x00])]);
}

interface Record_ {
  name: string;
  data: Uint8Array;
  method: 0 | 8;
  size: number;
}

/**
 * A zip whose central directory lists `central` entries, each pointing at the local record
 * (by index into `records`) it names: several entries may share one record, as in the bomb.
 */
function craftZip(records: Record_[], central: { name: string; record: number; size?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const r of records) {
    const name = Buffer.from(r.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(r.method, 8);
    h.writeUInt32LE(r.data.length, 18);
    h.writeUInt32LE(r.size, 22);
    h.writeUInt16LE(name.length, 26);
    offsets.push(at);
    locals.push(h, name, Buffer.from(r.data));
    at += 30 + name.length + r.data.length;
  }
  const cd: Buffer[] = [];
  for (const c of central) {
    const r = records[c.record];
    const name = Buffer.from(c.name);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(20, 6);
    h.writeUInt16LE(r.method, 10);
    h.writeUInt32LE(r.data.length, 20);
    h.writeUInt32LE(c.size ?? r.size, 24);
    h.writeUInt16LE(name.length, 28);
    h.writeUInt32LE(offsets[c.record], 42);
    cd.push(h, name);
  }
  const cdBytes = Buffer.concat(cd);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length, 8);
  end.writeUInt16LE(central.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(at, 16);
  return Buffer.concat([...locals, cdBytes, end]);
}

/** The data.pkl of a real [2, 2] fp32 tensor file, as a stored (uncompressed) record. */
function pickleRecord(dir: string): Record_ {
  const f = join(dir, "small.pth");
  writePth(f, { dtype: "fp32", shape: [2, 2], data: [1, 2, 3, 4] });
  const data = unzipSync(readFileSync(f))["archive/data.pkl"];
  return { name: "archive/data.pkl", data, method: 0, size: data.length };
}

/**
 * That pickle and its one storage, data/0: the deflate `stream`, declaring `size` bytes in its
 * local header and `centralSize` (when given) in the central directory.
 */
function oneStorageZip(dir: string, stream: Buffer, size: number, centralSize?: number): Buffer {
  return craftZip(
    [pickleRecord(dir), { name: "archive/data/0", data: stream, method: 8, size }],
    [
      { name: "archive/data.pkl", record: 0 },
      { name: "archive/data/0", record: 1, ...(centralSize !== undefined ? { size: centralSize } : {}) },
    ],
  );
}

/** readPth in a child process: its error message and its peak resident memory. */
function readInChild(file: string): { message: string; maxRssMb: number } {
  const script = `
    import { readPth } from ${JSON.stringify(join(process.cwd(), "src", "io", "pth.ts"))};
    let message = "read without error";
    try { readPth(${JSON.stringify(file)}); } catch (e) { message = (e.constructor?.name ?? "") + ": " + e.message; }
    console.log(JSON.stringify({ message, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("readPth on zip bombs", () => {
  it("the stream builder makes a valid stream of the size it says (so the bombs below are real)", () => {
    expect(inflateRawSync(zerosStream(3)).length).toBe(3 * MB);
  });

  it("refuses 8 entries sharing one 1.5 GB deflate stream, naming the file and the entry, in bounded memory", () => {
    const dir = tmp();
    const file = join(dir, "bomb.pth");
    const stream = zerosStream(1536);
    const records: Record_[] = [pickleRecord(dir), { name: "archive/data/0", data: stream, method: 8, size: 1536 * MB }];
    const central = [{ name: "archive/data.pkl", record: 0 }, ...Array.from({ length: 8 }, (_, i) => ({ name: `archive/data/${i}`, record: 1 }))];
    writeFileSync(file, craftZip(records, central));
    const { message, maxRssMb } = readInChild(file);
    expect(message).toBe(
      `UserError: ${file}: looks like a zip bomb: entry "archive/data/0" declares ${1536 * MB} bytes from ${stream.length} compressed; a torch.save of one tensor needs at most ${2 ** 28} there`,
    );
    // The file itself is 1.5 MB; inflating one entry would take 1.5 GB.
    expect(maxRssMb).toBeLessThan(400);
  });

  it("refuses a pickle entry that inflates far past what a tensor's pickle needs", () => {
    const dir = tmp();
    const file = join(dir, "pkl-bomb.pth");
    const stream = zerosStream(64);
    writeFileSync(file, craftZip([{ name: "archive/data.pkl", data: stream, method: 8, size: 64 * MB }], [{ name: "archive/data.pkl", record: 0 }]));
    expect(() => readPth(file)).toThrow(`${file}: looks like a zip bomb: entry "archive/data.pkl" declares ${64 * MB} bytes from ${stream.length} compressed`);
  });

  it("refuses a declared size that deflate cannot reach from the compressed size, before inflating", () => {
    const dir = tmp();
    const file = join(dir, "ratio.pth");
    writeFileSync(file, oneStorageZip(dir, zerosStream(1), 16, 2 ** 31));
    expect(() => readPth(file)).toThrow(
      /ratio\.pth: looks like a zip bomb: entry "archive\/data\/0" declares 2147483648 bytes from \d+ compressed, more than deflate can expand/,
    );
  });

  it("refuses a storage whose declared size is not what the pickle needs, before inflating it", () => {
    const dir = tmp();
    const file = join(dir, "size.pth");
    writeFileSync(file, oneStorageZip(dir, zerosStream(8), 8 * MB));
    expect(() => readPth(file)).toThrow(`${file}: storage data/0 holds ${8 * MB} bytes, expected 4 fp32 values`);
  });

  it("refuses an entry listed twice, and a stored entry whose two sizes differ", () => {
    const dir = tmp();
    const rec = pickleRecord(dir);
    const pkl = rec.data;
    const twice = join(dir, "twice.pth");
    writeFileSync(
      twice,
      craftZip(
        [rec],
        [
          { name: "archive/data.pkl", record: 0 },
          { name: "archive/data.pkl", record: 0 },
        ],
      ),
    );
    expect(() => readPth(twice)).toThrow(`${twice}: entry "archive/data.pkl" appears twice in the archive`);
    const stored = join(dir, "stored.pth");
    writeFileSync(stored, craftZip([rec], [{ name: "archive/data.pkl", record: 0, size: 10 * MB }]));
    expect(() => readPth(stored)).toThrow(
      `${stored}: entry "archive/data.pkl" is stored uncompressed but declares ${10 * MB} bytes from ${pkl.length}; the archive is corrupt`,
    );
  });

  it("refuses a file larger than any tensor file it reads, without reading it", () => {
    const dir = tmp();
    const file = join(dir, "big.pth");
    const fd = openSync(file, "w");
    ftruncateSync(fd, 2 ** 30); // sparse: no disk used
    closeSync(fd);
    expect(() => readPth(file)).toThrow(/big\.pth: is 1073741824 bytes, more than a tensor file of at most 67108864 values can be/);
  });

  it("still reads a tensor file whose entries were re-zipped with deflate", () => {
    const dir = tmp();
    const file = join(dir, "t.pth");
    const data = Float32Array.from({ length: 600 }, (_, i) => i % 7);
    writePth(file, { dtype: "fp32", shape: [20, 30], data });
    const entries = unzipSync(readFileSync(file));
    writeFileSync(join(dir, "deflated.pth"), zipSync(entries, { level: 9 }));
    expect(readPth(join(dir, "deflated.pth"))).toEqual({ dtype: "fp32", shape: [20, 30], data });
  });
});
