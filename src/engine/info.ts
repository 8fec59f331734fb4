/** What initEngine reports (a module of its own: the package's public types need no tensor library). */

export type EngineTier = "native-openblas" | "native-builtin" | "js";

export interface EngineInfo {
  backend: string;
  native: boolean;
  tier: EngineTier;
  /** Kernels lavit registers over tfjs-backend-cpu's: the native pack's, and on every tier the block copies (Slice, PadV2, Concat). */
  kernels: string[];
  blas: string | null;
  threads: number;
  /** Why native kernels are off, when they are. */
  reason?: string;
}

export interface Engine {
  info: EngineInfo;
}
