import { tf, initEngine, type EngineInfo } from "../engine/index.js";
import { ParamStore } from "../model/params.js";
import { initDecoder, runDecoder, type DecoderShape } from "../model/decoder.js";
import { crossEntropy, embed, linear } from "../model/nn.js";
import { AdamW, clipScale, globalNorm } from "../train/optim.js";
import { Rng } from "../util/rng.js";
import { z } from "zod";
import { countOrZero, positiveInt, validateOptions } from "../stages/options-schema.js";

/** The step benchmarks' counts: the CLI's flags take their ranges from here, and library calls are checked against them. */
export const BENCH_STEP_FIELDS = { steps: positiveInt(), warmup: countOrZero() };
const benchStepSchema = z.object(BENCH_STEP_FIELDS);

/** Refuses a timed-step or warm-up count out of range, as the CLI would (`--steps must be an integer in [1, …], got 0`). */
export function checkBenchCounts(steps: number, warmup: number): void {
  validateOptions(benchStepSchema, { steps, warmup });
}

/** The transformer-step benchmark of ../shared/bench/transformer_step.md. */
export const BENCH_CONFIGS = {
  small: { vocab: 256, d: 128, heads: 4, layers: 4, ffn: 384, seq: 96, batch: 32 },
  base: { vocab: 512, d: 256, heads: 8, layers: 4, ffn: 768, seq: 128, batch: 16 },
} as const;
export type BenchConfigName = keyof typeof BENCH_CONFIGS;
export type BenchConfig = (typeof BENCH_CONFIGS)[BenchConfigName];

/**
 * Floating-point operations of one training step, as the benchmark counts them: the matrix
 * products of the forward pass (every linear layer, the LM head, and attention's two products
 * over the full T x T scores), times three for forward plus backward. The embedding (a
 * lookup in the reference) is left out.
 */
export function stepFlops(c: BenchConfig): number {
  const tokens = c.batch * c.seq;
  const weights = c.layers * (4 * c.d * c.d + 3 * c.d * c.ffn) + c.d * c.vocab;
  const attention = c.layers * 2 * 2 * c.batch * c.seq * c.seq * c.d;
  return 3 * (2 * weights * tokens + attention);
}

export interface BenchLm {
  store: ParamStore;
  config: BenchConfig;
  dispose(): void;
}

/** The benchmark LM is the VLM's decoder stack (model/decoder.ts) without the vision side. */
function decoderShape(c: BenchConfig): DecoderShape {
  return { vocab_size: c.vocab, hidden_size: c.d, num_layers: c.layers, num_heads: c.heads, ffn_size: c.ffn };
}

export function buildBenchLm(config: BenchConfig, seed = 0): BenchLm {
  const store = new ParamStore(new Rng(seed));
  initDecoder(store, decoderShape(config));
  return { store, config, dispose: () => store.dispose() };
}

export function benchLoss(lm: BenchLm, inputs: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const { store, config } = lm;
  const x = embed(inputs, store.get("model.embed_tokens.weight") as tf.Tensor2D);
  const { hidden } = runDecoder(store, decoderShape(config), x);
  const logits = tf.reshape(linear(hidden, store, "lm_head"), [-1, config.vocab]) as tf.Tensor2D;
  return crossEntropy(logits, targets);
}

/** One full training step: forward, backward, clip to norm 1, AdamW. Returns the loss. */
export function trainStep(lm: BenchLm, opt: AdamW, inputs: tf.Tensor2D, targets: tf.Tensor1D): number {
  const { value, grads } = lm.store.grads(() => benchLoss(lm, inputs, targets));
  const scale = clipScale(globalNorm(grads), 1.0);
  opt.step(lm.store.vars, grads, scale);
  const loss = value.dataSync()[0];
  value.dispose();
  tf.dispose([...grads.values()]);
  return loss;
}

export interface StepTimes {
  ms_per_step_median: number;
  ms_per_step_min: number;
}

/** The median and the fastest of the timed steps, in ms to two decimals. */
export function stepTimes(times: readonly number[]): StepTimes {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { ms_per_step_median: Math.round(median * 100) / 100, ms_per_step_min: Math.round(sorted[0] * 100) / 100 };
}

export interface BenchResult extends StepTimes {
  impl: "lavit";
  config: BenchConfigName;
  params: number;
  native: boolean;
  tier: EngineInfo["tier"];
  threads: number;
  /** stepFlops / the median step time. */
  gflops: number;
  /** The process's peak resident memory so far (maxRSS), in MB of 2^20 bytes. */
  peak_rss_mb: number;
  loss_first: number;
  loss_last: number;
}

export async function runStepBench(name: BenchConfigName, steps = 10, warmup = 3, onStep?: (i: number, ms: number) => void): Promise<BenchResult> {
  checkBenchCounts(steps, warmup);
  const engine = await initEngine();
  const config = BENCH_CONFIGS[name];
  const lm = buildBenchLm(config, 0);
  const rng = new Rng(1);
  const ids = new Int32Array(config.batch * (config.seq + 1));
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(0, config.vocab - 1);
  const all = tf.tensor2d(ids, [config.batch, config.seq + 1], "int32");
  const inputs = tf.slice(all, [0, 0], [config.batch, config.seq]);
  const targets = tf.reshape(tf.slice(all, [0, 1], [config.batch, config.seq]), [-1]) as tf.Tensor1D;
  const opt = new AdamW({ lr: 1e-3, weightDecay: 0.1 });
  const times: number[] = [];
  let first = NaN;
  let last = NaN;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    last = trainStep(lm, opt, inputs, targets);
    const ms = performance.now() - t0;
    if (i === 0) first = last;
    if (i >= warmup) times.push(ms);
    onStep?.(i, ms);
  }
  const params = lm.store.count();
  tf.dispose([all, inputs, targets]);
  lm.dispose();
  const timing = stepTimes(times);
  return {
    impl: "lavit",
    config: name,
    params,
    native: engine.info.native,
    tier: engine.info.tier,
    threads: engine.info.threads,
    ...timing,
    gflops: Math.round(stepFlops(config) / (timing.ms_per_step_median * 1e5)) / 10,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    loss_first: first,
    loss_last: last,
  };
}
