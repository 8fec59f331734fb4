import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { createRequire } from "node:module";
import { loadNativeAddon, setActiveAddon } from "./addon.js";
import { registerJsKernels, registerNativeKernels } from "./kernels/index.js";
import type { Engine } from "./info.js";

// Gradients and chained tensor methods (see scripts/vendor-tfjs-extras.mjs). The path is
// relative to the package root so it resolves from src/ (tests) and dist/ (the CLI) alike.
createRequire(import.meta.url)("../../vendor/tfjs-extras.cjs");

export { tf };
export type { Engine, EngineInfo, EngineTier } from "./info.js";

// The cpu backend greets every process with an advert for tfjs-node (which cannot be installed
// here and would not be faster than the native pack). Backend creation is synchronous for cpu,
// so this runs before any op, also in code that uses tensors before initEngine().
(tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;

let ready: Promise<Engine> | null = null;

/**
 * Sets up the tensor engine once per process: tfjs's cpu backend, with the native kernel
 * pack registered over it when the addon loads (and ./ops.ts's fused operations switched to
 * it). LAVIT_NATIVE=0 forces the JS tier. When the addon is unavailable, one warning goes to
 * stderr and everything runs on JS. Every tier gets the JS block-copy kernels.
 */
export function initEngine(): Promise<Engine> {
  ready ??= (async (): Promise<Engine> => {
    await tf.setBackend("cpu");
    await tf.ready();
    const base = { backend: tf.getBackend() };
    const jsTier = (reason: string): Engine => {
      const reg = registerJsKernels();
      return { info: { ...base, native: false, tier: "js", kernels: reg.kernels, blas: null, threads: 1, reason } };
    };
    if (process.env.LAVIT_NATIVE === "0") return jsTier("disabled by LAVIT_NATIVE=0");
    const lib = loadNativeAddon();
    if (!lib.addon) {
      process.stderr.write(`lavit: warning: ${lib.reason}; using the JS kernels (much slower).\n`);
      return jsTier(lib.reason);
    }
    const reg = registerNativeKernels(lib.addon);
    setActiveAddon(lib.addon);
    const ni = lib.addon.info();
    return { info: { ...base, native: true, tier: ni.tier, kernels: reg.kernels, blas: ni.blas, threads: ni.threads } };
  })();
  return ready;
}

/**
 * Runs fn and disposes every tensor it created; for code that returns plain numbers or
 * typed arrays read out of tensors (tf.tidy only accepts tensor results).
 */
export function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

/** scoped for async work (e.g. loops that yield to the event loop between batches). */
export async function scopedAsync<T>(fn: () => Promise<T>): Promise<T> {
  tf.engine().startScope();
  try {
    return await fn();
  } finally {
    tf.engine().endScope();
  }
}
