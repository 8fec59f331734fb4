import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap, TypedArray } from "@tensorflow/tfjs-core";

/** The C++ addon's surface (native/*.cc). All arrays are owned by JS. */
export interface NativeAddon {
  info(): { tier: "native-openblas" | "native-builtin"; blas: string; threads: number };
  setThreads(n: number): void;
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, batch: number, batchA: number, batchB: number, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shape: Int32Array, stridesA: Int32Array, stridesB: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha?: number): void;
  reduceInner(op: number, x: Float32Array, out: Float32Array, outer: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number, log?: boolean): void;
  transpose(x: Float32Array, out: Float32Array, inShape: Int32Array, perm: Int32Array): void;
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number, gradScale?: number): void;
  sumSquares(x: Float32Array): number;
  rmsNorm(x: Float32Array, w: Float32Array, out: Float32Array, rstd: Float32Array, d: number, eps: number): void;
  rmsNormGrad(dy: Float32Array, x: Float32Array, w: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array, d: number): void;
  gelu(x: Float32Array, out: Float32Array): void;
  rotary(x: Float32Array, cos: Float32Array, sin: Float32Array, out: Float32Array, length: number, headDim: number, backward: boolean): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  swiglu(g: Float32Array, u: Float32Array, out: Float32Array): void;
  swigluGrad(dy: Float32Array, g: Float32Array, u: Float32Array, dg: Float32Array, du: Float32Array): void;
}

export type LoadResult = { addon: NativeAddon; path: string } | { addon: null; reason: string };

/** Finds and loads the addon; any failure (not built, other Node ABI, missing libs) is a reason, never a throw. */
export function loadNativeAddon(): LoadResult {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/engine (tests, tsx) and dist/engine (the CLI) both sit two levels below the package root.
  const root = join(here, "..", "..");
  // LAVIT_NATIVE_ADDON points at another build (or, in tests, at a file that is not one).
  const override = process.env.LAVIT_NATIVE_ADDON;
  const candidates = override ? [override] : [join(root, "native", "build", "Release", "lavit_native.node"), join(root, "native", "build", "Debug", "lavit_native.node")];
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { addon: null, reason: `the native kernel pack is not built (looked for ${candidates[0]}; run \`npm run build:native\`)` };
  try {
    const require = createRequire(import.meta.url);
    const addon = require(path) as NativeAddon;
    addon.info();
    return { addon, path };
  } catch (e) {
    return { addon: null, reason: `the native kernel pack at ${path} could not be loaded (${(e as Error).message.split("\n")[0]}); rebuild it with \`npm run build:native\`` };
  }
}

type CpuBackend = {
  data: { get(id: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: string, values?: TypedArray): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
};

const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, Pow: 7 };
const UNARY_OPS: Record<string, number> = {
  Exp: 0, Log: 1, Sqrt: 2, Rsqrt: 3, Neg: 4, Sigmoid: 5, Tanh: 6, Square: 7, Abs: 8, Relu: 9, Reciprocal: 10,
  Softplus: 11, Log1p: 12, Expm1: 13, Sign: 14, Step: 15, Relu6: 16, Elu: 17, LeakyRelu: 18,
};
const REDUCE_OPS: Record<string, { op: number; axisAttr: string }> = {
  Sum: { op: 0, axisAttr: "axis" },
  Max: { op: 1, axisAttr: "reductionIndices" },
  Min: { op: 2, axisAttr: "axis" },
  Mean: { op: 3, axisAttr: "axis" },
  Prod: { op: 4, axisAttr: "axis" },
};
const FUSED_ACTIVATIONS: Record<string, number | null> = { linear: null, relu: 9, relu6: 16, sigmoid: 5, elu: 17, leakyrelu: 18 };

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Broadcast geometry for the addon's binary kernel: output shape and per-input strides in
 * output index space (0 on broadcast axes), with size-1 axes dropped and axes that are
 * contiguous in both inputs merged, so the C++ inner loop is as long as possible.
 */
export function broadcastGeometry(aShape: readonly number[], bShape: readonly number[]): { outShape: number[]; shape: Int32Array; sa: Int32Array; sb: Int32Array } {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(aShape as number[], bShape as number[]);
  const rank = outShape.length;
  const strideFor = (s: readonly number[]) => {
    const st = stridesOf(s);
    const out = new Array<number>(rank).fill(0);
    for (let d = 0; d < rank; d++) {
      const k = d - (rank - s.length);
      if (k >= 0 && s[k] !== 1) out[d] = st[k];
    }
    return out;
  };
  const fa = strideFor(aShape);
  const fb = strideFor(bShape);
  const dims: number[] = [];
  const da: number[] = [];
  const db: number[] = [];
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && da[last] === fa[d] * outShape[d] && db[last] === fb[d] * outShape[d]) {
      dims[last] *= outShape[d];
      da[last] = fa[d];
      db[last] = fb[d];
    } else {
      dims.push(outShape[d]);
      da.push(fa[d]);
      db.push(fb[d]);
    }
  }
  return { outShape, shape: Int32Array.from(dims), sa: Int32Array.from(da), sb: Int32Array.from(db) };
}

/** A handle on the native kernels registered over the cpu backend's; `restore()` puts the JS ones back. */
export interface NativeRegistration {
  kernels: string[];
  restore(): void;
}

/**
 * Copies a `block`-shaped box of `src` (shape `srcShape`, box starting at `srcBegin`) into
 * `dst` (shape `dstShape`, at `dstBegin`). Trailing axes the box spans whole in both arrays
 * merge into one contiguous run, so a copy is a few `set` calls rather than tfjs's
 * element-by-element TensorBuffer walk (its Slice and Pad kernels for strided boxes).
 */
export function copyBlock(src: Float32Array, srcShape: readonly number[], srcBegin: readonly number[], dst: Float32Array, dstShape: readonly number[], dstBegin: readonly number[], block: readonly number[]): void {
  const rank = block.length;
  if (sizeOf(block) === 0) return;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let j = rank - 1;
  while (j > 0 && block[j] === srcShape[j] && block[j] === dstShape[j]) j--;
  // Axes after j are whole in both arrays, so their strides agree and the run is contiguous.
  const run = block[j] * ss[j];
  const idx = new Array<number>(j).fill(0);
  for (;;) {
    let so = srcBegin[j] * ss[j];
    let dof = dstBegin[j] * ds[j];
    for (let d = 0; d < j; d++) {
      so += (srcBegin[d] + idx[d]) * ss[d];
      dof += (dstBegin[d] + idx[d]) * ds[d];
    }
    if (run < 16) for (let k = 0; k < run; k++) dst[dof + k] = src[so + k];
    else dst.set(src.subarray(so, so + run), dof);
    let d = j - 1;
    while (d >= 0 && ++idx[d] === block[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

/**
 * Registers the addon's kernels over tfjs-backend-cpu's. Each native kernel serves float32
 * only and hands anything else (int32, bool, complex) to the original JS kernel, so every op
 * keeps working whatever the dtype.
 */
export function registerNativeKernels(addon: NativeAddon): NativeRegistration {
  const originals = new Map<string, KernelConfig>();
  for (const k of tf.getKernelsForBackend("cpu")) originals.set(k.kernelName, k);
  const registered: string[] = [];

  const values = (backend: CpuBackend, t: TensorInfo): Float32Array | null => {
    if (t.dtype !== "float32") return null;
    const v = backend.data.get(t.dataId).values;
    return v instanceof Float32Array ? v : null;
  };

  const install = (name: string, fn: (args: { inputs: Record<string, TensorInfo>; backend: CpuBackend; attrs: NamedAttrMap }, fallback: KernelFunc) => TensorInfo | null) => {
    const original = originals.get(name);
    if (!original) return;
    const fallback = original.kernelFunc;
    const kernelFunc = ((args: Parameters<KernelFunc>[0]) => {
      const out = fn(args as unknown as { inputs: Record<string, TensorInfo>; backend: CpuBackend; attrs: NamedAttrMap }, fallback);
      return out ?? fallback(args);
    }) as KernelFunc;
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ ...original, kernelFunc });
    registered.push(name);
  };

  const matmul = (backend: CpuBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): { out: Float32Array; shape: number[] } | null => {
    const av = values(backend, a);
    const bv = values(backend, b);
    if (!av || !bv) return null;
    const ar = a.shape.length;
    const br = b.shape.length;
    const k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
    const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
    if (k !== kb) return null; // let the JS kernel raise its usual error
    const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
    const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const out = new Float32Array(batch * m * n);
    addon.matmul(av, bv, out, batch, batchA, batchB, m, n, k, transposeA, transposeB);
    return { out, shape: [...outer, m, n] };
  };

  install("BatchMatMul", ({ inputs, backend, attrs }) => {
    const r = matmul(backend, inputs.a, inputs.b, attrs.transposeA as boolean, attrs.transposeB as boolean);
    return r ? backend.makeTensorInfo(r.shape, "float32", r.out) : null;
  });

  install("_FusedMatMul", ({ inputs, backend, attrs }) => {
    const activation = attrs.activation as string;
    if (!(activation in FUSED_ACTIVATIONS) || inputs.preluActivationWeights) return null;
    const bias = inputs.bias;
    const biasValues = bias ? values(backend, bias) : null;
    if (bias && !biasValues) return null;
    const r = matmul(backend, inputs.a, inputs.b, attrs.transposeA as boolean, attrs.transposeB as boolean);
    if (!r) return null;
    let out = r.out;
    if (bias && biasValues) {
      const g = broadcastGeometry(r.shape, bias.shape);
      if (g.outShape.length !== r.shape.length || g.outShape.some((d, i) => d !== r.shape[i])) return null;
      addon.binary(BINARY_OPS.Add, out, biasValues, out, g.shape, g.sa, g.sb);
    }
    const act = FUSED_ACTIVATIONS[activation];
    if (act !== null) {
      const alpha = activation === "leakyrelu" ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
      const next = new Float32Array(out.length);
      addon.unary(act, out, next, alpha);
      out = next;
    }
    return backend.makeTensorInfo(r.shape, "float32", out);
  });

  for (const [name, op] of Object.entries(BINARY_OPS)) {
    install(name, ({ inputs, backend }) => {
      const av = values(backend, inputs.a);
      const bv = values(backend, inputs.b);
      if (!av || !bv) return null;
      const g = broadcastGeometry(inputs.a.shape, inputs.b.shape);
      const out = new Float32Array(sizeOf(g.outShape));
      addon.binary(op, av, bv, out, g.shape, g.sa, g.sb);
      return backend.makeTensorInfo(g.outShape, "float32", out);
    });
  }

  for (const [name, op] of Object.entries(UNARY_OPS)) {
    install(name, ({ inputs, backend, attrs }) => {
      const xv = values(backend, inputs.x);
      if (!xv) return null;
      const out = new Float32Array(xv.length);
      addon.unary(op, xv, out, (attrs?.alpha as number | undefined) ?? 0);
      return backend.makeTensorInfo(inputs.x.shape, "float32", out);
    });
  }

  const transposeValues = (xv: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array => {
    const out = new Float32Array(xv.length);
    addon.transpose(xv, out, Int32Array.from(shape), Int32Array.from(perm));
    return out;
  };

  for (const [name, { op, axisAttr }] of Object.entries(REDUCE_OPS)) {
    install(name, ({ inputs, backend, attrs }) => {
      const x = inputs.x;
      const xv = values(backend, x);
      if (!xv) return null;
      const rank = x.shape.length;
      const origAxes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      let axes = origAxes;
      let data = xv;
      let shape = x.shape;
      const perm = tf.backend_util.getAxesPermutation(axes, rank);
      if (perm != null) {
        data = transposeValues(xv, x.shape, perm);
        shape = perm.map((p) => x.shape[p]);
        axes = tf.backend_util.getInnerMostAxes(axes.length, rank);
      }
      const [outShape, reduceShape] = tf.backend_util.computeOutAndReduceShapes(shape, axes);
      const inner = sizeOf(reduceShape);
      const outer = sizeOf(outShape);
      const out = new Float32Array(outer);
      addon.reduceInner(op, data, out, outer, inner);
      const finalShape = attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, origAxes) : outShape;
      return backend.makeTensorInfo(finalShape, "float32", out);
    });
  }

  install("Softmax", ({ inputs, backend, attrs }) => {
    const x = inputs.logits;
    const xv = values(backend, x);
    const rank = x.shape.length;
    const dim = attrs.dim as number;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
    const cols = x.shape[rank - 1];
    const out = new Float32Array(xv.length);
    addon.softmax(xv, out, cols === 0 ? 0 : xv.length / cols, cols);
    return backend.makeTensorInfo(x.shape, "float32", out);
  });

  install("Transpose", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = values(backend, x);
    if (!xv || x.shape.length === 0) return null;
    const perm = attrs.perm as number[];
    return backend.makeTensorInfo(perm.map((p) => x.shape[p]), "float32", transposeValues(xv, x.shape, perm));
  });

  install("Slice", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = values(backend, x);
    if (!xv) return null;
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, size);
    const out = new Float32Array(sizeOf(size));
    copyBlock(xv, x.shape, begin, out, size, new Array<number>(size.length).fill(0), size);
    return backend.makeTensorInfo(size, "float32", out);
  });

  install("PadV2", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = values(backend, x);
    if (!xv) return null;
    const paddings = attrs.paddings as [number, number][];
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = new Float32Array(sizeOf(outShape));
    const fill = attrs.constantValue as number;
    if (fill !== 0) out.fill(fill);
    copyBlock(xv, x.shape, new Array<number>(x.shape.length).fill(0), out, outShape, paddings.map((p) => p[0]), x.shape);
    return backend.makeTensorInfo(outShape, "float32", out);
  });

  // tfjs's Concat copies element by element in JS; the KV cache of every decoding step concatenates, which made it a third of signal extraction.
  install("Concat", ({ inputs, backend, attrs }) => {
    const xs = Object.values(inputs).filter((t) => sizeOf(t.shape) > 0);
    if (xs.length === 0) return null;
    const shape = xs[0].shape;
    const axis = tf.util.parseAxisParam(attrs.axis as number, shape)[0];
    const parts: Float32Array[] = [];
    for (const x of xs) {
      const v = values(backend, x);
      // Mismatched shapes go to the JS kernel, which raises tfjs's own error.
      if (!v || x.shape.length !== shape.length || x.shape.some((d, i) => i !== axis && d !== shape[i])) return null;
      parts.push(v);
    }
    const outShape = [...shape];
    outShape[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
    const out = new Float32Array(sizeOf(outShape));
    const begin = new Array<number>(shape.length).fill(0);
    const zeros = new Array<number>(shape.length).fill(0);
    xs.forEach((x, i) => {
      copyBlock(parts[i], x.shape, zeros, out, outShape, begin, x.shape);
      begin[axis] += x.shape[axis];
    });
    return backend.makeTensorInfo(outShape, "float32", out);
  });

  return {
    kernels: [...registered].sort(),
    restore() {
      for (const name of registered) {
        tf.unregisterKernel(name, "cpu");
        tf.registerKernel(originals.get(name)!);
      }
      registered.length = 0;
    },
  };
}
