import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import type { NativeAddon } from "../addon.js";
import { allocF32 } from "./buffers.js";
import { BINARY_CODE, UNARY_CODE, type UnaryKernel } from "../op-codes.js";
import { broadcastGeometry } from "./elementwise.js";
import { f32Values, sizeOf, type CpuBackend, type KernelOverrides } from "./registry.js";

/** _FusedMatMul's activations the addon's unary kernel serves; linear is none at all. */
const FUSED_ACTIVATIONS: Record<string, UnaryKernel | null> = {
  linear: null,
  relu: "Relu",
  relu6: "Relu6",
  sigmoid: "Sigmoid",
  elu: "Elu",
  leakyrelu: "LeakyRelu",
};

/** BatchMatMul and _FusedMatMul (bias and activation applied in place after the product) on the addon's GEMM. */
export function installMatmulKernels(reg: KernelOverrides, addon: NativeAddon): void {
  const matmul = (
    backend: CpuBackend,
    a: TensorInfo,
    b: TensorInfo,
    transposeA: boolean,
    transposeB: boolean,
  ): { out: Float32Array; shape: number[] } | null => {
    const av = f32Values(backend, a);
    const bv = f32Values(backend, b);
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
    const out = allocF32(batch * m * n);
    addon.matmul(av, bv, out, batch, batchA, batchB, m, n, k, transposeA, transposeB);
    return { out, shape: [...outer, m, n] };
  };

  reg.install("BatchMatMul", ({ inputs, backend, attrs }) => {
    const r = matmul(backend, inputs.a, inputs.b, attrs.transposeA as boolean, attrs.transposeB as boolean);
    return r ? backend.makeTensorInfo(r.shape, "float32", r.out) : null;
  });

  reg.install("_FusedMatMul", ({ inputs, backend, attrs }) => {
    const activation = attrs.activation as string;
    if (!(activation in FUSED_ACTIVATIONS) || inputs.preluActivationWeights) return null;
    const bias = inputs.bias;
    const biasValues = bias ? f32Values(backend, bias) : null;
    if (bias && !biasValues) return null;
    const r = matmul(backend, inputs.a, inputs.b, attrs.transposeA as boolean, attrs.transposeB as boolean);
    if (!r) return null;
    let out = r.out;
    if (bias && biasValues) {
      const g = broadcastGeometry(r.shape, bias.shape);
      if (g.outShape.length !== r.shape.length || g.outShape.some((d, i) => d !== r.shape[i])) return null;
      addon.binary(BINARY_CODE.Add, out, biasValues, out, g.shape, g.sa, g.sb);
    }
    const act = FUSED_ACTIVATIONS[activation];
    if (act !== null) {
      const alpha = activation === "leakyrelu" ? ((attrs.leakyreluAlpha as number | undefined) ?? 0.2) : 0;
      const next = allocF32(out.length);
      addon.unary(UNARY_CODE[act], out, next, alpha);
      out = next;
    }
    return backend.makeTensorInfo(r.shape, "float32", out);
  });
}
