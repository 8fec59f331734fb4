import type { TextBatch } from "../model/text-batch.js";

/** Multiplies the loss weight of each sequence's answer word (the label right after "answer"). */
export function weighAnswers(batch: TextBatch, answerWord: number, weight = 1): void {
  if (weight === 1) return;
  for (let i = 0; i < batch.labels.length - 1; i++) if (batch.labels[i] === answerWord && batch.weights[i + 1] > 0) batch.weights[i + 1] *= weight;
}
