import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { promptIds, splitSteps } from "../model/sequence.js";

/** A model's own output, laid out for reading its attention back. */
export interface ReadoutRow {
  index: number;
  ids: number[];
  promptLength: number;
  /** The generated words and each rationale step's span of them. */
  words: string[];
  spans: { start: number; end: number }[];
  /** Per rationale step, the positions whose outputs are the step's words. */
  stepPositions: number[][];
}

/** The generated words and each rationale step's span of them. */
export function stepSpans(generated: string): { words: string[]; spans: { start: number; end: number }[] } {
  const words = generated.split(" ").filter(Boolean);
  const spans = splitSteps(words);
  // A malformed generation still gets one step: everything it wrote.
  return { words, spans: spans.length ? spans : [{ start: 0, end: Math.max(1, words.length) }] };
}

export function readoutRows(tok: Tokenizer, data: LoadedSplit, generated: readonly string[], numPatches: number): ReadoutRow[] {
  return data.samples.map((s, index) => {
    const prompt = promptIds(tok, numPatches, s.question);
    const { words, spans } = stepSpans(generated[index]);
    const ids = [...prompt, ...tok.encode(words.join(" "), "generated text")];
    const stepPositions = spans.map(({ start, end }) => Array.from({ length: end - start }, (_, k) => prompt.length - 1 + start + k));
    return { index, ids, promptLength: prompt.length, words, spans, stepPositions };
  });
}

/** Mean attention over the image tokens of the tokens in [start, end) (per-token rows from `generate`). */
export function spanAttention(tokenAttention: readonly Float32Array[], span: { start: number; end: number }, n: number): Float32Array {
  const raw = new Float32Array(n);
  const end = Math.min(span.end, tokenAttention.length);
  for (let w = span.start; w < end; w++) for (let j = 0; j < n; j++) raw[j] += tokenAttention[w][j] / (end - span.start);
  return raw;
}

/**
 * Where a model looks while it writes each rationale step: per step, the attention from the
 * positions that produced the step's words to the image, averaged over layers and heads (read
 * during generation), normalised to sum 1.
 */
export function gazeMaps(generated: string, tokenAttention: readonly Float32Array[], n: number): Float32Array[] {
  return stepSpans(generated).spans.map((span) => {
    const m = spanAttention(tokenAttention, span, n);
    const s = m.reduce((a, b) => a + b, 0);
    return s > 0 ? m.map((v) => v / s) : m.fill(1 / n);
  });
}
