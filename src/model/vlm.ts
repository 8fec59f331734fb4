import { tf } from "../engine/index.js";
import { Rng } from "../util/rng.js";
import { numPatches, type VlmConfig } from "./config.js";
import { initDecoder, runDecoder, type DecoderOptions, type DecoderOutput } from "./decoder.js";
import { embed, gelu, initAttention, initLinear, layerNorm, linear, selfAttention } from "./nn.js";
import { ParamStore } from "./params.js";

/**
 * The vision-language model shared by teacher and student: a ViT over image patches, a
 * two-layer MLP projector into the decoder width, and a causal decoder whose sequence is
 *   <bos> <vision_start> [N image tokens] <vision_end> question [<lvr1>..<lvrK>] target <eos>.
 * Tensor names follow Hugging Face (SigLIP-style vision tower, LLaVA-style projector, Qwen2
 * decoder) so a checkpoint reads naturally in Python.
 */
export interface Vlm {
  config: VlmConfig;
  store: ParamStore;
  dispose(): void;
}

/** Position of the first image token in every sequence. */
export const IMAGE_START = 2;

export function buildVlm(config: VlmConfig, seed: number): Vlm {
  const store = new ParamStore(new Rng(seed));
  const v = config.vision;
  const d = config.decoder;
  const n = numPatches(v);
  const patchDim = v.patch_size * v.patch_size * v.channels;
  initLinear(store, "vision.embeddings.patch_embedding", patchDim, v.hidden_size, { bias: true });
  store.normal("vision.embeddings.position_embedding.weight", [n, v.hidden_size]);
  for (let i = 0; i < v.num_layers; i++) {
    const p = `vision.encoder.layers.${i}`;
    store.ones(`${p}.layer_norm1.weight`, [v.hidden_size]);
    store.zeros(`${p}.layer_norm1.bias`, [v.hidden_size]);
    initAttention(store, `${p}.self_attn`, v.hidden_size, v.num_heads, v.num_heads, true);
    store.ones(`${p}.layer_norm2.weight`, [v.hidden_size]);
    store.zeros(`${p}.layer_norm2.bias`, [v.hidden_size]);
    initLinear(store, `${p}.mlp.fc1`, v.hidden_size, v.mlp_size, { bias: true });
    initLinear(store, `${p}.mlp.fc2`, v.mlp_size, v.hidden_size, { bias: true });
  }
  store.ones("vision.post_layernorm.weight", [v.hidden_size]);
  store.zeros("vision.post_layernorm.bias", [v.hidden_size]);
  initLinear(store, "multi_modal_projector.linear_1", v.hidden_size, d.hidden_size, { bias: true });
  initLinear(store, "multi_modal_projector.linear_2", d.hidden_size, d.hidden_size, { bias: true });
  initDecoder(store, d);
  if (config.latent && config.latent.num_latents > 0) {
    // LaViT heads: latent state -> the teacher's V_top space, and -> a query over image tokens.
    const h = headNames(config);
    initLinear(store, h.vtop1, d.hidden_size, d.hidden_size, { bias: true });
    initLinear(store, h.vtop2, d.hidden_size, config.latent.teacher_hidden_size, { bias: true });
    initLinear(store, h.query, d.hidden_size, d.hidden_size, { bias: h.official });
  }
  return { config, store, dispose: () => store.dispose() };
}

/**
 * Image bytes (RGB, row-major, S x S) to patch rows [N, p*p*3] scaled to [-1, 1], patches in
 * row-major order, each patch's pixels row-major with channels last (as a Conv2d with
 * kernel = stride = p sees them after a permute).
 */
export function patchify(rgb: Uint8Array, size: number, patch: number, out?: Float32Array, offset = 0): Float32Array {
  const grid = size / patch;
  const dim = patch * patch * 3;
  const dst = out ?? new Float32Array(grid * grid * dim);
  for (let pr = 0; pr < grid; pr++)
    for (let pc = 0; pc < grid; pc++) {
      let o = offset + (pr * grid + pc) * dim;
      for (let y = 0; y < patch; y++) {
        let s = ((pr * patch + y) * size + pc * patch) * 3;
        for (let x = 0; x < patch * 3; x++) dst[o++] = rgb[s++] / 127.5 - 1;
      }
    }
  return dst;
}

/** Patch rows of a batch of images: [B, N, p*p*3]. */
export function patchBatch(images: readonly Uint8Array[], size: number, patch: number): tf.Tensor3D {
  const n = (size / patch) ** 2;
  const dim = patch * patch * 3;
  const out = new Float32Array(images.length * n * dim);
  images.forEach((rgb, i) => patchify(rgb, size, patch, out, i * n * dim));
  return tf.tensor3d(out, [images.length, n, dim]);
}

/**
 * The vision tower: patches [B, N, P] -> features [B, N, Hv] (after the final LayerNorm).
 * `release` (inference only): free each layer's intermediates once it has its output, as the
 * decoder's option does.
 */
export function visionForward(vlm: Vlm, patches: tf.Tensor3D, opts: { release?: boolean } = {}): tf.Tensor3D {
  const { store } = vlm;
  const v = vlm.config.vision;
  let x = tf.add(linear(patches, store, "vision.embeddings.patch_embedding"), store.get("vision.embeddings.position_embedding.weight")) as tf.Tensor3D;
  for (let i = 0; i < v.num_layers; i++) {
    const p = `vision.encoder.layers.${i}`;
    const layer = (x: tf.Tensor3D): tf.Tensor3D => {
      const a = layerNorm(x, store.get(`${p}.layer_norm1.weight`), store.get(`${p}.layer_norm1.bias`)) as tf.Tensor3D;
      const h = tf.add(x, selfAttention(a, store, `${p}.self_attn`, { numHeads: v.num_heads }).out) as tf.Tensor3D;
      const m = layerNorm(h, store.get(`${p}.layer_norm2.weight`), store.get(`${p}.layer_norm2.bias`));
      return tf.add(h, linear(gelu(linear(m, store, `${p}.mlp.fc1`)), store, `${p}.mlp.fc2`)) as tf.Tensor3D;
    };
    if (!opts.release) x = layer(x);
    else {
      const input = x;
      x = tf.tidy(() => layer(input));
      input.dispose();
    }
  }
  return layerNorm(x, store.get("vision.post_layernorm.weight"), store.get("vision.post_layernorm.bias")) as tf.Tensor3D;
}

/** Vision features into the decoder's embedding space: [B, N, Hv] -> [B, N, D]. */
export function projectVision(vlm: Vlm, features: tf.Tensor3D): tf.Tensor3D {
  const h = gelu(linear(features, vlm.store, "multi_modal_projector.linear_1"));
  return linear(h, vlm.store, "multi_modal_projector.linear_2") as tf.Tensor3D;
}

/**
 * Decoder input embeddings: token embeddings with the N image-token positions (from
 * IMAGE_START) replaced by the projected image features. Written as a fixed placement matrix
 * product rather than a concat: concat's gradient is a JS split kernel that cost ~10% of a
 * training step, the product's gradient is two BLAS calls.
 */
export function embedWithImage(vlm: Vlm, ids: tf.Tensor2D, image: tf.Tensor3D): tf.Tensor3D {
  const t = ids.shape[1];
  const n = image.shape[1];
  const table = vlm.store.get("model.embed_tokens.weight") as tf.Tensor2D;
  const place = new Float32Array(t * n);
  const keep = new Float32Array(t).fill(1);
  for (let j = 0; j < n; j++) {
    place[(IMAGE_START + j) * n + j] = 1;
    keep[IMAGE_START + j] = 0;
  }
  const tokens = tf.mul(embed(ids, table), tf.tensor2d(keep, [t, 1]));
  const placed = tf.matMul(tf.tensor3d(place, [1, t, n]), image);
  return tf.add(tokens, placed) as tf.Tensor3D;
}

export type { DecoderOptions, DecoderOutput, KvCache } from "./decoder.js";

export function decoderForward(vlm: Vlm, inputs: tf.Tensor3D, opts: DecoderOptions = {}): DecoderOutput {
  return runDecoder(vlm.store, vlm.config.decoder, inputs, opts);
}

/** The alignment heads' tensor names (without .weight/.bias) in the model's head form. */
export function headNames(config: VlmConfig): { vtop1: string; vtop2: string; query: string; official: boolean } {
  const official = config.latent?.heads === "official";
  return official
    ? { vtop1: "v_top_head.mlp.0", vtop2: "v_top_head.mlp.2", query: "traj_head.query_proj", official }
    : { vtop1: "lavit.vtop_head.linear_1", vtop2: "lavit.vtop_head.linear_2", query: "lavit.traj_head.q_proj", official };
}

/** Whether a tensor belongs to the alignment heads (in either form): a base model has none. */
export function isHeadParam(name: string): boolean {
  return name.startsWith("lavit.") || name.startsWith("v_top_head.") || name.startsWith("traj_head.");
}

/** The V_top head: MLP d -> d -> GELU -> d_teacher, on latent hidden states [..., d]. */
export function vtopHead(vlm: Vlm, h: tf.Tensor): tf.Tensor {
  const n = headNames(vlm.config);
  return linear(gelu(linear(h, vlm.store, n.vtop1)), vlm.store, n.vtop2);
}

/**
 * The trajectory head: log-distribution over image tokens from latent states [B, K, d] and image
 * states [B, N, d]. lavit scales the scores by 1/sqrt(d) (as attention does); the official form does not.
 */
export function trajHeadLogits(vlm: Vlm, hLatent: tf.Tensor3D, hImage: tf.Tensor3D): tf.Tensor3D {
  const n = headNames(vlm.config);
  const q = linear(hLatent, vlm.store, n.query) as tf.Tensor3D;
  const dot = tf.matMul(q, hImage, false, true);
  const scores = n.official ? dot : tf.mul(dot, 1 / Math.sqrt(hLatent.shape[2]));
  return tf.logSoftmax(scores) as tf.Tensor3D;
}

export function lmLogits(vlm: Vlm, hidden: tf.Tensor): tf.Tensor {
  return linear(hidden, vlm.store, "lm_head");
}

/** The decoder's pass of a model without latents over image (the vision tower's features) + text: logits [batch, length, vocab]. */
export function forwardText(vlm: Vlm, ids: tf.Tensor2D, features: tf.Tensor3D): tf.Tensor3D {
  const { hidden } = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, features)));
  return lmLogits(vlm, hidden) as tf.Tensor3D;
}
