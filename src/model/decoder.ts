import { tf } from "../engine/index.js";
import type { DecoderConfig } from "./config.js";
import { causalBias, decoderBlock, initDecoderBlock, makeRotary, rmsNorm, type AttentionResult } from "./nn.js";
import type { ParamStore } from "./params.js";

/**
 * The causal decoder stack (Qwen2 layout, Hugging Face names): token embedding, decoder
 * blocks, final RMSNorm and LM head. The VLM and the transformer-step benchmark both build
 * and run it through these two functions.
 */

/** The decoder's shape: the fields of the model config the stack reads. */
export type DecoderShape = Pick<DecoderConfig, "vocab_size" | "hidden_size" | "num_layers" | "num_heads" | "num_kv_heads" | "ffn_size"> &
  Partial<Pick<DecoderConfig, "rope_base" | "rms_eps">>;

/** Draws the stack's parameters in a fixed order (the order is part of what a seed means). */
export function initDecoder(store: ParamStore, d: DecoderShape): void {
  store.normal("model.embed_tokens.weight", [d.vocab_size, d.hidden_size]);
  for (let i = 0; i < d.num_layers; i++) initDecoderBlock(store, `model.layers.${i}`, d.hidden_size, d.num_heads, d.num_kv_heads ?? d.num_heads, d.ffn_size);
  store.ones("model.norm.weight", [d.hidden_size]);
  store.normal("lm_head.weight", [d.vocab_size, d.hidden_size]);
}

export interface KvCache {
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[];
  length: number;
}

export interface DecoderOptions {
  /** Extra additive attention bias broadcastable to [B, H, T, Tk] (e.g. the sensory gate). */
  bias?: tf.Tensor;
  returnProbs?: boolean;
  /** Return each layer's probabilities averaged over heads (on the fused kernel when nothing else needs the formulation). */
  returnMeanProbs?: boolean;
  /** Return every layer's output hidden states (before the final norm). */
  returnLayerHidden?: boolean;
  past?: KvCache;
  /** Build the KV cache for later decoding steps (implied by `past`). */
  cache?: boolean;
  /**
   * Inference only: free each block's intermediates as soon as it has its output. Why: under
   * one tidy, a batched prompt pass keeps every block's activations until the pass ends, which
   * was most of an evaluation's peak memory. The same kernels run on the same inputs.
   */
  release?: boolean;
}

export interface DecoderOutput {
  /** Final hidden states after the last RMSNorm [B, T, D]. */
  hidden: tf.Tensor3D;
  /** Per layer [B, H, T, Tk], when asked. */
  probs?: tf.Tensor4D[];
  /** Per layer [B, T, Tk], averaged over heads, when asked. */
  meanProbs?: tf.Tensor3D[];
  layerHidden?: tf.Tensor3D[];
  /** When asked for with `cache`, or given a `past`. */
  cache?: KvCache;
}

/** Runs the decoder blocks and the final norm over input embeddings [B, T, D], causally, after any cached positions. */
export function runDecoder(store: ParamStore, d: DecoderShape, inputs: tf.Tensor3D, opts: DecoderOptions = {}): DecoderOutput {
  const t = inputs.shape[1];
  const pastLength = opts.past?.length ?? 0;
  const rotary = makeRotary(t, d.hidden_size / d.num_heads, d.rope_base, pastLength);
  let bias: tf.Tensor | undefined = t > 1 ? causalBias(t, pastLength) : undefined;
  if (opts.bias) bias = bias ? tf.add(bias, opts.bias) : opts.bias;
  let x = inputs;
  const probs: tf.Tensor4D[] = [];
  const meanProbs: tf.Tensor3D[] = [];
  const layerHidden: tf.Tensor3D[] = [];
  const layers: KvCache["layers"] = [];
  const cache = opts.cache || !!opts.past;
  for (let i = 0; i < d.num_layers; i++) {
    const block = (): AttentionResult =>
      decoderBlock(x, store, `model.layers.${i}`, {
        numHeads: d.num_heads,
        numKvHeads: d.num_kv_heads,
        rotary,
        bias,
        returnProbs: opts.returnProbs,
        returnMeanProbs: opts.returnMeanProbs,
        past: opts.past?.layers[i],
        cache,
        eps: d.rms_eps,
      });
    const r = opts.release ? (tf.tidy(() => block() as unknown as tf.TensorContainer) as unknown as AttentionResult) : block();
    // The previous block's output is no longer needed (unless returned, or the caller's input).
    if (opts.release && !opts.returnLayerHidden && x !== inputs) x.dispose();
    x = r.out;
    if (r.probs) probs.push(r.probs);
    if (r.meanProbs) meanProbs.push(r.meanProbs);
    if (opts.returnLayerHidden) layerHidden.push(x);
    if (r.present) layers.push(r.present);
  }
  const hidden = rmsNorm(x, store.get("model.norm.weight"), d.rms_eps) as tf.Tensor3D;
  return {
    hidden,
    probs: opts.returnProbs ? probs : undefined,
    meanProbs: opts.returnMeanProbs ? meanProbs : undefined,
    layerHidden: opts.returnLayerHidden ? layerHidden : undefined,
    cache: cache ? { layers, length: pastLength + t } : undefined,
  };
}
