import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import { decoderForward, embedWithImage, IMAGE_START, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { imageAttentionAllRows } from "../model/readout.js";
import { patchBatch } from "../model/vlm.js";
import type { ReadoutRow } from "../eval/gaze.js";
import type { QuerySpan, VtopLayer } from "./extract-summary.js";

export type { QuerySpan, VtopLayer } from "./extract-summary.js";

export interface ForcedReadout {
  /** Per row, [T * n]: every position's attention to the image (selected layers, mean over heads); absent when not asked. */
  attention?: Float32Array[];
  /** Per row, [n * d]: the hidden states at the image positions. */
  vTop: Float32Array[];
}

/**
 * A teacher-forced pass over the teacher's own output (causal attention gives the same rows as
 * reading them while generating), for the read-outs generation does not give: a subset of
 * layers, other query rows, V_top before the final norm.
 */
export function forcedReadout(
  vlm: Vlm,
  data: LoadedSplit,
  rows: readonly ReadoutRow[],
  opts: { layers: readonly number[] | null; vtopLayer: VtopLayer; pad: number },
): ForcedReadout {
  const n = (data.info.size / data.info.patch) ** 2;
  const b = rows.length;
  const t = Math.max(...rows.map((r) => r.ids.length));
  const idsFlat = new Int32Array(b * t).fill(opts.pad);
  rows.forEach((r, i) => idsFlat.set(r.ids, i * t));
  const { att, hid } = tf.tidy((): { hid: tf.Tensor; att?: tf.Tensor } => {
    const ids = tf.tensor2d(idsFlat, [b, t], "int32");
    const patches = patchBatch(
      rows.map((r) => data.images[r.index]),
      data.info.size,
      data.info.patch,
    );
    const dec = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), {
      returnProbs: !!opts.layers,
      returnLayerHidden: opts.vtopLayer === "pre-norm",
    });
    const states = opts.vtopLayer === "pre-norm" ? dec.layerHidden![dec.layerHidden!.length - 1] : dec.hidden;
    const v = tf.slice(states, [0, IMAGE_START, 0], [b, n, -1]);
    return opts.layers ? { hid: v, att: imageAttentionAllRows(dec.probs!, opts.layers, n) } : { hid: v };
  });
  const d = hid.shape[2] as number;
  const hv = hid.dataSync() as Float32Array;
  const vTop = rows.map((_, i) => hv.slice(i * n * d, (i + 1) * n * d));
  let attention: Float32Array[] | undefined;
  if (att) {
    const av = att.dataSync() as Float32Array;
    attention = rows.map((_, i) => av.slice(i * t * n, (i + 1) * t * n));
  }
  tf.dispose(att ? [att, hid] : [hid]);
  return { attention, vTop };
}

/** The query rows of rationale step k: the positions that produced its words, or every position from the image's end to its last word. */
export function stepQueryRows(row: ReadoutRow, k: number, queries: QuerySpan, n: number): number[] {
  if (queries === "step") return row.stepPositions[k];
  const end = Math.min(row.promptLength + row.spans[k].end, row.ids.length);
  return Array.from({ length: Math.max(0, end - (IMAGE_START + n)) }, (_, j) => IMAGE_START + n + j);
}

/** Mean of the given rows of a [T * n] attention block. */
export function meanRows(attention: Float32Array, rows: readonly number[], n: number): Float32Array {
  const out = new Float32Array(n);
  for (const r of rows) for (let j = 0; j < n; j++) out[j] += attention[r * n + j] / rows.length;
  return out;
}
