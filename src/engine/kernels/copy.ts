import * as tf from "@tensorflow/tfjs-core";
import { f32Values, sizeOf, stridesOf, type KernelOverrides } from "./registry.js";

/**
 * Copies a `block`-shaped box of `src` (shape `srcShape`, box starting at `srcBegin`) into
 * `dst` (shape `dstShape`, at `dstBegin`). Trailing axes the box spans whole in both arrays
 * merge into one contiguous run, so a copy is a few `set` calls rather than tfjs's
 * element-by-element TensorBuffer walk (its Slice and Pad kernels for strided boxes).
 */
export function copyBlock(
  src: Float32Array,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstBegin: readonly number[],
  block: readonly number[],
): void {
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
 * Slice, PadV2 and Concat as block copies, in plain JS. They need no addon, so every tier
 * registers them; they matter most on the JS tier, where everything else is slow too.
 */
export function installCopyKernels(reg: KernelOverrides): void {
  reg.install("Slice", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = f32Values(backend, x);
    if (!xv) return null;
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, size);
    const out = new Float32Array(sizeOf(size));
    copyBlock(xv, x.shape, begin, out, size, new Array<number>(size.length).fill(0), size);
    return backend.makeTensorInfo(size, "float32", out);
  });

  reg.install("PadV2", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = f32Values(backend, x);
    if (!xv) return null;
    const paddings = attrs.paddings as [number, number][];
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = new Float32Array(sizeOf(outShape));
    const fill = attrs.constantValue as number;
    if (fill !== 0) out.fill(fill);
    copyBlock(
      xv,
      x.shape,
      new Array<number>(x.shape.length).fill(0),
      out,
      outShape,
      paddings.map((p) => p[0]),
      x.shape,
    );
    return backend.makeTensorInfo(outShape, "float32", out);
  });

  // tfjs's Concat copies element by element in JS; the KV cache of every decoding step concatenates.
  reg.install("Concat", ({ inputs, backend, attrs }) => {
    const xs = Object.values(inputs).filter((t) => sizeOf(t.shape) > 0);
    if (xs.length === 0) return null;
    const shape = xs[0].shape;
    const axis = tf.util.parseAxisParam(attrs.axis as number, shape)[0];
    const parts: Float32Array[] = [];
    for (const x of xs) {
      const v = f32Values(backend, x);
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
}
