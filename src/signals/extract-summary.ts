import type { LayerSpec } from "../model/layer-spec.js";

/** What an extraction records (a module without tensors: the package's public types name these). */

export type SignalMethod = "attention" | "gradient";

/** Which query rows a step's attention map averages. */
export type QuerySpan = "step" | "prefix";
/** Where V_top is read: after the decoder's final norm, or the last layer's output before it (the public extractor). */
export type VtopLayer = "final" | "pre-norm";
/**
 * `lavit`: one backward pass per step (the NLL of all its words), min-max, softmax(/tau).
 * `official`: the public extractor's recipe: one map per answer token, softmax(|g| / tau) with no
 * min-max first, at most OFFICIAL_TOKENS_PER_STEP (gradient.ts) tokens, combined weighted by strength.
 */
export type GradientRecipe = "lavit" | "official";

/** Every setting the signals were made with, as summary.json records it (students check theirs against it). */
export interface ExtractionSettings {
  method: SignalMethod;
  topk: number;
  /** The gradient method's temperature (null for attention). */
  tau: number | null;
  /** Attention only (null for gradient). */
  layers: LayerSpec | null;
  layers_used: number[] | null;
  queries: QuerySpan | null;
  /** Gradient only (null for attention). */
  gradient_recipe: GradientRecipe | null;
  vtop_layer: VtopLayer;
  only_correct: boolean;
}

export interface ExtractSummary extends ExtractionSettings {
  count: number;
  /** Samples the teacher ran on (count is fewer with only_correct). */
  samples_total: number;
  split: string;
  grid: number;
  v_top_width: number;
  mean_steps: number;
  /** Mean fraction of each step's (sum-normalised) map on that step's ground-truth patches (over steps whose region is known; null: none is, as in an imported set without boxes). */
  grounding_mass: number | null;
  /** Same, uniform map: the floor grounding_mass is compared against. */
  grounding_mass_uniform: number | null;
  /** grounding_mass per question family (steps of that family's samples). */
  grounding_mass_by_family: Record<string, number>;
  /** Over every sample the teacher ran on. */
  teacher_accuracy: number;
}
