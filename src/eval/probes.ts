import { tf } from "../engine/index.js";
import { NEG_INF } from "../model/nn.js";
import { IMAGE_START } from "../model/vlm.js";

export interface ProbeOptions {
  /** Hide the latent tokens from everything generated after them (LaViT's mask_lvr probe). */
  maskLatents?: boolean;
  /** Close the sensory gate at inference: generated tokens cannot attend to the image. */
  noImageForAnswer?: boolean;
}

/**
 * An attention-bias builder for generateGreedy: rows at or after the prompt's end (the
 * generated tokens, and the last prompt position, which produces the first of them, is left
 * alone so the latents keep their meaning) lose the latent and/or image columns.
 */
export function probeBias(
  promptLength: number,
  latents: number,
  numPatches: number,
  p: ProbeOptions,
): ((q: number, k: number, qStart: number) => tf.Tensor | undefined) | undefined {
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
