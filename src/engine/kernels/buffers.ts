import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { CpuBackend, KernelOverrides } from "./registry.js";

/**
 * Recycles the float32 buffers the pack's kernels write their outputs into. Without it every
 * output is a fresh Float32Array that V8 frees only by garbage collection, and the hundreds
 * of megabytes a training step allocates make V8 collect every few tens of milliseconds
 * ("external memory pressure"), on the thread that runs the step.
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
  /** Free buffers by length; Map order is the order their lengths were last asked for. */
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<Float32Array>();
  private readonly pinned = new WeakSet<Float32Array>();
  private freeBytes = 0;
  private outBytes = 0;
  private highWater = 0;

  constructor(private readonly capBytes: number) {}

  alloc(n: number): Float32Array {
    const list = this.free.get(n);
    if (list) {
      // most recently asked for: last in eviction order
      this.free.delete(n);
      this.free.set(n, list);
      const a = list.pop();
      if (a) {
        this.freeBytes -= a.byteLength;
        this.take(a);
        return a;
      }
    }
    const b = new Float32Array(n);
    if (this.outBytes + b.byteLength > this.highWater) this.highWater = Math.min(this.outBytes + b.byteLength, this.capBytes);
    this.evict(b.byteLength);
    this.take(b);
    return b;
  }

  pin(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    this.pinned.add(values);
    // it is no longer the pool's to count
    if (this.owned.delete(values)) this.outBytes -= values.byteLength;
  }

  release(values: unknown): void {
    if (!(values instanceof Float32Array) || !this.owned.has(values) || this.pinned.has(values) || values.length === 0) return;
    // Out of `owned` while it waits, so a second release of it is a no-op.
    this.owned.delete(values);
    this.outBytes -= values.byteLength;
    if (this.freeBytes + values.byteLength > this.capBytes) return;
    this.freeBytes += values.byteLength;
    const list = this.free.get(values.length);
    if (list) list.push(values);
    else this.free.set(values.length, [values]);
  }

  /** Bytes waiting in the pool. */
  get pooledBytes(): number {
    return this.freeBytes;
  }

  /** The bound on free plus handed-out bytes: the most handed out at once, at most the cap. */
  get boundBytes(): number {
    return this.highWater;
  }

  private take(a: Float32Array): void {
    this.owned.add(a);
    this.outBytes += a.byteLength;
  }

  /** Drops free buffers, least recently asked-for lengths first, until `incoming` more fits under the bound. */
  private evict(incoming: number): void {
    for (const [n, list] of this.free) {
      if (this.freeBytes + this.outBytes + incoming <= this.highWater) return;
      while (list.length > 0 && this.freeBytes + this.outBytes + incoming > this.highWater) this.freeBytes -= list.pop()!.byteLength;
      if (list.length === 0) this.free.delete(n);
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
    pool.pin(this.data.get(dataId)?.values);
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
