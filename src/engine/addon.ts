import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withBlasCore } from "./blas-core.js";

/**
 * The C++ addon's surface (native/*.cc). All arrays are owned by JS. `op` arguments are codes
 * from ./op-codes.ts. Only src/engine/ calls it: everything else reaches the native kernels
 * through the tfjs kernel registry or ./ops.ts.
 */
export interface NativeAddon {
  info(): { tier: "native-openblas" | "native-builtin"; blas: string; threads: number };
  setThreads(n: number): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shape: Int32Array, stridesA: Int32Array, stridesB: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha?: number): void;
  reduceInner(op: number, x: Float32Array, out: Float32Array, outer: number, inner: number): void;
  /** Sum or Mean over the leading axis of x viewed as [outer, inner]; the same bits as reduceInner on the transpose. */
  reduceOuter(op: number, x: Float32Array, out: Float32Array, outer: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number, log?: boolean): void;
  transpose(x: Float32Array, out: Float32Array, inShape: Int32Array, perm: Int32Array): void;
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    wd: number,
    bc1: number,
    bc2: number,
    gradScale?: number,
  ): void;
  sumSquares(x: Float32Array): number;
  rmsNorm(x: Float32Array, w: Float32Array, out: Float32Array, rstd: Float32Array, d: number, eps: number): void;
  rmsNormGrad(dy: Float32Array, x: Float32Array, w: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array, d: number): void;
  /** tanh, when given, receives each element's tanh, which geluGrad can read back instead of computing it again. */
  gelu(x: Float32Array, out: Float32Array, tanh?: Float32Array): void;
  /** `group` rows of hd share a position: 1 for [B, H, T, hd], H for token-major [B, T, H, hd]. */
  rotary(x: Float32Array, cos: Float32Array, sin: Float32Array, out: Float32Array, length: number, headDim: number, backward: boolean, group?: number): void;
  /**
   * dims: [B, T, Tk, H, Hkv, hd]; q [B, T, H, hd], k and v [B, Tk, Hkv, hd]; out [B, T, H*hd]; probs [B, H, T, Tk];
   * meanProbs [B, T, Tk], when given, receives the probabilities averaged over heads, and the call returns true
   * (a build older than meanProbs returns nothing).
   */
  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    bias: Float32Array | null,
    biasStrides: Int32Array,
    out: Float32Array,
    probs: Float32Array,
    dims: Int32Array,
    scale: number,
    meanProbs?: Float32Array | null,
  ): boolean | undefined;
  /** logp [N, V] receives the log-softmax, out [N] -logp at each target (0 for a target outside [0, V)). */
  nll(logits: Float32Array, targets: Int32Array, logp: Float32Array, out: Float32Array, n: number, v: number): void;
  nllGrad(dy: Float32Array, targets: Int32Array, logp: Float32Array, dx: Float32Array, n: number, v: number): void;
  attentionGrad(
    dout: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    probs: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    dims: Int32Array,
    scale: number,
    /** The cotangent of meanProbs [B, T, Tk], when the forward call made them. */
    dMeanProbs?: Float32Array | null,
  ): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, tanh?: Float32Array): void;
  /** sig receives sigmoid(g), which swigluGrad reads back. */
  swiglu(g: Float32Array, u: Float32Array, out: Float32Array, sig: Float32Array): void;
  swigluGrad(dy: Float32Array, g: Float32Array, u: Float32Array, sig: Float32Array, dg: Float32Array, du: Float32Array): void;
}

export type LoadResult = { addon: NativeAddon; path: string } | { addon: null; reason: string };

/** Finds and loads the addon; any failure (not built, other Node ABI, missing libs) is a reason, never a throw. */
export function loadNativeAddon(): LoadResult {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/engine (tests, tsx) and dist/engine (the CLI) both sit two levels below the package root.
  const root = join(here, "..", "..");
  // LAVIT_NATIVE_ADDON points at another build (or, in tests, at a file that is not one).
  const override = process.env.LAVIT_NATIVE_ADDON;
  const candidates = override
    ? [override]
    : [join(root, "native", "build", "Release", "lavit_native.node"), join(root, "native", "build", "Debug", "lavit_native.node")];
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { addon: null, reason: `the native kernel pack is not built (looked for ${candidates[0]}; run \`npm run build:native\`)` };
  try {
    const require = createRequire(import.meta.url);
    const addon = withBlasCore(() => require(path) as NativeAddon);
    addon.info();
    return { addon, path };
  } catch (e) {
    return {
      addon: null,
      reason: `the native kernel pack at ${path} could not be loaded (${(e as Error).message.split("\n")[0]}); rebuild it with \`npm run build:native\``,
    };
  }
}

let active: NativeAddon | null = null;

/**
 * The addon ./ops.ts runs its fused kernels on: set by initEngine() once the native kernels
 * are registered, null on the JS tier and before initialisation (ops then use tfjs ops).
 */
export function activeAddon(): NativeAddon | null {
  return active;
}

export function setActiveAddon(addon: NativeAddon | null): void {
  active = addon;
}
