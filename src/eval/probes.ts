import { tf } from "../engine/index.js";
import { NEG_INF } from "../model/nn.js";
import { IMAGE_START } from "../model/vlm.js";

export interface ProbeOptions {
  /** Hide the latent tokens from everything generated after them (LaViT's mask_lvr probe). */
  maskLatents?: boolean;
  /** Close the sensory gate at inference: generated tokens cannot attend to the image. */
  noImageForAnswer?: boolean;
}

/** An additive attention bias for a query block of `q` rows from `qStart` over `k` keys (undefined: none). */
export type BiasFor = (q: number, k: number, qStart: number) => tf.Tensor | undefined;

/**
 * An attention-bias builder for generateGreedy: rows at or after the prompt's end (the
 * generated tokens, and the last prompt position, which produces the first of them, is left
 * alone so the latents keep their meaning) lose the latent and/or image columns.
 */
export function probeBias(promptLength: number, latents: number, numPatches: number, p: ProbeOptions): BiasFor | undefined {
  if (!p.maskLatents && !p.noImageForAnswer) return undefined;
  return (q, k, qStart) => {
    const bias = new Float32Array(q * k);
    for (let i = 0; i < q; i++) {
      const row = qStart + i;
      if (row < promptLength) continue;
      if (p.maskLatents) for (let c = promptLength - latents; c < promptLength; c++) if (c < k) bias[i * k + c] = NEG_INF;
      if (p.noImageForAnswer) for (let c = IMAGE_START; c < IMAGE_START + numPatches; c++) if (c < k) bias[i * k + c] = NEG_INF;
    }
    return tf.tensor4d(bias, [1, 1, q, k]);
  };
}

/**
 * The steer probe's bias: the K latent rows of batch row b may look only at the image patches
 * `regions[b]` (null leaves that row alone); every other row, and their other columns, as they were.
 */
export function steerBias(promptLength: number, latents: number, numPatches: number, regions: readonly (readonly number[] | null)[]): BiasFor {
  const first = promptLength - latents;
  return (q, k, qStart) => {
    const from = Math.max(first, qStart);
    const to = Math.min(promptLength, qStart + q);
    if (from >= to) return undefined;
    const bias = new Float32Array(regions.length * q * k);
    regions.forEach((region, b) => {
      if (!region) return;
      const allowed = new Set(region);
      for (let row = from; row < to; row++)
        for (let j = 0; j < numPatches; j++) if (!allowed.has(j) && IMAGE_START + j < k) bias[(b * q + row - qStart) * k + IMAGE_START + j] = NEG_INF;
    });
    return tf.tensor4d(bias, [regions.length, 1, q, k]);
  };
}

/** Indices grouped by prompt length (generation batches need equal lengths), in chunks of at most `batchSize`, in index order. */
export function chunksByLength(lengths: readonly number[], batchSize: number): number[][] {
  const byLength = new Map<number, number[]>();
  lengths.forEach((l, i) => byLength.get(l)?.push(i) ?? byLength.set(l, [i]));
  const out: number[][] = [];
  for (const idx of byLength.values()) for (let s = 0; s < idx.length; s += batchSize) out.push(idx.slice(s, s + batchSize));
  return out;
}

/** Shares of a count (0 when there is nothing to count, so the JSON stays numbers). */
export function share(count: number, total: number): number {
  return total > 0 ? count / total : 0;
}
