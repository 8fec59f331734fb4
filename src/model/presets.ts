import type { VlmConfig } from "./config.js";

/**
 * Default sizes. The teacher is as small as still reaches the accuracy targets on the
 * built-in benchmark in minutes on two cores; students have its vision tower and a narrower,
 * shallower decoder.
 */
export function teacherConfig(vocab: number, imageSize: number, patch: number): VlmConfig {
  const n = (imageSize / patch) ** 2;
  return {
    model_type: "lavit-vlm",
    vision: { image_size: imageSize, patch_size: patch, channels: 3, hidden_size: 128, num_layers: 3, num_heads: 4, mlp_size: 256 },
    decoder: { vocab_size: vocab, hidden_size: 128, num_layers: 4, num_heads: 4, ffn_size: 384, max_positions: n + 64, rope_base: 10000, rms_eps: 1e-6 },
  };
}

/** A student without latent tokens: the stage that trains a LaViT student adds them (with the teacher's width) itself. */
export function studentConfig(vocab: number, imageSize: number, patch: number): VlmConfig {
  const n = (imageSize / patch) ** 2;
  return {
    model_type: "lavit-vlm",
    // The teacher's vision size: students differ in the language model, as the sizes of one
    // VLM family share a vision encoder design (a ViT 2 x 64 tower named half the shapes
    // after 4,000 base steps; this one, started from the teacher's, names 99%).
    vision: { image_size: imageSize, patch_size: patch, channels: 3, hidden_size: 128, num_layers: 3, num_heads: 4, mlp_size: 256 },
    decoder: { vocab_size: vocab, hidden_size: 96, num_layers: 3, num_heads: 4, ffn_size: 256, max_positions: n + 64, rope_base: 10000, rms_eps: 1e-6 },
  };
}

/**
 * A model small enough to train in milliseconds, for the `--quick` variant of a recipe, which
 * checks the machinery (phases, starts, resume) and not the method. Teacher and base share
 * the vision tower's size, as the built-in sizes do, so a base phase can take a teacher's.
 */
export function quickConfig(stage: "teacher" | "base", vocab: number, imageSize: number, patch: number): VlmConfig {
  const n = (imageSize / patch) ** 2;
  const hidden = stage === "teacher" ? 24 : 16;
  return {
    model_type: "lavit-vlm",
    vision: { image_size: imageSize, patch_size: patch, channels: 3, hidden_size: 16, num_layers: 1, num_heads: 2, mlp_size: 32 },
    decoder: {
      vocab_size: vocab,
      hidden_size: hidden,
      num_layers: stage === "teacher" ? 2 : 1,
      num_heads: 2,
      ffn_size: 32,
      max_positions: n + 64,
      rope_base: 10000,
      rms_eps: 1e-6,
    },
  };
}
