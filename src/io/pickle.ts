import { UserError } from "../errors.js";

/**
 * A small, closed subset of Python's pickle format: the opcodes `torch.save` writes (protocol 2)
 * and nothing else. It builds plain data; it never imports or calls anything. A GLOBAL is only
 * a name looked up in the caller's allow-list, and REDUCE only calls the caller's JS function
 * registered for an allow-listed callable. Any other opcode or global is refused, naming the
 * file and the opcode or global.
 *
 * No maintained npm parser fits: the one pure-JS parser (pickleparser) implements every opcode
 * and maps unknown globals to stand-in objects, with no way to refuse an opcode.
 */

/** A Python tuple (kept apart from lists, which are JS arrays). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** An allow-listed global that is only data (e.g. a storage class named in a persistent id). */
export class PyGlobal {
  constructor(readonly name: string) {}
}

/** An allow-listed global that REDUCE may apply. */
export class PyCallable {
  constructor(
    readonly name: string,
    readonly call: (args: readonly PyValue[]) => PyValue,
  ) {}
}

export type PyValue =
  null | boolean | number | bigint | string | PyValue[] | PyTuple | Map<PyValue, PyValue> | PyGlobal | PyCallable | { readonly [k: string]: unknown };

export interface UnpickleOptions {
  /** Names the input in every error. */
  source: string;
  /** "module.name" -> a JS function (REDUCE may call it) or "marker" (a data-only name). */
  globals: Readonly<Record<string, ((args: readonly PyValue[]) => PyValue) | "marker">>;
  /** BINPERSID: turns a persistent id into a value; without it BINPERSID is refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

const MARK = Symbol("mark");
type Slot = PyValue | typeof MARK;

const NAMES: Record<number, string> = {
  0x80: "PROTO",
  0x95: "FRAME",
  0x2e: "STOP",
  0x28: "MARK",
  0x7d: "EMPTY_DICT",
  0x5d: "EMPTY_LIST",
  0x29: "EMPTY_TUPLE",
  0x74: "TUPLE",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x58: "BINUNICODE",
  0x8c: "SHORT_BINUNICODE",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4d: "BININT2",
  0x8a: "LONG1",
  0x47: "BINFLOAT",
  0x4e: "NONE",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x94: "MEMOIZE",
  0x68: "BINGET",
  0x6a: "LONG_BINGET",
  0x73: "SETITEM",
  0x75: "SETITEMS",
  0x61: "APPEND",
  0x65: "APPENDS",
  0x51: "BINPERSID",
  0x63: "GLOBAL",
  0x52: "REDUCE",
};

/** Opcodes outside the subset, by name, so that a refusal says what the file asked for. */
const FOREIGN: Record<number, string> = {
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4c: "LONG",
  0x50: "PERSID",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x62: "BUILD",
  0x64: "DICT",
  0x67: "GET",
  0x69: "INST",
  0x6c: "LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Keys of a Map built by SETITEM(S): strings and numbers compare by value, as in Python. */
function dictKey(k: PyValue): PyValue {
  if (typeof k === "string" || typeof k === "number" || typeof k === "boolean" || k === null || typeof k === "bigint") return k;
  throw new Error("dict key of this type");
}

/** Runs the pickle in `bytes` and returns the value STOP leaves on the stack. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Slot[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let op = 0;
  let opAt = 0;
  const fail = (why: string): never => {
    throw new UserError(`${opts.source}: pickle ${NAMES[op] ?? FOREIGN[op] ?? `opcode 0x${op.toString(16).padStart(2, "0")}`} at byte ${opAt}: ${why}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail("the pickle ends early");
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail("the stack is empty");
    const v = stack.pop()!;
    if (v === MARK) fail("pops a mark");
    return v as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail("the stack is empty");
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const at = marks.pop();
    if (at === undefined) fail("no mark on the stack");
    return stack.splice(at!) as PyValue[];
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 256) fail("a name is not terminated");
    const s = String.fromCharCode(...bytes.subarray(pos, end));
    pos = end + 1;
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(s)) fail("a name is not a Python identifier");
    return s;
  };
  const text = (n: number): string => {
    need(n);
    try {
      const s = utf8.decode(bytes.subarray(pos, pos + n));
      pos += n;
      return s;
    } catch {
      return fail("a string is not valid UTF-8");
    }
  };
  const push = (v: Slot) => stack.push(v);
  const asList = (v: PyValue): PyValue[] => (Array.isArray(v) ? v : fail("the target is not a list"));
  const asDict = (v: PyValue): Map<PyValue, PyValue> => (v instanceof Map ? v : fail("the target is not a dict"));
  const setItems = (d: Map<PyValue, PyValue>, kv: PyValue[]) => {
    if (kv.length % 2) fail("an odd number of keys and values");
    for (let i = 0; i < kv.length; i += 2) {
      try {
        d.set(dictKey(kv[i]), kv[i + 1]);
      } catch {
        fail("a dict key that is not a string, number, bool or None");
      }
    }
  };

  for (;;) {
    opAt = pos;
    if (pos >= bytes.length) {
      op = -1;
      throw new UserError(`${opts.source}: pickle ends without STOP`);
    }
    op = bytes[pos++];
    switch (op) {
      case 0x80: {
        const proto = u8();
        if (proto < 2 || proto > 5) fail(`protocol ${proto} is not supported`);
        break;
      }
      case 0x95: // FRAME: an 8-byte length the stream follows anyway.
        need(8);
        pos += 8;
        break;
      case 0x2e: {
        if (marks.length) fail("a mark is still open");
        if (stack.length !== 1) fail(`${stack.length} values are left on the stack, expected 1`);
        return pop();
      }
      case 0x28:
        // popMark removes the MARK slot with the items above it.
        marks.push(stack.length);
        push(MARK);
        break;
      case 0x7d:
        push(new Map());
        break;
      case 0x5d:
        push([]);
        break;
      case 0x29:
        push(new PyTuple([]));
        break;
      case 0x74:
        push(new PyTuple(popMark().slice(1)));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        push(new PyTuple(items));
        break;
      }
      case 0x58:
        push(text(u32()));
        break;
      case 0x8c:
        push(text(u8()));
        break;
      case 0x4a:
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b:
        push(u8());
        break;
      case 0x4d:
        push(u16());
        break;
      case 0x8a: {
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        push(Number.isSafeInteger(Number(v)) ? Number(v) : v);
        break;
      }
      case 0x47:
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x4e:
        push(null);
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x71:
        memo.set(u8(), top());
        break;
      case 0x72:
        memo.set(u32(), top());
        break;
      case 0x94:
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a: {
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo slot ${k} is empty`);
        push(memo.get(k)!);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(asDict(top()), [k, v]);
        break;
      }
      case 0x75: {
        const kv = popMark().slice(1);
        setItems(asDict(top()), kv);
        break;
      }
      case 0x61: {
        const v = pop();
        asList(top()).push(v);
        break;
      }
      case 0x65: {
        const items = popMark().slice(1);
        const list = asList(top());
        // One by one: spreading a huge mark into push() would overflow the call stack.
        for (const v of items) list.push(v);
        break;
      }
      case 0x51: {
        const pid = pop();
        if (!opts.persistentLoad) fail("persistent ids are not expected here");
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x63: {
        const module = line();
        const name = line();
        const full = `${module}.${name}`;
        const entry = Object.prototype.hasOwnProperty.call(opts.globals, full) ? opts.globals[full] : undefined;
        if (entry === undefined) throw new UserError(`${opts.source}: pickle global ${full} at byte ${opAt} is outside the allowed subset; refused`);
        push(entry === "marker" ? new PyGlobal(full) : new PyCallable(full, entry));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyCallable)) fail(`REDUCE on ${fn instanceof PyGlobal ? fn.name : "a value that is not an allowed callable"}; refused`);
        if (!(args instanceof PyTuple)) fail("REDUCE arguments are not a tuple");
        push((fn as PyCallable).call((args as PyTuple).items));
        break;
      }
      default:
        throw new UserError(
          `${opts.source}: pickle opcode ${FOREIGN[op] ?? `0x${op.toString(16).padStart(2, "0")}`} at byte ${opAt} is outside the allowed subset; refused`,
        );
    }
  }
}

/** Writer side: opcodes for building a torch.save-style pickle. */
export class PickleWriter {
  private parts: number[] = [0x80, 2];
  op(code: number): this {
    this.parts.push(code);
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(0x63, ...Buffer.from(`${module}\n${name}\n`, "latin1"));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    this.parts.push(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b);
    return this;
  }
  int(n: number): this {
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new Error(`pickle int ${n} out of the 32-bit range`);
    if (n >= 0 && n < 256) this.parts.push(0x4b, n);
    else if (n >= 0 && n < 65536) this.parts.push(0x4d, n & 0xff, n >> 8);
    else this.parts.push(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
    return this;
  }
  tuple(items: readonly number[]): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.op(0x28);
    for (const i of items) this.int(i);
    return this.op(items.length <= 3 ? 0x84 + items.length : 0x74);
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.parts, 0x2e]);
  }
}

export const OP = { MARK: 0x28, TUPLE: 0x74, EMPTY_TUPLE: 0x29, BINPERSID: 0x51, REDUCE: 0x52, NEWFALSE: 0x89 } as const;
