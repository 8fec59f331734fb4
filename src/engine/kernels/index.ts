import type { NativeAddon } from "../addon.js";
import { installBufferRecycling } from "./buffers.js";
import { installCopyKernels } from "./copy.js";
import { installElementwiseKernels } from "./elementwise.js";
import { installMatmulKernels } from "./matmul.js";
import { installReduceKernels } from "./reduce.js";
import { KernelOverrides, type KernelRegistration } from "./registry.js";

export type { KernelRegistration } from "./registry.js";
export { copyBlock } from "./copy.js";
export { broadcastGeometry } from "./elementwise.js";

/** The JS tier's kernels: the block copies, which need no addon. */
export function registerJsKernels(): KernelRegistration {
  const reg = new KernelOverrides();
  installCopyKernels(reg);
  return reg;
}

/** The native tier's kernels: the addon's families over tfjs-backend-cpu's, plus the block copies, with their output buffers recycled. */
export function registerNativeKernels(addon: NativeAddon): KernelRegistration {
  const reg = new KernelOverrides();
  installMatmulKernels(reg, addon);
  installElementwiseKernels(reg, addon);
  installReduceKernels(reg, addon);
  installCopyKernels(reg);
  installBufferRecycling(reg);
  return reg;
}
