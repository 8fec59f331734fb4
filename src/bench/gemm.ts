import { tf, initEngine, type EngineInfo } from "../engine/index.js";

/**
 * The engine's single-precision matrix-product peak on this machine: square products through
 * tf.matMul (the pack's GEMM on the native tiers, OpenBLAS sgemm on native-openblas, over
 * the pack's threads), best of `reps`. The step benchmark reports its GFLOP/s against it.
 */
export interface GemmResult {
  impl: "lavit";
  bench: "gemm";
  tier: EngineInfo["tier"];
  threads: number;
  size: number;
  gflops_best: number;
  gflops_median: number;
}

export async function runGemmBench(size = 1024, reps = 10, warmup = 2): Promise<GemmResult> {
  const engine = await initEngine();
  const a = tf.randomNormal([size, size], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([size, size], 0, 1, "float32", 2) as tf.Tensor2D;
  const rates: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t0;
    c.dispose();
    if (i >= warmup) rates.push((2 * size ** 3) / (ms * 1e6));
  }
  tf.dispose([a, b]);
  rates.sort((x, y) => x - y);
  return {
    impl: "lavit",
    bench: "gemm",
    tier: engine.info.tier,
    threads: engine.info.threads,
    size,
    gflops_best: round1(rates[rates.length - 1]),
    gflops_median: round1(rates[rates.length >> 1]),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
