import * as tf from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32 } from "./buffers.js";
import { BINARY_OPS, BINARY_CODE, UNARY_OPS, UNARY_CODE } from "../op-codes.js";
import { f32Values, sizeOf, stridesOf, type KernelOverrides } from "./registry.js";

/**
 * Broadcast geometry for the addon's binary kernel: output shape and per-input strides in
 * output index space (0 on broadcast axes), with size-1 axes dropped and axes that are
 * contiguous in both inputs merged, so the C++ inner loop is as long as possible.
 */
export function broadcastGeometry(
  aShape: readonly number[],
  bShape: readonly number[],
): { outShape: number[]; shape: Int32Array; sa: Int32Array; sb: Int32Array } {
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

/** Every binary (broadcasting) and unary kernel of the op table, on the addon. */
export function installElementwiseKernels(reg: KernelOverrides, addon: NativeAddon): void {
  for (const [name] of BINARY_OPS) {
    const op = BINARY_CODE[name];
    reg.install(name, ({ inputs, backend }) => {
      const av = f32Values(backend, inputs.a);
      const bv = f32Values(backend, inputs.b);
      if (!av || !bv) return null;
      const g = broadcastGeometry(inputs.a.shape, inputs.b.shape);
      const out = allocF32(sizeOf(g.outShape));
      addon.binary(op, av, bv, out, g.shape, g.sa, g.sb);
      return backend.makeTensorInfo(g.outShape, "float32", out);
    });
  }

  for (const [name] of UNARY_OPS) {
    const op = UNARY_CODE[name];
    reg.install(name, ({ inputs, backend, attrs }) => {
      const xv = f32Values(backend, inputs.x);
      if (!xv) return null;
      const out = allocF32(xv.length);
      addon.unary(op, xv, out, (attrs?.alpha as number | undefined) ?? 0);
      return backend.makeTensorInfo(inputs.x.shape, "float32", out);
    });
  }
}
