import { totalmem } from "node:os";
import { UserError } from "../errors.js";

/**
 * Refusals, before any work, of sizes that cannot fit in memory: the message gives an estimate
 * of what the request would take, so the user can choose sizes that do. The estimates are
 * rough (they count the big arrays, not every temporary) but never below what is needed.
 */

/** One typed array may not exceed this (V8's limit on 64-bit is about 4 GiB; tfjs copies). */
/** The largest seed: seeds feed 32-bit generators (and `| 0` arithmetic). */
export const MAX_SEED = 0x7fffffff;

export const MAX_ARRAY_BYTES = 2 ** 31;

/** What this machine can give one run: most of its memory. */
export function memoryBudget(): number {
  return Math.floor(totalmem() * 0.8);
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 40) return `${(n / 2 ** 40).toFixed(1)} TB`;
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 2 ** 10))} KB`;
}

/**
 * Refuses when `bytes` (the total) exceed the machine's budget, or `largest` (one array)
 * exceeds what one array may hold. `what` names the flags or fields responsible.
 */
export function assertFits(what: string, bytes: number, largest = 0): void {
  const budget = memoryBudget();
  if (!Number.isFinite(bytes) || bytes > budget)
    throw new UserError(
      `${what}: would need about ${formatBytes(bytes)} of memory, more than this machine can give (${formatBytes(budget)}); choose smaller sizes`,
    );
  if (!Number.isFinite(largest) || largest > MAX_ARRAY_BYTES)
    throw new UserError(
      `${what}: one array would take about ${formatBytes(largest)}, more than the ${formatBytes(MAX_ARRAY_BYTES)} an array may hold; choose smaller sizes`,
    );
}

/** `data generate --size/--patch` and anything decoding a dataset's images: RGBA decode + RGB copy per image, all images of a split kept. */
export function checkImageSize(size: number, patch: number, images = 1, what = "--size/--patch"): void {
  const per = size * size * 4;
  assertFits(`${what} ${size}/${patch}${images > 1 ? ` for ${images} images` : ""}`, per + images * size * size * 3, per);
}

/** `data show --scale`: the enlarged RGB raster and its RGBA encoding. */
export function checkRaster(side: number, what: string): void {
  const rgba = side * side * 4;
  assertFits(`${what} (an image ${side} x ${side} px)`, rgba * 2, rgba);
}

/** The sizes of a model config that decide its memory (a subset of VlmConfig, so limits stays a leaf module). */
export interface ModelSizes {
  vision: { image_size: number; patch_size: number; channels?: number; hidden_size: number; num_layers: number; num_heads: number; mlp_size: number };
  decoder: { vocab_size: number; hidden_size: number; num_layers: number; num_heads: number; num_kv_heads?: number; ffn_size: number; max_positions: number };
  latent?: { num_latents: number; teacher_hidden_size: number };
}

/** Number of parameters of a model (as buildVlm makes it, without the per-patch aux heads). */
export function parameterCount(c: ModelSizes): number {
  const v = c.vision;
  const d = c.decoder;
  const n = (v.image_size / v.patch_size) ** 2;
  const patchDim = v.patch_size * v.patch_size * (v.channels ?? 3);
  const vis =
    patchDim * v.hidden_size +
    v.hidden_size +
    n * v.hidden_size +
    v.num_layers * (4 * v.hidden_size * v.hidden_size + 2 * v.hidden_size * v.mlp_size + 8 * v.hidden_size + v.mlp_size) +
    2 * v.hidden_size;
  const headDim = d.hidden_size / d.num_heads;
  const kv = (d.num_kv_heads ?? d.num_heads) * headDim;
  const dec =
    2 * d.vocab_size * d.hidden_size +
    d.num_layers * (2 * d.hidden_size * d.hidden_size + 2 * d.hidden_size * kv + 3 * d.hidden_size * d.ffn_size + 3 * d.hidden_size + 2 * kv) +
    d.hidden_size;
  const proj = v.hidden_size * d.hidden_size + d.hidden_size * d.hidden_size + 2 * d.hidden_size;
  const t = c.latent?.teacher_hidden_size ?? 0;
  const lat = c.latent && c.latent.num_latents > 0 ? 2 * d.hidden_size * d.hidden_size + d.hidden_size * t + d.hidden_size + t : 0;
  return vis + dec + proj + lat;
}

/**
 * A model's memory: its weights, plus (when training) gradients and two Adam moments, plus the
 * activations of one batch through every layer (hidden states and attention maps).
 */
export function modelBytes(c: ModelSizes, use: { training: boolean; batch: number }): { total: number; largest: number } {
  const params = parameterCount(c);
  const v = c.vision;
  const d = c.decoder;
  const n = (v.image_size / v.patch_size) ** 2;
  const seq = Math.min(d.max_positions, n + 64);
  const b = use.batch;
  const visionAct = b * v.num_layers * (n * (6 * v.hidden_size + v.mlp_size) + v.num_heads * n * n);
  const decoderAct = b * d.num_layers * (seq * (6 * d.hidden_size + 2 * d.ffn_size) + d.num_heads * seq * seq);
  const logits = b * seq * d.vocab_size;
  const activations = (visionAct + decoderAct + logits) * 4 * (use.training ? 2 : 1);
  const largest = 4 * Math.max(d.vocab_size * d.hidden_size, b * d.num_heads * seq * seq, b * v.num_heads * n * n, logits, d.hidden_size * d.ffn_size);
  return { total: params * 4 * (use.training ? 4 : 1) + activations, largest };
}

/** Refuses a model config (e.g. hidden_size 1e9 in config.json) that cannot fit, before it is built. */
export function checkModelFits(c: ModelSizes, use: { training: boolean; batch: number }, source: string): void {
  const { total, largest } = modelBytes(c, use);
  assertFits(
    `${source}: a model of ${parameterCount(c).toLocaleString("en-US")} parameters${use.training ? `, trained in batches of ${use.batch},` : ""}`,
    total,
    largest,
  );
}

/** `--batch-size` above the split's sample count: every batch would repeat samples. */
export function checkBatchSize(batch: number, samples: number, split: string, flag = "--batch-size"): void {
  if (samples <= 0) throw new UserError(`split ${split} has no samples; there is nothing to train on`);
  if (batch > samples) throw new UserError(`${flag} ${batch} is larger than the ${samples} samples of split ${split}; choose at most ${samples}`);
}

/** `--latents` above the tokenizer's latent words (<lvr1>..<lvrK>). */
export function checkLatents(latents: number, available: number, flag = "--latents"): void {
  if (latents > available)
    throw new UserError(`${flag} ${latents}: the tokenizer has only ${available} latent tokens (<lvr1>..<lvr${available}>); choose at most ${available}`);
}
