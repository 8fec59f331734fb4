import { isUserError } from "../errors.js";
import { readRegularFile } from "../util/read-guard.js";
import { writeFileAtomic } from "../util/atomic.js";

/**
 * safetensors, by hand: u64 little-endian header length N, N bytes of UTF-8 JSON
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the
 * data section (offsets are relative to its start). The format is little-endian throughout and
 * the typed-array views below use host byte order, so this assumes a little-endian host
 * (x86-64 and arm64 are).
 */
export type SafeDtype = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8";
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** F16/BF16 as raw bits in a Uint16Array. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}
type Decoded = { tensors: Map<string, SafeTensor>; metadata: Record<string, string> };

export class SafetensorsError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = "SafetensorsError";
  }
}

const DTYPE_SIZE: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };
/** Larger headers are corrupt, not models (the reference reader's limit is also 100 MB). */
const MAX_HEADER = 100_000_000;

// Object.hasOwn, not `in`: "constructor" or "toString" must not pass as a dtype.
const isDtype = (d: unknown): d is SafeDtype => typeof d === "string" && Object.hasOwn(DTYPE_SIZE, d);
const isShape = (s: unknown): s is number[] => Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d >= 0);
const isObject = (o: unknown): o is Record<string, unknown> => typeof o === "object" && o !== null && !Array.isArray(o);
const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function arrayMatches(dtype: SafeDtype, data: SafeTensor["data"]): boolean {
  switch (dtype) {
    case "F32":
      return data instanceof Float32Array;
    case "F16":
    case "BF16":
      return data instanceof Uint16Array;
    case "I32":
      return data instanceof Int32Array;
    case "I64":
      return data instanceof BigInt64Array;
    case "U8":
      return data instanceof Uint8Array;
  }
}

function typedCopy(dtype: SafeDtype, bytes: Uint8Array): SafeTensor["data"] {
  // Always copy: the data section (and each tensor in it) need not be aligned for the element
  // type, and the caller's buffer may be reused or be a slice of Node's shared pool.
  // (Not bytes.slice(): on a Buffer that is a view, not a copy.)
  const b = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(b);
    case "F16":
    case "BF16":
      return new Uint16Array(b);
    case "I32":
      return new Int32Array(b);
    case "I64":
      return new BigInt64Array(b);
    case "U8":
      return new Uint8Array(b);
  }
}

export function encodeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): Buffer {
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: [string, unknown][] = [];
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new SafetensorsError(`__metadata__.${k}: value is not a string`);
    // Sorted too, so metadata insertion order cannot change the bytes either.
    header.push(["__metadata__", Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))]);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new SafetensorsError(`tensor name "__metadata__" is reserved`);
    if (!isDtype(t.dtype)) throw new SafetensorsError(`tensor ${name}: unsupported dtype ${String(t.dtype)}`);
    if (!isShape(t.shape)) throw new SafetensorsError(`tensor ${name}: shape [${t.shape}] is not a list of non-negative integers`);
    if (!arrayMatches(t.dtype, t.data)) throw new SafetensorsError(`tensor ${name}: ${t.data?.constructor?.name} does not hold dtype ${t.dtype}`);
    if (t.data.length !== elementCount(t.shape)) throw new SafetensorsError(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
    header.push([name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  // fromEntries defines own properties, so a tensor called "__proto__" survives stringify.
  const json = JSON.stringify(Object.fromEntries(header));
  const raw = Buffer.byteLength(json);
  // Space padding so the data section starts 8-byte aligned, as the reference writer does.
  const headerBytes = Buffer.from(json + " ".repeat((8 - (raw % 8)) % 8), "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(buf: Uint8Array, file?: string): Decoded {
  const fail = (msg: string): never => {
    throw new SafetensorsError(msg, file);
  };
  if (buf.byteLength < 8) fail(`too short for a safetensors file (${buf.byteLength} bytes, need at least 8)`);
  const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
  if (n > BigInt(buf.byteLength - 8)) fail(`header length ${n} exceeds the file (${buf.byteLength} bytes)`);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  const dataStart = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, dataStart)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail("header is not a JSON object");
  const dataLen = buf.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const spans: { begin: number; end: number; name: string }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!isObject(entry)) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
      // fromEntries, not assignment: a "__proto__" key must stay data, not become a prototype.
      metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
      continue;
    }
    const at = `tensor ${name}`;
    if (!isObject(entry)) fail(`${at}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (dtype === undefined) fail(`${at}: missing dtype`);
    if (typeof dtype !== "string") fail(`${at}: dtype is not a string`);
    if (!isDtype(dtype)) fail(`${at}: unsupported dtype ${dtype}`);
    if (shape === undefined) fail(`${at}: missing shape`);
    if (!isShape(shape)) fail(`${at}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (offs === undefined) fail(`${at}: missing data_offsets`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`${at}: data_offsets ${JSON.stringify(offs)} is not two non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`${at}: data_offsets begin ${begin} > end ${end}`);
    if (end > dataLen) fail(`${at}: data_offsets end ${end} is beyond the data section (${dataLen} bytes)`);
    const dt = dtype as SafeDtype;
    const sh = shape as number[];
    const expected = elementCount(sh) * DTYPE_SIZE[dt];
    if (end - begin !== expected) fail(`${at}: ${end - begin} bytes, but ${dt} [${sh}] needs ${expected}`);
    spans.push({ begin, end, name });
    tensors.set(name, { dtype: dt, shape: sh, data: typedCopy(dt, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  // Compare each span with the furthest-reaching one before it, not just its neighbour: with
  // [0,8] [2,4] [6,10], the last overlaps the first only. Empty tensors occupy no bytes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let reach: (typeof spans)[number] | undefined;
  for (const s of spans) {
    if (s.begin === s.end) continue;
    if (reach && s.begin < reach.end) fail(`tensor ${s.name}: data_offsets [${s.begin}, ${s.end}] overlap tensor ${reach.name} [${reach.begin}, ${reach.end}]`);
    if (!reach || s.end > reach.end) reach = s;
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): Decoded {
  let buf: Buffer;
  try {
    buf = readRegularFile(file);
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new SafetensorsError(`cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
  }
  return decodeSafetensors(buf, file);
}

/** Temp file + rename, so readers (and a crash) never see a half-written file. */
export function writeSafetensors(file: string, tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): void {
  const bytes = encodeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(file, bytes);
  } catch (e) {
    throw new SafetensorsError(`cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
  }
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** F32 (copied), F16 and BF16 (decoded from their bits); integer dtypes convert by value. */
export function toFloat32(t: SafeTensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      return Float32Array.from(t.data as Float32Array);
    case "F16":
      return Float32Array.from(t.data as Uint16Array, f16ToF32);
    case "BF16": {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    default:
      return Float32Array.from(t.data as ArrayLike<number>, Number);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round to nearest even; overflow goes to infinity, tiny values to F16 subnormals or zero. */
export function float32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i];
    const b = u32[0];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    const e = exp - 127 + 15;
    let h: number;
    if (exp === 0xff)
      h = 0x7c00 | (mant ? 0x200 : 0); // keep NaN quiet and non-zero
    else if (e >= 31) h = 0x7c00;
    else if (e < -10)
      h = 0; // below half the smallest subnormal (F32 subnormals land here too)
    else {
      // Normal: drop 13 mantissa bits. Subnormal: shift the implicit bit in as well.
      const m = e > 0 ? mant : mant | 0x800000;
      const shift = e > 0 ? 13 : 14 - e;
      h = (e > 0 ? e << 10 : 0) | (m >>> shift);
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      // A carry out of the mantissa bumps the exponent, which is exactly the right rounding
      // (largest subnormal -> smallest normal, 65520 -> infinity).
      if (rem > half || (rem === half && h & 1)) h++;
    }
    out[i] = sign | h;
  }
  return out;
}

/** Round to nearest even; NaN stays (quiet) NaN instead of rounding into infinity. */
export function float32ToBf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i];
    const b = u32[0];
    // The sum only exceeds 2^32 (and would wrap in >>>) for NaN bit patterns, handled first.
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}
