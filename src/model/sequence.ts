import { readFileSync } from "node:fs";
import type { Tokenizer } from "../data/tokenizer.js";
import type { LoadedSplit } from "../data/dataset.js";
import { manifestPath } from "../data/manifest.js";
import { UserError } from "../errors.js";
import { numPatches, type VlmConfig } from "./config.js";

/**
 * Token ids of the prompt: <bos> <vision_start> <image>*N <vision_end> question, then the K
 * latent tokens <lvr1>..<lvrK> when the model thinks before answering.
 */
export function promptIds(tok: Tokenizer, numPatches: number, question: string, latents = 0): number[] {
  const ids = [tok.id("<bos>"), tok.id("<vision_start>")];
  const image = tok.id("<image>");
  for (let i = 0; i < numPatches; i++) ids.push(image);
  ids.push(tok.id("<vision_end>"));
  // A loop, not push(...words): spreading a million-word question overflows the call stack.
  for (const w of tok.encode(question, "question")) ids.push(w);
  for (let k = 1; k <= latents; k++) ids.push(tok.id(`<lvr${k}>`));
  return ids;
}

/**
 * The sample whose prompt and target together are longest (the one to check against
 * max_positions). The ids are asked for one sample at a time, so a task that makes them per
 * batch need not hold every sample's at once.
 */
export function longestSequence(
  count: number,
  promptOf: (i: number) => readonly number[],
  targetOf: (i: number) => readonly number[],
): { index: number; length: number } {
  let best = { index: 0, length: 0 };
  for (let i = 0; i < count; i++) {
    // Inputs are the prompt and the target without its last token.
    const length = promptOf(i).length + targetOf(i).length - 1;
    if (length > best.length) best = { index: i, length };
  }
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

/** The words Tokenizer.encode splits `text` into, counted without building them (a question may be megabytes). */
export function wordCount(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Whitespace as /\s/ matches it in the ASCII and Latin-1 range; wider spaces count as letters (encode refuses them anyway).
    const space =
      c === 32 ||
      (c >= 9 && c <= 13) ||
      c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/** Why a question's prompt (image patches, question, latents) exceeds decoder.max_positions, or null when it fits. */
function overflow(config: VlmConfig, question: string, latents: number): string | null {
  const words = wordCount(question);
  const n = numPatches(config.vision);
  const length = 3 + n + words + latents;
  const max = config.decoder.max_positions;
  if (length <= max) return null;
  return `the question is ${words} words long; with ${n} image patches${latents ? ` and ${latents} latents` : ""} its prompt takes ${length} positions, more than the model's decoder.max_positions ${max}`;
}

/** Refuses, before it is encoded, a question too long for the model; `where` names it (e.g. the flag it came from). */
export function checkQuestionFits(config: VlmConfig, question: string, latents: number, where: string): void {
  const why = overflow(config, question, latents);
  if (why) throw new UserError(`${where}: ${why}`);
}

/** checkQuestionFits for every sample of a split, naming the manifest's file and line of the first too long. */
export function checkSplitQuestions(config: VlmConfig, data: Pick<LoadedSplit, "dir" | "split" | "samples">, latents: number): void {
  for (const [i, s] of data.samples.entries()) {
    const why = overflow(config, s.question, latents);
    if (!why) continue;
    const file = manifestPath(data.dir, data.split);
    throw new UserError(`${file}:${manifestLine(file, i)}: ${why}`);
  }
}

/** The line (1-based) of a manifest's i-th sample: blank lines are skipped when it is read. */
function manifestLine(file: string, index: number): string {
  try {
    const lines = readFileSync(file, "utf8").split("\n");
    let seen = -1;
    for (let l = 0; l < lines.length; l++) if (lines[l].trim() && ++seen === index) return String(l + 1);
  } catch {
    // the file changed or went: the sample's place is all there is
  }
  return `sample ${index + 1}`;
}

/**
 * Which trajectory step latent k reconstructs when the teacher wrote T steps and the student
 * has K latents: step floor(k * T / K). K = T is one-to-one; K > T repeats steps in order
 * (K = 4, T = 2: 0, 0, 1, 1); K < T keeps evenly spaced steps (K = 1: step 0, the public code).
 */
export function stepForLatent(k: number, latents: number, steps: number): number {
  return Math.min(steps - 1, Math.floor((k * steps) / latents));
}
