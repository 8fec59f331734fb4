import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import type { Vlm } from "../model/vlm.js";
import { steerProbe } from "./steer.js";
import { swapProbe } from "./swap.js";
import type { AnswerProbe, AnswerProbes } from "./probe-results.js";

export { ANSWER_PROBES, type AnswerProbe, type AnswerProbes } from "./probe-results.js";

/** Runs the asked probes on a model with `latents` latent tokens (the caller refuses a model without). */
export function answerProbes(
  vlm: Vlm,
  tok: Tokenizer,
  data: LoadedSplit,
  latents: number,
  probes: readonly AnswerProbe[],
  o: { seed: number; batchSize?: number; quiet?: boolean },
): AnswerProbes {
  const out: AnswerProbes = {};
  if (probes.includes("swap")) out.swap = swapProbe(vlm, tok, data, latents, o);
  if (probes.includes("steer")) out.steer = steerProbe(vlm, tok, data, latents, o);
  return out;
}
