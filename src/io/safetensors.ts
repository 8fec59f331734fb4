import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic.js";

/**
 * safetensors, by hand: u64 little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the
 * data section. All data is little-endian; typed-array views below assume a little-endian
 * host (x86-64 and arm64 both are).
 */
export type SafeDtype = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8";
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** F16/BF16 as raw bits in a Uint16Array. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}

export class SafetensorsError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = "SafetensorsError";
  }
}

const DTYPE_SIZE: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };
/** A header this large is corrupt, not a model (the format's own reader uses 100 MB). */
const MAX_HEADER = 100_000_000;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function view(dtype: SafeDtype, bytes: Uint8Array): SafeTensor["data"] {
  // Copy into a fresh buffer: the data section need not be aligned for the element type.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  switch (dtype) {
    case "F32":
      return new Float32Array(copy.buffer);
    case "F16":
    case "BF16":
      return new Uint16Array(copy.buffer);
    case "I32":
      return new Int32Array(copy.buffer);
    case "I64":
      return new BigInt64Array(copy.buffer);
    case "U8":
      return copy;
  }
}

function expectedArray(dtype: SafeDtype, data: SafeTensor["data"]): boolean {
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

export function encodeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): Buffer {
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new SafetensorsError(`tensor name "__metadata__" is reserved`);
    if (!expectedArray(t.dtype, t.data)) throw new SafetensorsError(`tensor ${name}: data array does not match dtype ${t.dtype}`);
    if (t.data.length !== elementCount(t.shape)) throw new SafetensorsError(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
    const size = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
  const raw = Buffer.byteLength(json);
  json += " ".repeat((8 - ((8 + raw) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
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

export function decodeSafetensors(buf: Uint8Array, file?: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(msg, file);
  };
  if (buf.byteLength < 8) fail(`too short for a safetensors file (${buf.byteLength} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(Math.min(buf.byteLength - 8, MAX_HEADER))) fail(`header length ${n} exceeds the file (${buf.byteLength} bytes)`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof entry !== "object" || entry === null) fail(`tensor ${name}: entry is not an object`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string") fail(`tensor ${name}: missing dtype`);
    if (!(e.dtype as string in DTYPE_SIZE)) fail(`tensor ${name}: unsupported dtype ${String(e.dtype)}`);
    const dtype = e.dtype as SafeDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${name}: shape must be a list of non-negative integers`);
    const shape = e.shape as number[];
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !e.data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${name}: data_offsets must be two non-negative integers`);
    const [begin, end] = e.data_offsets as [number, number];
    if (begin > end) fail(`tensor ${name}: data_offsets begin ${begin} > end ${end}`);
    if (end > dataLen) fail(`tensor ${name}: data_offsets end ${end} is beyond the data section (${dataLen} bytes)`);
    const expected = elementCount(shape) * DTYPE_SIZE[dtype];
    if (end - begin !== expected) fail(`tensor ${name}: ${end - begin} bytes, but ${dtype} [${shape}] needs ${expected}`);
    spans.push([begin, end, name]);
    tensors.set(name, { dtype, shape, data: view(dtype, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    const [pb, pe, pn] = spans[i - 1];
    const [b, e, nm] = spans[i];
    if (b < pe && e > b && pe > pb) fail(`tensor ${nm}: data overlaps tensor ${pn}`);
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new SafetensorsError(`cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
  }
  return decodeSafetensors(buf, file);
}

export function writeSafetensors(file: string, tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

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

/** Round to nearest even; overflow to infinity; subnormals kept. */
export function float32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i];
    const b = u32[0];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      const m = mant | 0x800000;
      const shift = 14 - e;
      let h = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
    out[i] = sign | h;
  }
  return out;
}

export function float32ToBf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i];
    const b = u32[0];
    if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) {
      out[i] = (b >>> 16) | 0x40;
      continue;
    }
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}
