import { z } from "zod";
import { UserError } from "../errors.js";
import { checkJson, readJsonValue } from "../util/json.js";
import { checkModelFits } from "../util/limits.js";

/** Far beyond any model lavit can train on a CPU; a guard against a typo such as 1e6. */
const MAX_LAYERS = 1024;

/**
 * The vision-language model family shared by teacher and student (Qwen2-VL shape, scaled
 * down): a ViT encoder over image patches, an MLP projector into the decoder width and a
 * causal decoder. A student adds K latent thought tokens and the two alignment heads.
 */
export const visionConfigSchema = z
  .object({
    image_size: z.number().int().positive(),
    patch_size: z.number().int().positive(),
    channels: z.number().int().positive().default(3),
    hidden_size: z.number().int().positive(),
    num_layers: z.number().int().min(1, "a vision tower needs at least one layer").max(MAX_LAYERS),
    num_heads: z.number().int().positive(),
    mlp_size: z.number().int().positive(),
  })
  .strict()
  .refine((v) => v.image_size % v.patch_size === 0, { message: "image_size must be divisible by patch_size", path: ["patch_size"] })
  .refine((v) => v.hidden_size % v.num_heads === 0, { message: "hidden_size must be divisible by num_heads", path: ["num_heads"] });

export const decoderConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    num_layers: z.number().int().min(1, "a decoder needs at least one layer").max(MAX_LAYERS),
    num_heads: z.number().int().positive(),
    num_kv_heads: z.number().int().positive().optional(),
    ffn_size: z.number().int().positive(),
    max_positions: z.number().int().positive(),
    // Rotary frequencies base^(-2i/d) must fall with i: a base <= 1 gives no positions at all.
    rope_base: z
      .number()
      .gt(1, "rope_base must be > 1 (models use 1e4 to 1e7)")
      .max(1e9, "rope_base must be at most 1e9 (models use 1e4 to 1e7)")
      .default(10000),
    // An eps near a unit activation's mean square swamps it; one that is 0 in float32 divides by 0.
    rms_eps: z
      .number()
      .min(1e-12, "rms_eps must be at least 1e-12 (models use 1e-6 to 1e-5)")
      .max(1e-2, "rms_eps must be at most 0.01 (models use 1e-6 to 1e-5)")
      .default(1e-6),
  })
  .strict()
  .refine((d) => d.hidden_size % d.num_heads === 0, { message: "hidden_size must be divisible by num_heads", path: ["num_heads"] })
  .refine((d) => (d.hidden_size / d.num_heads) % 2 === 0, { message: "head size must be even for rotary positions", path: ["num_heads"] })
  .refine((d) => d.num_heads % (d.num_kv_heads ?? d.num_heads) === 0, {
    message: "num_heads must be a multiple of num_kv_heads",
    path: ["num_kv_heads"],
  });

export const latentConfigSchema = z
  .object({
    /** Number of latent visual-thought tokens <lvr1>..<lvrK> between question and answer. */
    num_latents: z.number().int().min(0).max(8),
    /** Width of the teacher's V_top states the V_top head predicts. */
    teacher_hidden_size: z.number().int().positive(),
    /**
     * The alignment heads' form: lavit's (`lavit.vtop_head.linear_{1,2}`, an unbiased query
     * scaled by 1/sqrt(d)) or the public code's (`v_top_head.mlp.{0,2}`, `traj_head.query_proj`
     * with a bias, no scale). Absent means lavit.
     */
    heads: z.enum(["lavit", "official"]).optional(),
    /**
     * Trained with a gate that never opens: at inference too, the generated text (and with
     * `prompt`, the question) cannot attend to the image; only the latents see it.
     */
    closed_gate: z.object({ prompt: z.boolean() }).strict().optional(),
  })
  .strict();

export const vlmConfigSchema = z
  .object({
    model_type: z.literal("lavit-vlm"),
    vision: visionConfigSchema,
    decoder: decoderConfigSchema,
    /** Present on LaViT students only. */
    latent: latentConfigSchema.optional(),
  })
  .strict();

export type VisionConfig = z.infer<typeof visionConfigSchema>;
export type DecoderConfig = z.infer<typeof decoderConfigSchema>;
export type VlmConfig = z.infer<typeof vlmConfigSchema>;

export function numPatches(v: VisionConfig): number {
  const side = v.image_size / v.patch_size;
  return side * side;
}

/**
 * Refuses a sequence longer than the decoder's max_positions, the length a model is made and
 * trained for. Rotary embeddings would compute positions past it, but the model never saw them
 * in training, so its output there is not to be trusted.
 */
export function checkPositions(config: VlmConfig, length: number, what: string): void {
  const max = config.decoder.max_positions;
  if (length > max)
    throw new UserError(
      `${what} takes ${length} positions, more than the model's decoder.max_positions ${max} (its config.json): shorten it, use fewer latent tokens, or give a model made with a larger max_positions`,
    );
}

export function parseVlmConfig(value: unknown, source: string): VlmConfig {
  const config = checkJson(value, vlmConfigSchema, source);
  // Widths such as hidden_size 1e9 pass the schema but cannot be built: refuse them here, with
  // an estimate, instead of failing deep inside an allocation.
  checkModelFits(config, { training: false, batch: 1 }, source);
  return config;
}

export function readVlmConfig(path: string): VlmConfig {
  return parseVlmConfig(readJsonValue(path, { what: "model config" }), path);
}
