import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32 } from "./buffers.js";
import { REDUCE_OPS, REDUCE_CODE, type ReduceKernel } from "../op-codes.js";
import { f32Values, sizeOf, type KernelOverrides } from "./registry.js";

/** The attribute each reduction kernel keeps its axes in (tfjs is not uniform here). */
const AXIS_ATTR: Record<ReduceKernel, string> = { Sum: "axis", Max: "reductionIndices", Min: "axis", Mean: "axis", Prod: "axis" };

/** Reductions (reduced axes moved innermost first, as tfjs's own cpu kernels do), Softmax over the last axis, and Transpose. */
export function installReduceKernels(reg: KernelOverrides, addon: NativeAddon): void {
  const transposeValues = (xv: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array => {
    const out = allocF32(xv.length);
    addon.transpose(xv, out, Int32Array.from(shape), Int32Array.from(perm));
    return out;
  };

  for (const [name] of REDUCE_OPS) {
    const op = REDUCE_CODE[name];
    const axisAttr = AXIS_ATTR[name];
    reg.install(name, ({ inputs, backend, attrs }) => {
      const x = inputs.x;
      const xv = f32Values(backend, x);
      if (!xv) return null;
      const rank = x.shape.length;
      const origAxes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      const finalShape = (outShape: number[]) => (attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, origAxes) : outShape);
      // Sum or Mean over leading axes (a bias gradient): column sums, with no transpose first.
      const sorted = [...origAxes].sort((p, q) => p - q);
      if ((name === "Sum" || name === "Mean") && sorted.length > 0 && sorted.length < rank && sorted.every((a, i) => a === i)) {
        const outShape = x.shape.slice(sorted.length);
        const inner = sizeOf(outShape);
        const out = allocF32(inner);
        addon.reduceOuter(op, xv, out, sizeOf(x.shape.slice(0, sorted.length)), inner);
        return backend.makeTensorInfo(finalShape(outShape), "float32", out);
      }
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
      const out = allocF32(outer);
      addon.reduceInner(op, data, out, outer, inner);
      return backend.makeTensorInfo(finalShape(outShape), "float32", out);
    });
  }

  reg.install("Softmax", ({ inputs, backend, attrs }) => {
    const x = inputs.logits;
    const xv = f32Values(backend, x);
    const rank = x.shape.length;
    const dim = attrs.dim as number;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
    const cols = x.shape[rank - 1];
    const out = allocF32(xv.length);
    addon.softmax(xv, out, cols === 0 ? 0 : xv.length / cols, cols);
    return backend.makeTensorInfo(x.shape, "float32", out);
  });

  reg.install("Transpose", ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const xv = f32Values(backend, x);
    if (!xv || x.shape.length === 0) return null;
    const perm = attrs.perm as number[];
    return backend.makeTensorInfo(
      perm.map((p) => x.shape[p]),
      "float32",
      transposeValues(xv, x.shape, perm),
    );
  });
}
