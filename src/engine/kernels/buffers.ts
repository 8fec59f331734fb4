import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { CpuBackend, KernelOverrides } from "./registry.js";

/**
 * The length a request for n floats is served at: n rounded up to one of eight steps per power
 * of two (at most an eighth more). Batches padded to their longest sequence change every
 * activation's length a little from step to step; served exactly, each new length missed the
 * pool and faulted in fresh memory that only a garbage collection would free.
 */
export function sizeClass(n: number): number {
  if (n <= 16) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

/** The whole buffer behind a view the pool handed out. */
function wholeOf(view: Float32Array): Float32Array {
  return view.length * 4 === view.buffer.byteLength ? view : new Float32Array(view.buffer);
}

/**
 * Recycles the float32 buffers the pack's kernels write their outputs into. Without it every
 * output is a fresh Float32Array that V8 frees only by garbage collection, and the hundreds
 * of megabytes a training step allocates make V8 collect every few tens of milliseconds
 * ("external memory pressure"), on the thread that runs the step.
 *
 * Buffers are kept by size class (`sizeClass`); a request gets a view of its exact length at
 * the start of its class's buffer, so nothing that reads the tensor sees the rest.
 *
 * A buffer goes back to the pool when the cpu backend deletes the tensor data that holds it,
 * unless anything else may still see it:
 * - only buffers the pool handed out are taken back (never an array a caller made a tensor from);
 * - a buffer read out through the backend (dataSync, data, arraySync) is pinned for good;
 * - so is every input of a tfjs kernel other than lavit's, since some of them return views
 *   of their input (tfjs's own slice does) or keep it otherwise. Identity and Reshape share
 *   the data by reference count, which the backend honours before deleting.
 * Buffers come back dirty: every kernel that allocates here writes all of its output.
 *
 * The pool is bounded: what it holds free plus what it has out never exceeds the most it ever
 * had out at once (its high-water mark), nor `capBytes`. A loop of same-shaped steps reuses
 * every buffer; when shapes change (batches padded to their longest sequence, another model),
 * a miss first drops the free buffers of the size classes asked for least recently. So the
 * pool never holds more than one step's working set, instead of a set per shape.
 */
export class BufferPool {
  /** Free whole buffers by class length; Map order is the order their classes were last asked for. */
  private readonly free = new Map<number, Float32Array[]>();
  /** The views handed out and not yet taken back or pinned. */
  private readonly owned = new WeakSet<Float32Array>();
  private readonly pinned = new WeakSet<Float32Array>();
  /** The handed-out views shorter than their buffer. */
  private readonly partial = new WeakSet<Float32Array>();
  private freeBytes = 0;
  private outBytes = 0;
  private highWater = 0;

  constructor(private readonly capBytes: number) {}

  alloc(n: number): Float32Array {
    const size = sizeClass(n);
    const list = this.free.get(size);
    let whole: Float32Array | undefined;
    if (list) {
      // most recently asked for: last in eviction order
      this.free.delete(size);
      this.free.set(size, list);
      whole = list.pop();
      if (whole) this.freeBytes -= whole.byteLength;
    }
    if (!whole) {
      whole = new Float32Array(size);
      if (this.outBytes + whole.byteLength > this.highWater) this.highWater = Math.min(this.outBytes + whole.byteLength, this.capBytes);
      this.evict(whole.byteLength);
    }
    const view = whole.length === n ? whole : whole.subarray(0, n);
    if (view !== whole) this.partial.add(view);
    this.owned.add(view);
    this.outBytes += whole.byteLength;
    return view;
  }

  pin(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    this.pinned.add(values);
    // it is no longer the pool's to count
    if (this.owned.delete(values)) this.outBytes -= values.buffer.byteLength;
  }

  /**
   * What a caller reading `values` out should get: an exact copy of a view shorter than its
   * buffer (whose `.buffer` would show the rest; tfjs's Tensor.bytes() reads it whole), and the
   * view goes back to the pool if it may; anything else as it is. The caller pins the result.
   */
  readOut(values: unknown): unknown {
    if (!(values instanceof Float32Array) || !this.partial.has(values)) return values;
    const exact = values.slice();
    this.release(values);
    return exact;
  }

  /** Whether a release of `values` would take it back. */
  private holds(values: unknown): values is Float32Array {
    return values instanceof Float32Array && this.owned.has(values) && !this.pinned.has(values);
  }

  release(values: unknown): void {
    if (!this.holds(values) || values.length === 0) return;
    // Out of `owned` while it waits, so a second release of it is a no-op.
    this.owned.delete(values);
    const whole = wholeOf(values);
    this.outBytes -= whole.byteLength;
    if (this.freeBytes + whole.byteLength > this.capBytes) return;
    this.freeBytes += whole.byteLength;
    const list = this.free.get(whole.length);
    if (list) list.push(whole);
    else this.free.set(whole.length, [whole]);
  }

  /** Bytes waiting in the pool. */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /** The bound on free plus handed-out bytes: the most handed out at once, at most the cap. */
  get boundBytes(): number {
    return this.highWater;
  }

  /** Drops free buffers, least recently asked-for classes first, until `incoming` more fits under the bound. */
  private evict(incoming: number): void {
    for (const [size, list] of this.free) {
      if (this.freeBytes + this.outBytes + incoming <= this.highWater) return;
      while (list.length > 0 && this.freeBytes + this.outBytes + incoming > this.highWater) this.freeBytes -= list.pop()!.byteLength;
      if (list.length === 0) this.free.delete(size);
    }
  }
}

let active: BufferPool | null = null;

/** A float32 buffer of n elements for a kernel output, from the active pool (possibly dirty), or a fresh one. */
export function allocF32(n: number): Float32Array {
  return active ? active.alloc(n) : new Float32Array(n);
}

/** A float32 tensor's storage, read without pinning it (for the pack's own ops, which keep no reference). */
export function storageOf(t: tf.Tensor): Float32Array {
  const v = (tf.backend() as unknown as CpuBackend).data.get(t.dataId).values;
  if (!(v instanceof Float32Array)) throw new Error(`expected float32 storage, got ${t.dtype}`);
  return v;
}

/** Kernels that share their input's data by reference count instead of holding its array. */
const SHARES_BY_REFCOUNT = new Set(["Identity", "Reshape"]);

type Backend = CpuBackend & { readSync(dataId: object): unknown; disposeData(dataId: object, force?: boolean): boolean };

/**
 * Turns recycling on for the cpu backend: pins what escapes (reads, other kernels' inputs),
 * takes buffers back when their data is deleted, and makes the pool the one allocF32 uses.
 * Runs after every lavit kernel is installed on `reg`; `reg.restore()` undoes it.
 */
export function installBufferRecycling(reg: KernelOverrides, capBytes = 1 << 30): BufferPool {
  const pool = new BufferPool(capBytes);
  const backend = tf.findBackend("cpu") as unknown as Backend;
  const pinInputs = (inputs: Record<string, TensorInfo>) => {
    for (const t of Object.values(inputs)) if (t) pool.pin(backend.data.get(t.dataId)?.values);
  };
  reg.onFallback = pinInputs;
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (reg.kernels.includes(k.kernelName) || SHARES_BY_REFCOUNT.has(k.kernelName)) continue;
    const inner: KernelFunc = k.kernelFunc;
    reg.wrap(k.kernelName, ((args: Parameters<KernelFunc>[0]) => {
      pinInputs(args.inputs as Record<string, TensorInfo>);
      return inner(args);
    }) as KernelFunc);
  }
  const own = (name: string) => Object.prototype.hasOwnProperty.call(backend, name);
  const hadOwn = { readSync: own("readSync"), disposeData: own("disposeData") };
  const readSync = backend.readSync;
  const disposeData = backend.disposeData;
  const previous = active;
  backend.readSync = function (this: Backend, dataId: object) {
    const entry = this.data.get(dataId);
    if (entry) {
      entry.values = pool.readOut(entry.values);
      pool.pin(entry.values);
    }
    return readSync.call(this, dataId);
  };
  backend.disposeData = function (this: Backend, dataId: object, force?: boolean) {
    const values = this.data.get(dataId)?.values;
    const deleted = disposeData.call(this, dataId, force);
    if (deleted) pool.release(values);
    return deleted;
  };
  active = pool;
  reg.onRestore(() => {
    if (hadOwn.readSync) backend.readSync = readSync;
    else delete (backend as Partial<Backend>).readSync;
    if (hadOwn.disposeData) backend.disposeData = disposeData;
    else delete (backend as Partial<Backend>).disposeData;
    active = previous;
  });
  return pool;
}
