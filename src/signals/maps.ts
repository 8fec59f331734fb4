import type { Sample } from "../data/manifest.js";
import { resizeGrid } from "./grid.js";

// Per-step maps over the image patches (a teacher's signals, a model's gaze): normalisations,
// top-k, and grounding mass.

/** Min-max normalisation to [0, 1]; a constant map becomes all ones. */
export function minMax(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const out = new Float32Array(v.length);
  const span = hi - lo;
  for (let i = 0; i < v.length; i++) out[i] = span > 0 ? (v[i] - lo) / span : 1;
  return out;
}

/** Softmax at temperature tau. */
export function softmaxTemp(v: Float32Array, tau: number): Float32Array {
  let hi = -Infinity;
  for (const x of v) hi = Math.max(hi, x);
  const out = new Float32Array(v.length);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += out[i] = Math.exp((v[i] - hi) / tau);
  for (let i = 0; i < v.length; i++) out[i] /= s;
  return out;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topkIndices(p: ArrayLike<number>, k: number): number[] {
  return [...Array(p.length).keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
}

/**
 * The patches step t of a sample is scored against, each once: the step's ground truth, or,
 * for a step past the end of the sample's rationale (a model may write more steps), every
 * patch of the rationale.
 */
export function stepPatches(sample: Pick<Sample, "rationale" | "evidence">, t: number): number[] {
  // No rationale (an imported sample): one step, the answer's, looking at its evidence if known.
  if (!sample.rationale.length) return [...new Set(sample.evidence ?? [])];
  return [...new Set(sample.rationale[t]?.patches ?? sample.rationale.flatMap((r) => r.patches))];
}

/**
 * Grounding mass: the share of a map's mass on a set of patches, relative to `total` (by
 * default the map's sum; a caller whose maps are distributions passes 1). 0 for an empty map.
 */
export function massOn(p: ArrayLike<number>, patches: readonly number[], total = sum(p)): number {
  if (total <= 0) return 0;
  let on = 0;
  for (const i of patches) on += p[i] ?? 0;
  return on / total;
}

function sum(p: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  return total;
}

export interface Grid {
  rows: number;
  cols: number;
}

/** Bilinear resize of a rows x cols map to another grid (torch's interpolate, align_corners = false). */
export function resizeMap(map: ArrayLike<number>, from: Grid, to: Grid): Float32Array {
  return resizeGrid(map, from.rows, from.cols, to.rows, to.cols);
}

/** Sum-normalised copy (an all-zero map becomes even). */
export function toDistribution(p: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i];
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = s > 0 ? p[i] / s : 1 / p.length;
  return out;
}

/** Scales a map to sum 1 in place (an all-zero map becomes even). */
export function normalise(p: Float32Array): Float32Array {
  let s = 0;
  for (const v of p) s += v;
  if (s <= 0) return p.fill(1 / p.length);
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}
