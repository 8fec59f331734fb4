import { parseAnswer } from "../model/sequence.js";

/**
 * What a student is trained to write. `full` is the teacher's text as generated. `no-coords`
 * drops the grid column and row each `look` step gives its object ("look red circle 3 6" →
 * "look red circle"): the teacher's words then say what it looked at but not where, as a real
 * teacher's free-form rationale does, so where it looked reaches a student only through its
 * attention trajectory. On the built-in benchmark the coordinates spell the trajectory out in
 * words; this asks whether the trajectory loss helps once they do not (docs/results.md, "Ablations").
 */
export const TARGET_TEXTS = ["full", "no-coords"] as const;
export type TargetText = (typeof TARGET_TEXTS)[number];

const GRID_NUMBER = /^\d+$/;

export function studentTargetText(text: string, mode: TargetText): string {
  if (mode === "full") return text;
  return text
    .split(";")
    .map((step) => {
      const words = step.trim().split(/\s+/);
      return words[0] === "look" ? words.filter((w) => !GRID_NUMBER.test(w)).join(" ") : words.join(" ");
    })
    .join(" ; ");
}

/**
 * How a dataset writes its answers: lavit's "... ; answer X" (eval reads the word after
 * `answer`), or free text scored whole.
 */
export type { AnswerFormat } from "../data/manifest.js";
import type { AnswerFormat } from "../data/manifest.js";

/**
 * The text a student learns from a signals result, in its dataset's answer format, so that eval
 * scores what the student was trained to write. The official builder's `ground_truth_enriched`
 * is the bare answer: for a lavit-format dataset a text without `answer X` becomes
 * `answer <the manifest's answer>`; a text that has it (lavit's teachers write it) is kept, as
 * is any text of a free-format dataset.
 */
export function answerTarget(text: string, answer: string, format: AnswerFormat): string {
  if (format === "free" || parseAnswer(text) !== null) return text;
  return `answer ${answer}`;
}
