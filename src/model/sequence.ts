import type { Tokenizer } from "../data/tokenizer.js";

/**
 * Token ids of the prompt: <bos> <vision_start> <image>*N <vision_end> question, then the K
 * latent tokens <lvr1>..<lvrK> when the model thinks before answering.
 */
export function promptIds(tok: Tokenizer, numPatches: number, question: string, latents = 0): number[] {
  const ids = [tok.id("<bos>"), tok.id("<vision_start>")];
  const image = tok.id("<image>");
  for (let i = 0; i < numPatches; i++) ids.push(image);
  ids.push(tok.id("<vision_end>"), ...tok.encode(question, "question"));
  for (let k = 1; k <= latents; k++) ids.push(tok.id(`<lvr${k}>`));
  return ids;
}

/** The sample whose prompt and target together are longest (the one to check against max_positions). */
export function longestSequence(prompts: readonly number[][], targets: readonly number[][]): { index: number; length: number } {
  let best = { index: 0, length: 0 };
  prompts.forEach((p, i) => {
    // Inputs are the prompt and the target without its last token.
    const length = p.length + targets[i].length - 1;
    if (length > best.length) best = { index: i, length };
  });
  return best;
}

/** Target ids: the generated text (rationale ; answer X) followed by <eos>. */
export function targetIds(tok: Tokenizer, text: string): number[] {
  return [...tok.encode(text, "target"), tok.id("<eos>")];
}

/**
 * The answer inside generated text "look ... ; answer X": the word after the last "answer".
 * Null when the model never said "answer" (counted wrong).
 */
export function parseAnswer(text: string): string | null {
  const words = text.trim().split(/\s+/);
  const i = words.lastIndexOf("answer");
  return i >= 0 && i + 1 < words.length && words[i + 1] !== "<eos>" ? words[i + 1] : null;
}

/** The rationale steps of generated text: the segments before "answer", split at ";". */
export function splitSteps(words: readonly string[]): { start: number; end: number }[] {
  const steps: { start: number; end: number }[] = [];
  let start = 0;
  for (let i = 0; i <= words.length; i++) {
    const w = words[i];
    if (i === words.length || w === ";" || w === "answer" || w === "<eos>") {
      if (i > start && words[start] === "look") steps.push({ start, end: i });
      if (w === "answer" || w === "<eos>") break;
      start = i + 1;
    }
  }
  return steps;
}

/**
 * Which trajectory step latent k reconstructs when the teacher wrote T steps and the student
 * has K latents: step floor(k * T / K). K = T is one-to-one; K > T repeats steps in order
 * (K = 4, T = 2: 0, 0, 1, 1); K < T keeps evenly spaced steps (K = 1: step 0, the public code).
 */
export function stepForLatent(k: number, latents: number, steps: number): number {
  return Math.min(steps - 1, Math.floor((k * steps) / latents));
}
