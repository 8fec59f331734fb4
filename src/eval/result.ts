import type { GazeMetrics } from "./gap.js";

/** What an evaluation reports (a module without tensors: the package's public types name these). */

export interface Prediction {
  id: string;
  /** Absent for an imported sample without one. */
  family?: string;
  template?: string;
  pair?: string;
  answer: string;
  predicted: string | null;
  correct: boolean;
  /** Everything the model generated after the prompt. */
  generated: string;
}

export interface GroupAccuracy {
  count: number;
  accuracy: number;
  pair_accuracy?: number;
  /** Over the yes/no questions: the share the model answered "yes", and the share whose answer is "yes" (a model can gain accuracy on a split by a bias alone). */
  yes_rate?: number;
  yes_truth?: number;
}

export interface EvalResult extends GroupAccuracy {
  split: string;
  families: Record<string, GroupAccuracy>;
}

export interface ForcedAccuracy {
  count: number;
  /** The answer word is the model's top prediction after the true rationale. */
  answer_accuracy: number;
  /** Share of the true rationale's tokens (up to and including "answer", which closes it) that are the model's top prediction, each given the true tokens before it. */
  rationale_token_accuracy: number;
  /** Share of the rationale's steps whose tokens are all the model's top predictions (each step ends at its ";"). */
  step_accuracy: number;
  /** The same for the last step alone (for spatial and depth questions, where the first object lies). */
  last_step_accuracy: number;
  /** Step accuracy by the step's place in the rationale (first, second, ...), over the samples that have that step. */
  step_accuracy_by_index: number[];
}

export interface ForcedResult extends ForcedAccuracy {
  split: string;
  families: Record<string, ForcedAccuracy>;
}

export interface HeadAccuracy {
  /** Over every patch, background ("none") included. */
  accuracy: number;
  /** Over the patches with a label (an object there, or one hidden there): what the head is for. */
  labelled_accuracy: number;
  labelled_patches: number;
  /** Share of labelled patches the head calls empty. */
  said_none: number;
  /** Share of unlabelled patches the head gives a label. */
  false_positive: number;
}

export interface VisionHeadsResult {
  split: string;
  count: number;
  heads: Record<string, HeadAccuracy>;
}

/** The two read-outs of where latent thoughts look: the trajectory head's map, and the latents' own attention. */
export const THOUGHTS_READOUTS = ["head", "attention"] as const;
export type ThoughtsReadout = (typeof THOUGHTS_READOUTS)[number];

/**
 * Where a model's latent thoughts look, each read-out under its own key: `thoughts_head` only
 * when the trajectory head was trained, `thoughts_attention` for every model with latents.
 */
export type ThoughtsMetrics = { thoughts_head?: GazeMetrics; thoughts_attention?: GazeMetrics };
