import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap, TypedArray } from "@tensorflow/tfjs-core";

export type CpuBackend = {
  data: { get(id: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: TypedArray): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
};

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: CpuBackend;
  attrs: NamedAttrMap;
}

/** A kernel body: a result, or null to hand the call to the cpu backend's own kernel. */
export type KernelBody = (args: KernelArgs, fallback: KernelFunc) => TensorInfo | null;

/** A handle on kernels registered over the cpu backend's; `restore()` puts tfjs's own back. */
export interface KernelRegistration {
  kernels: string[];
  restore(): void;
}

/**
 * Collects kernel overrides over tfjs-backend-cpu's registry. Every override serves the
 * cases it handles (float32, supported attributes) and falls back to the original kernel
 * for the rest, so every op keeps working whatever the dtype.
 */
export class KernelOverrides implements KernelRegistration {
  private readonly originals = new Map<string, KernelConfig>();
  private readonly names: string[] = [];
  private readonly wrapped: string[] = [];
  private readonly undo: (() => void)[] = [];
  /** Called with a call's inputs before an installed kernel hands it to tfjs's own. */
  onFallback: ((inputs: Record<string, TensorInfo>) => void) | null = null;

  constructor() {
    for (const k of tf.getKernelsForBackend("cpu")) this.originals.set(k.kernelName, k);
  }

  get kernels(): string[] {
    return [...this.names].sort();
  }

  install(name: string, body: KernelBody): void {
    const original = this.originals.get(name);
    if (!original) return;
    const fallback = original.kernelFunc;
    const toTfjs = (args: Parameters<KernelFunc>[0]) => {
      this.onFallback?.(args.inputs as Record<string, TensorInfo>);
      return fallback(args);
    };
    const kernelFunc = ((args: Parameters<KernelFunc>[0]) => body(args as unknown as KernelArgs, toTfjs as KernelFunc) ?? toTfjs(args)) as KernelFunc;
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ ...original, kernelFunc });
    if (!this.names.includes(name)) this.names.push(name);
  }

  /** Replaces a tfjs kernel's function without counting it as lavit's (for bookkeeping around tfjs's own kernels). */
  wrap(name: string, kernelFunc: KernelFunc): void {
    const original = this.originals.get(name);
    if (!original) return;
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ ...original, kernelFunc });
    if (!this.wrapped.includes(name)) this.wrapped.push(name);
  }

  /** Runs `fn` on restore(), after the kernels are back. */
  onRestore(fn: () => void): void {
    this.undo.push(fn);
  }

  restore(): void {
    for (const name of [...this.names, ...this.wrapped]) {
      tf.unregisterKernel(name, "cpu");
      tf.registerKernel(this.originals.get(name)!);
    }
    this.names.length = 0;
    this.wrapped.length = 0;
    for (const fn of this.undo.splice(0).reverse()) fn();
    this.onFallback = null;
  }
}

/** A float32 tensor's storage on the cpu backend, or null for any other dtype. */
export function f32Values(backend: CpuBackend, t: TensorInfo): Float32Array | null {
  if (t.dtype !== "float32") return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
