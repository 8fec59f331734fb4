import { scoped, tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { promptIds, splitSteps } from "../model/sequence.js";
import { decoderForward, embedWithImage, IMAGE_START, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { patchBatch } from "../train/batch.js";

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

export function readoutRows(tok: Tokenizer, data: LoadedSplit, generated: readonly string[], numPatches: number, latents: number): ReadoutRow[] {
  return data.samples.map((s, index) => {
    const prompt = promptIds(tok, numPatches, s.question, latents);
    const words = generated[index].split(" ").filter(Boolean);
    const ids = [...prompt, ...tok.encode(words.join(" "), "generated text")];
    let spans = splitSteps(words);
    // A malformed generation still gets one step: everything it wrote.
    if (!spans.length) spans = [{ start: 0, end: Math.max(1, words.length) }];
    const stepPositions = spans.map(({ start, end }) => Array.from({ length: end - start }, (_, k) => prompt.length - 1 + start + k));
    return { index, ids, promptLength: prompt.length, words, spans, stepPositions };
  });
}

export interface ReadoutBatch {
  rows: readonly ReadoutRow[];
  length: number;
  /** [b, t, n]: attention to the image tokens, averaged over layers and heads (when asked). */
  attention: Float32Array | null;
  /** [b, n, d]: last-layer hidden states at the image positions. */
  imageHidden: Float32Array;
  width: number;
  patches: tf.Tensor3D;
  ids: tf.Tensor2D;
}

/** Teacher-forced passes over the rows in batches; the tensors handed out live for the callback only. */
export function forEachReadout(vlm: Vlm, data: LoadedSplit, rows: readonly ReadoutRow[], pad: number, attention: boolean, batchSize: number, fn: (b: ReadoutBatch) => void): void {
  const n = numPatches(vlm.config.vision);
  for (let s = 0; s < rows.length; s += batchSize) {
    const chunk = rows.slice(s, s + batchSize);
    const b = chunk.length;
    const t = Math.max(...chunk.map((r) => r.ids.length));
    const idsFlat = new Int32Array(b * t).fill(pad);
    chunk.forEach((r, i) => idsFlat.set(r.ids, i * t));
    const patches = patchBatch(chunk.map((r) => data.images[r.index]), data.info.size, data.info.patch);
    const ids = tf.tensor2d(idsFlat, [b, t], "int32");
    const read = scoped(() => {
      const out = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), { returnProbs: attention });
      const v = tf.slice(out.hidden, [0, IMAGE_START, 0], [b, n, -1]);
      const a = out.probs ? tf.mean(tf.stack(out.probs.map((p) => tf.mean(tf.slice(p, [0, 0, 0, IMAGE_START], [b, -1, -1, n]), 1))), 0) : null;
      return { attention: a ? Float32Array.from(a.dataSync() as Float32Array) : null, imageHidden: Float32Array.from(v.dataSync() as Float32Array), width: v.shape[2] };
    });
    try {
      fn({ rows: chunk, length: t, ...read, patches, ids });
    } finally {
      tf.dispose([patches, ids]);
    }
  }
}

/** Mean attention of the given query positions of row i of a batch, over the n image tokens. */
export function stepMap(batch: ReadoutBatch, i: number, positions: readonly number[], n: number): Float32Array {
  const raw = new Float32Array(n);
  const a = batch.attention!;
  for (const q of positions) for (let j = 0; j < n; j++) raw[j] += a[(i * batch.length + q) * n + j] / positions.length;
  return raw;
}

/**
 * Where a model looks while it writes each rationale step: per sample, one map per step
 * (attention from the step's positions to the image, averaged over layers and heads,
 * normalised to sum 1).
 */
export function gazeMaps(vlm: Vlm, tok: Tokenizer, data: LoadedSplit, generated: readonly string[], latents: number, batchSize = 16): Float32Array[][] {
  const n = numPatches(vlm.config.vision);
  const rows = readoutRows(tok, data, generated, n, latents);
  const out: Float32Array[][] = new Array(rows.length);
  forEachReadout(vlm, data, rows, tok.id("<pad>"), true, batchSize, (batch) => {
    batch.rows.forEach((r, i) => {
      out[r.index] = r.stepPositions.map((pos) => {
        const m = stepMap(batch, i, pos, n);
        const s = m.reduce((a, b) => a + b, 0);
        return s > 0 ? m.map((v) => v / s) : m.fill(1 / n);
      });
    });
  });
  return out;
}
