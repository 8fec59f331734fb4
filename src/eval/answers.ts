import type { AnswerFormat } from "../data/manifest.js";
import { parseAnswer } from "../model/sequence.js";

const ARTICLES = new Set(["a", "an", "the"]);
const NUMBER_WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
  "twenty",
];
const NUMBERS = new Map(NUMBER_WORDS.map((w, i) => [w, String(i)]));

/**
 * An answer as compared in the free format: lowercased, punctuation dropped, articles
 * dropped, number words as digits ("Two apples." and "2 apples" are the same answer).
 */
export function normaliseAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s.]|(?<!\d)\.|\.(?!\d)/gu, " ")
    .split(/\s+/)
    .filter((w) => w && !ARTICLES.has(w))
    .map((w) => NUMBERS.get(w) ?? w)
    .join(" ");
}

/**
 * The answer in generated text, free format: everything after the rationale, that is after
 * the "answer" marker that follows the last step ("look ... ; answer two apples"), or, when
 * the model wrote no marker, after the last ";" (a target without the wrapper). Null when
 * nothing is left.
 */
export function freeAnswer(text: string): string | null {
  const words = text.trim().split(/\s+/);
  const eos = words.indexOf("<eos>");
  const body = eos >= 0 ? words.slice(0, eos) : words;
  const lastStep = body.lastIndexOf(";");
  const marker = body.indexOf("answer", lastStep + 1);
  const rest = body.slice(marker >= 0 ? marker + 1 : lastStep + 1).filter((w) => !/^<lvr\d+>$/.test(w));
  return rest.length ? rest.join(" ") : null;
}

/** The answer a model gave, and whether it is right, in a dataset's answer format. */
export function scoreAnswer(generated: string, reference: string, format: AnswerFormat): { predicted: string | null; correct: boolean } {
  if (format === "lavit") {
    const predicted = parseAnswer(generated);
    return { predicted, correct: predicted === reference };
  }
  const predicted = freeAnswer(generated);
  return { predicted, correct: predicted !== null && normaliseAnswer(predicted) === normaliseAnswer(reference) };
}
