/** What the answer probes report (a module without tensors: the package's public types name these). */

/** Probes of whether the answer reads the latent thoughts. */
export const ANSWER_PROBES = ["swap", "steer"] as const;
export type AnswerProbe = (typeof ANSWER_PROBES)[number];

export interface AnswerProbes {
  swap?: SwapProbe;
  steer?: SteerProbe;
}

export interface SwapFractions {
  /** Share of the pairs whose answer is A's (the image the latents saw). */
  follow_a: number;
  /** ... is B's (the image the text saw). */
  follow_b: number;
  neither: number;
}

export interface SwapProbe extends SwapFractions {
  pairs: number;
  /** The same probe with the latents hidden from the text: what an answer that ignores the thoughts does. */
  constant: SwapFractions;
}

export interface SteerFractions {
  /** Share of the steered samples whose answer differs from the model's unsteered answer. */
  changed: number;
  /** ... whose answer changed to the other object's. */
  to_other: number;
}

export interface SteerProbe extends SteerFractions {
  /** Samples steered (those whose question has an answer about another object). */
  samples: number;
  /** Samples left out: their question has no answer about another object. */
  skipped: number;
  /** The same probe with the latents hidden from the text. */
  constant: SteerFractions;
}
