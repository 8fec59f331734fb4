export interface TextBatch {
  /** [B, T] inputs (prompt + target without its last token), right-padded. */
  ids: Int32Array;
  /** [B * T] next-token labels. */
  labels: Int32Array;
  /** [B * T] 1 where the label is a target token (never the prompt, never padding). */
  weights: Float32Array;
  batch: number;
  length: number;
  promptLengths: number[];
}

/**
 * Teacher-forcing batch. Right padding needs no padding mask: with a causal mask, real
 * positions never see the padding after them, and padded positions carry zero loss weight.
 */
export function makeTextBatch(prompts: readonly number[][], targets: readonly number[][], pad: number): TextBatch {
  const b = prompts.length;
  const length = Math.max(...prompts.map((p, i) => p.length + targets[i].length - 1));
  const ids = new Int32Array(b * length).fill(pad);
  const labels = new Int32Array(b * length).fill(pad);
  const weights = new Float32Array(b * length);
  for (let i = 0; i < b; i++) {
    const seq = [...prompts[i], ...targets[i]];
    for (let j = 0; j < seq.length - 1; j++) {
      ids[i * length + j] = seq[j];
      labels[i * length + j] = seq[j + 1];
      if (j >= prompts[i].length - 1) weights[i * length + j] = 1;
    }
  }
  return { ids, labels, weights, batch: b, length, promptLengths: prompts.map((p) => p.length) };
}
