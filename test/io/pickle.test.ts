import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unpickle, PyTuple, PickleWriter, OP, type UnpickleOptions } from "../../src/io/pickle.js";
import { UserError } from "../../src/errors.js";
import { PYTHON } from "../helpers/torch.js";

const opts: UnpickleOptions = {
  source: "t.pkl",
  globals: { "collections.OrderedDict": () => new Map(), "torch.FloatStorage": "marker" },
  persistentLoad: (pid) => ({ pid: pid as unknown }),
};
const b = (s: string) => Uint8Array.from(Buffer.from(s, "latin1"));

/** A pickle that would run `touch <file>` through posix.system if a real unpickler loaded it. */
const systemPickle = (file: string) => b(`\x80\x02cposix\nsystem\nX${String.fromCharCode(`touch ${file}`.length)}\x00\x00\x00touch ${file}\x85R.`);

describe("unpickle (closed subset)", () => {
  it("reads the structures torch.save writes", () => {
    const w = new PickleWriter()
      .op(OP.MARK)
      .int(3)
      .int(70000)
      .int(-5)
      .tuple([1, 2])
      .tuple([1, 2, 3, 4])
      .op(OP.NEWFALSE)
      .global("collections", "OrderedDict")
      .op(OP.EMPTY_TUPLE)
      .op(OP.REDUCE)
      .str("héllo")
      .op(OP.TUPLE);
    const v = unpickle(w.bytes(), opts) as PyTuple;
    expect(v).toBeInstanceOf(PyTuple);
    expect(v.items.slice(0, 3)).toEqual([3, 70000, -5]);
    expect((v.items[3] as PyTuple).items).toEqual([1, 2]);
    expect((v.items[4] as PyTuple).items).toEqual([1, 2, 3, 4]);
    expect(v.items[5]).toBe(false);
    expect(v.items[6]).toBeInstanceOf(Map);
    expect(v.items[7]).toBe("héllo");
  });

  it("handles dicts, lists, memo and persistent ids", () => {
    // {"a": [1, 2], "b": <memo of the list>}, with a persistent id inside the list.
    const bytes = b("\x80\x02}q\x00(X\x01\x00\x00\x00a]q\x01(K\x01K\x02eX\x01\x00\x00\x00bh\x01u.");
    const d = unpickle(bytes, opts) as Map<string, unknown>;
    expect(d.get("a")).toEqual([1, 2]);
    expect(d.get("b")).toBe(d.get("a"));
    const p = unpickle(b("\x80\x02X\x01\x00\x00\x00xQ."), opts) as { pid: unknown };
    expect(p.pid).toBe("x");
  });

  it("refuses os.system / posix.system, naming the file and the global, and runs nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-pickle-"));
    const file = join(dir, "pwned");
    for (const mod of ["posix", "os", "nt"]) {
      const bytes = systemPickle(file);
      const patched = b(Buffer.from(bytes).toString("latin1").replace("posix", mod));
      expect(() => unpickle(patched, opts)).toThrow(UserError);
      expect(() => unpickle(patched, opts)).toThrow(new RegExp(`t\\.pkl: pickle global ${mod}\\.system .*refused`));
    }
    expect(existsSync(file)).toBe(false);
    // The same bytes do run under Python's own pickle: the test pickle is a real attack.
    const r = spawnSync(PYTHON, ["-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"], { input: Buffer.from(systemPickle(file)) });
    expect(r.status).toBe(0);
    expect(existsSync(file)).toBe(true);
  });

  it("refuses builtins.eval, REDUCE on a data-only global, and opcodes outside the subset", () => {
    expect(() => unpickle(b("\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R."), opts)).toThrow(/global builtins\.eval .*refused/);
    expect(() => unpickle(b("\x80\x02ctorch\nFloatStorage\n)R."), opts)).toThrow(/REDUCE on torch\.FloatStorage; refused/);
    expect(() => unpickle(b("\x80\x02K\x01K\x02R."), opts)).toThrow(/REDUCE .*not an allowed callable/);
    expect(() => unpickle(b("\x80\x02]b."), opts)).toThrow(/opcode BUILD at byte 3 is outside the allowed subset/);
    expect(() => unpickle(b("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93."), opts)).toThrow(/opcode STACK_GLOBAL/);
    expect(() => unpickle(b("\x80\x02\x81."), opts)).toThrow(/opcode NEWOBJ/);
    expect(() => unpickle(b("\x80\x02ccollections\nOrderedDict\n)R"), opts)).toThrow(/ends without STOP/);
  });

  it("takes a long APPENDS without overflowing the stack", () => {
    const n = 300_000;
    const bytes = new Uint8Array(4 + 2 * n + 2);
    bytes.set([0x80, 2, 0x5d, 0x28]);
    for (let i = 0; i < n; i++) bytes.set([0x4b, i & 0xff], 4 + 2 * i);
    bytes.set([0x65, 0x2e], 4 + 2 * n);
    expect((unpickle(bytes, opts) as number[]).length).toBe(n);
  });

  it("never throws anything but UserError and always ends, on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          unpickle(bytes, opts);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws anything but UserError on mutated valid pickles", () => {
    const valid = new PickleWriter()
      .global("torch._utils", "_rebuild_tensor_v2")
      .op(OP.MARK)
      .op(OP.MARK)
      .str("storage")
      .global("torch", "FloatStorage")
      .str("0")
      .str("cpu")
      .int(12)
      .op(OP.TUPLE)
      .op(OP.BINPERSID)
      .int(0)
      .tuple([3, 4])
      .tuple([4, 1])
      .op(OP.NEWFALSE)
      .global("collections", "OrderedDict")
      .op(OP.EMPTY_TUPLE)
      .op(OP.REDUCE)
      .op(OP.TUPLE)
      .op(OP.REDUCE)
      .bytes();
    const o: UnpickleOptions = { ...opts, globals: { ...opts.globals, "torch._utils._rebuild_tensor_v2": (args) => new PyTuple(args) } };
    expect(unpickle(valid, o)).toBeInstanceOf(PyTuple);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const m = Uint8Array.from(valid);
          for (const [i, v] of edits) m[i] = v;
          try {
            unpickle(m.subarray(0, Math.max(cut, 1)), o);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
