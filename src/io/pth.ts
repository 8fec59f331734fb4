import { statSync } from "node:fs";
import { unzipSync, zipSync, type Zippable } from "fflate";
import { isUserError, UserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import { writeFileAtomic } from "../util/atomic.js";
import { quoteInput } from "../util/errors-text.js";
import { OP, PickleWriter, PyTuple, unpickle, type PyValue } from "./pickle.js";

/**
 * One tensor saved with `torch.save` (the zip format, torch >= 1.6): a zip whose single top-level
 * folder holds `data.pkl` (a pickle naming `torch._utils._rebuild_tensor_v2` over a persistent
 * storage id), `data/<key>` (the raw storage, little-endian) and `version`. Only one tensor of
 * bf16, fp16 or fp32 is accepted; everything else is refused with a message naming the file.
 */
export type PthDtype = "bf16" | "fp16" | "fp32";
export interface PthTensor {
  dtype: PthDtype;
  shape: number[];
  data: Float32Array;
}

const STORAGE_DTYPE: Record<string, PthDtype | string> = {
  "torch.BFloat16Storage": "bf16",
  "torch.HalfStorage": "fp16",
  "torch.FloatStorage": "fp32",
  // Named so that the refusal says which dtype it was, not "unknown global".
  "torch.DoubleStorage": "float64",
  "torch.LongStorage": "int64",
  "torch.IntStorage": "int32",
  "torch.ShortStorage": "int16",
  "torch.CharStorage": "int8",
  "torch.ByteStorage": "uint8",
  "torch.BoolStorage": "bool",
};
const SUPPORTED: readonly string[] = ["bf16", "fp16", "fp32"];
const ELEMENT_BYTES: Record<PthDtype, number> = { bf16: 2, fp16: 2, fp32: 4 };
/**
 * A V_top is [N_img, d] bf16: a few million values (1280 image tokens of a 3584-wide teacher is
 * 4.6 M). 256 MB of float32 once decoded.
 */
const MAX_ELEMENTS = 2 ** 26;

interface StorageRef {
  readonly kind: "storage";
  readonly dtype: string;
  readonly key: string;
  readonly numel: number;
}
interface TensorRef {
  readonly kind: "tensor";
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

const isInt = (v: PyValue): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const intTuple = (v: PyValue): number[] | null => (v instanceof PyTuple && v.items.every(isInt) ? (v.items as number[]) : null);

function torchGlobals(file: string) {
  const bad = (why: string): never => {
    throw new UserError(`${file}: not a plain tensor (${why})`);
  };
  const markers = Object.fromEntries(Object.keys(STORAGE_DTYPE).map((k) => [k, "marker" as const]));
  return {
    ...markers,
    "collections.OrderedDict": (args: readonly PyValue[]) => (args.length === 0 ? new Map() : bad("OrderedDict with arguments")),
    "torch._utils._rebuild_tensor_v2": (args: readonly PyValue[]): PyValue => {
      const [storage, offset, size, stride, , hooks] = args;
      if (args.length < 6 || args.length > 7) bad(`_rebuild_tensor_v2 with ${args.length} arguments`);
      if (!storage || typeof storage !== "object" || (storage as { kind?: string }).kind !== "storage") bad("the tensor's storage is not a persistent storage");
      const shape = intTuple(size);
      const strides = intTuple(stride);
      if (!isInt(offset) || !shape || !strides || shape.length !== strides.length) bad("bad offset, size or stride");
      if (!(hooks instanceof Map) || hooks.size) bad("backward hooks");
      const t: TensorRef = { kind: "tensor", storage: storage as unknown as StorageRef, offset: offset as number, shape: shape!, stride: strides! };
      return t as unknown as PyValue;
    },
  };
}

function persistentLoad(file: string) {
  return (pid: PyValue): PyValue => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key, , numel] = items;
    if (items.length !== 5 || tag !== "storage" || typeof key !== "string" || !/^\d+$/.test(key) || !isInt(numel as PyValue))
      throw new UserError(`${file}: not a plain tensor (an unexpected persistent id)`);
    const name = type && typeof type === "object" && "name" in type ? String((type as { name: string }).name) : "";
    const ref: StorageRef = { kind: "storage", dtype: STORAGE_DTYPE[name] ?? name, key, numel: numel as number };
    return ref as unknown as PyValue;
  };
}

export function bf16ToF32(bits: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, bits << 16, true);
  return b.getFloat32(0, true);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round-to-nearest-even, as torch's float -> bfloat16 conversion. */
export function f32ToBf16(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, true);
  const u = b.getUint32(0, true);
  if (Number.isNaN(x)) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function decoder(bytes: Uint8Array, dtype: PthDtype): (index: number) => number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "fp32") return (i) => v.getFloat32(i * 4, true);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  if (dtype === "bf16")
    return (i) => {
      u32[0] = v.getUint16(i * 2, true) << 16;
      return f32[0];
    };
  return (i) => f16ToF32(v.getUint16(i * 2, true));
}

/**
 * A contiguous run of values, decoded with typed arrays (a V_top is millions of values). Like
 * safetensors.ts, this assumes a little-endian host (x86-64 and arm64 are).
 */
function decodeRun(bytes: Uint8Array, dtype: PthDtype, offset: number, count: number): Float32Array {
  const el = ELEMENT_BYTES[dtype];
  // slice() copies, so the views below are aligned whatever the record's offset in the zip.
  const raw = bytes.slice(offset * el, (offset + count) * el).buffer;
  if (dtype === "fp32") return new Float32Array(raw);
  const h = new Uint16Array(raw);
  if (dtype === "bf16") {
    const u = new Uint32Array(count);
    for (let i = 0; i < count; i++) u[i] = h[i] << 16;
    return new Float32Array(u.buffer);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = f16ToF32(h[i]);
  return out;
}

/**
 * What a torch.save of one tensor can legitimately hold: the caps on the entries read, so that no
 * archive, however its central directory lies, makes the reader allocate more than about
 * MAX_FILE + 2 x MAX_STORAGE_BYTES.
 */
const MAX_PICKLE = 2 ** 20; // a tensor's pickle is a few hundred bytes
const MAX_BYTEORDER = 16;
const MAX_STORAGE_BYTES = MAX_ELEMENTS * 4;
const MAX_FILE = MAX_STORAGE_BYTES + MAX_PICKLE + 2 ** 20;
const MAX_ENTRIES = 4096; // torch writes 3 to 5 for one tensor
/** Deflate cannot expand data more than about 1032:1. */
const DEFLATE_RATIO = 1032;

interface ZipInfo {
  name: string;
  size: number;
  originalSize: number;
  compression: number;
}

/**
 * The entries of `raw` that `cap` gives a size for (the rest are neither inflated nor copied),
 * each checked against its cap and its storage size before it is inflated. `check` sees each
 * wanted entry first (to compare its declared size with what the pickle expects).
 */
function readEntries(
  file: string,
  raw: Uint8Array,
  cap: (name: string) => number | undefined,
  check: (f: ZipInfo) => void = () => {},
): { entries: Record<string, Uint8Array>; names: string[] } {
  const names: string[] = [];
  const wanted = new Map<string, number>();
  const filter = (f: ZipInfo): boolean => {
    if (names.push(f.name) > MAX_ENTRIES) throw new UserError(`${file}: the archive lists over ${MAX_ENTRIES} entries; a torch.save of one tensor has a few`);
    const max = cap(f.name);
    if (max === undefined) return false;
    const entry = `entry ${quoteInput(f.name)}`;
    if (wanted.has(f.name)) throw new UserError(`${file}: ${entry} appears twice in the archive`);
    wanted.set(f.name, f.originalSize);
    if (f.compression !== 0 && f.compression !== 8)
      throw new UserError(`${file}: ${entry} uses compression method ${f.compression}; only stored and deflate are read`);
    if (f.compression === 0 && f.size !== f.originalSize)
      throw new UserError(`${file}: ${entry} is stored uncompressed but declares ${f.originalSize} bytes from ${f.size}; the archive is corrupt`);
    const bomb = `${file}: looks like a zip bomb: ${entry} declares ${f.originalSize} bytes from ${f.size} compressed`;
    if (f.compression === 8 && f.originalSize > f.size * DEFLATE_RATIO + 64) throw new UserError(`${bomb}, more than deflate can expand`);
    if (f.originalSize > max) {
      if (f.compression === 8) throw new UserError(`${bomb}; a torch.save of one tensor needs at most ${max} there`);
      throw new UserError(`${file}: ${entry} holds ${f.originalSize} bytes, more than the ${max} a tensor file may hold there`);
    }
    check(f);
    return true;
  };
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(raw, { filter });
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: not a torch.save zip file (the legacy pre-1.6 format and other files are not read)`);
  }
  for (const [name, bytes] of Object.entries(entries)) {
    const declared = wanted.get(name);
    if (bytes.length !== declared) throw new UserError(`${file}: entry ${quoteInput(name)} inflates to ${bytes.length} bytes, not the ${declared} it declares`);
  }
  return { entries, names };
}

/** Reads one tensor from a torch.save file, as float32 in row-major order. */
export function readPth(file: string): PthTensor {
  let raw: Uint8Array;
  try {
    const { size } = statSync(file);
    if (size > MAX_FILE) throw new UserError(`${file}: is ${size} bytes, more than a tensor file of at most ${MAX_ELEMENTS} values can be`);
    raw = readRegularFile(file);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  // Pass 1: the pickle and the byte order, which name the one storage pass 2 reads.
  const head = readEntries(file, raw, (n) => (/^[^/]+\/data\.pkl$/.test(n) ? MAX_PICKLE : /^[^/]+\/byteorder$/.test(n) ? MAX_BYTEORDER : undefined));
  const pkl = head.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) throw new UserError(`${file}: not a torch.save file (expected one <archive>/data.pkl, found ${pkl.length})`);
  const prefix = pkl[0].slice(0, -"data.pkl".length);
  const order = head.entries[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== "little") throw new UserError(`${file}: storages are big-endian; only little-endian is read`);
  const value = unpickle(head.entries[pkl[0]], { source: `${file} (data.pkl)`, globals: torchGlobals(file), persistentLoad: persistentLoad(file) }) as unknown;
  const t = value as TensorRef | null;
  if (!t || typeof t !== "object" || t.kind !== "tensor")
    throw new UserError(`${file}: holds no single tensor (a dict or list of tensors is not read; save the tensor itself)`);
  const { storage } = t;
  if (!SUPPORTED.includes(storage.dtype)) throw new UserError(`${file}: tensor dtype ${storage.dtype || "unknown"} is not supported (bf16, fp16 or fp32)`);
  const dtype = storage.dtype as PthDtype;
  const storageName = `${prefix}data/${storage.key}`;
  const expected = storage.numel * ELEMENT_BYTES[dtype];
  const wrongSize = (bytes: number) => new UserError(`${file}: storage data/${storage.key} holds ${bytes} bytes, expected ${storage.numel} ${dtype} values`);
  // Pass 2: that storage alone, refused before inflating unless it declares exactly what the pickle needs.
  const { entries } = readEntries(
    file,
    raw,
    (n) => (n === storageName ? MAX_STORAGE_BYTES : undefined),
    (f) => {
      if (f.originalSize !== expected) throw wrongSize(f.originalSize);
    },
  );
  const bytes = entries[storageName];
  if (!bytes) throw new UserError(`${file}: storage data/${storage.key} is missing from the archive`);
  if (bytes.length !== expected) throw wrongSize(bytes.length);
  const count = t.shape.reduce((a, b) => a * b, 1);
  // Zero strides let a tiny storage claim a huge tensor; refuse before allocating.
  if (!Number.isSafeInteger(count) || count > MAX_ELEMENTS)
    throw new UserError(`${file}: tensor shape [${t.shape.join(", ")}] is too large (over ${MAX_ELEMENTS} values)`);
  // The furthest element any index reaches must lie inside the storage.
  const last = t.offset + t.shape.reduce((a, d, i) => a + (d > 0 ? (d - 1) * t.stride[i] : 0), 0);
  if (count > 0 && last >= storage.numel)
    throw new UserError(`${file}: tensor view [${t.shape.join(", ")}] reaches past its storage (${storage.numel} values)`);
  const rowMajor = t.stride.every((st, i) => t.shape[i] <= 1 || st === t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (rowMajor) return { dtype, shape: [...t.shape], data: decodeRun(bytes, dtype, t.offset, count) };
  const data = new Float32Array(count);
  const decode = decoder(bytes, dtype);
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = t.offset;
    for (let d = 0; d < idx.length; d++) at += idx[d] * t.stride[d];
    data[i] = decode(at);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape: [...t.shape], data };
}

/** Zip records start on 64-byte boundaries, as torch writes them (so torch can map them). */
const ALIGN = 64;
const PAD_TAG = 0x4246; // "FB", the extra-field id torch pads with.

/**
 * Writes one tensor as `torch.save` would: bf16 (how the official builder stores V_top, the
 * teacher's dtype) or fp32. The archive folder is named "archive", as recent torch versions name it.
 */
export function writePth(file: string, tensor: { dtype: "bf16" | "fp32"; shape: readonly number[]; data: ArrayLike<number> }): void {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (count !== tensor.data.length) throw new Error(`writePth: shape [${tensor.shape.join(", ")}] does not match ${tensor.data.length} values`);
  const stride = tensor.shape.map((_, i) => tensor.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const w = new PickleWriter()
    .global("torch._utils", "_rebuild_tensor_v2")
    .op(OP.MARK)
    .op(OP.MARK)
    .str("storage")
    .global("torch", tensor.dtype === "bf16" ? "BFloat16Storage" : "FloatStorage")
    .str("0")
    .str("cpu")
    .int(count)
    .op(OP.TUPLE)
    .op(OP.BINPERSID)
    .int(0)
    .tuple(tensor.shape)
    .tuple(stride)
    .op(OP.NEWFALSE)
    .global("collections", "OrderedDict")
    .op(OP.EMPTY_TUPLE)
    .op(OP.REDUCE)
    .op(OP.TUPLE)
    .op(OP.REDUCE);
  let storage: Uint8Array;
  if (tensor.dtype === "fp32") storage = new Uint8Array(Float32Array.from(tensor.data).buffer);
  else {
    const h = new Uint16Array(count);
    for (let i = 0; i < count; i++) h[i] = f32ToBf16(tensor.data[i]);
    storage = new Uint8Array(h.buffer);
  }
  const records: [string, Uint8Array][] = [
    ["archive/data.pkl", w.bytes()],
    ["archive/byteorder", new TextEncoder().encode("little")],
    ["archive/data/0", storage],
    ["archive/version", new TextEncoder().encode("3\n")],
  ];
  // A fixed date keeps the file byte-identical across runs.
  const mtime = new Date(2000, 0, 1);
  const zip: Zippable = {};
  let offset = 0;
  for (const [name, data] of records) {
    const header = 30 + Buffer.byteLength(name);
    const pad = (ALIGN - ((offset + header + 4) % ALIGN)) % ALIGN;
    zip[name] = [data, { level: 0, mtime, extra: { [PAD_TAG]: new Uint8Array(pad).fill(0x5a) } }];
    offset += header + 4 + pad + data.length;
  }
  writeFileAtomic(file, zipSync(zip));
}
