import type { Sample } from "../data/manifest.js";
import { massOn, stepPatches, topkIndices } from "../signals/maps.js";

/** Perception-Gap metrics of one sample, averaged over its rationale steps. */
export interface GazeMetrics {
  grounding_mass: number;
  entropy: number;
  js_to_teacher?: number;
  topk_iou?: number;
}

function klTerm(p: ArrayLike<number>, m: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) s += p[i] * Math.log(p[i] / m[i]);
  return s;
}

/** Jensen-Shannon divergence in nats (0 .. ln 2) between two distributions. */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const m = Float64Array.from({ length: p.length }, (_, i) => (p[i] + q[i]) / 2);
  return 0.5 * klTerm(p, m) + 0.5 * klTerm(q, m);
}

export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h;
}

export function topkIou(p: ArrayLike<number>, q: ArrayLike<number>, k: number): number {
  const a = new Set(topkIndices(p, k));
  const b = topkIndices(q, k);
  const inter = b.filter((i) => a.has(i)).length;
  return inter / (a.size + b.length - inter);
}

/**
 * Per sample: grounding mass (share of each step's gaze on that step's ground-truth patches;
 * steps beyond the sample's rationale use all its patches), entropy, and, given the teacher's
 * maps for the same sample, JS divergence and top-k IoU step by step (over the steps both
 * wrote).
 */
export function sampleGaze(sample: Sample, maps: readonly Float32Array[], teacher?: readonly Float32Array[], k = 8): GazeMetrics {
  let mass = 0;
  let ent = 0;
  maps.forEach((p, t) => {
    // The maps are distributions: their mass is taken as 1, not re-summed.
    mass += massOn(p, stepPatches(sample, t), 1);
    ent += entropy(p);
  });
  const out: GazeMetrics = { grounding_mass: mass / maps.length, entropy: ent / maps.length };
  if (teacher) {
    const steps = Math.min(maps.length, teacher.length);
    let js = 0;
    let iou = 0;
    for (let t = 0; t < steps; t++) {
      js += jensenShannon(maps[t], teacher[t]);
      iou += topkIou(maps[t], teacher[t], k);
    }
    out.js_to_teacher = steps ? js / steps : Math.LN2;
    out.topk_iou = steps ? iou / steps : 0;
  }
  return out;
}

/** Means over samples (every reported number is a plain mean of per-sample values). */
export function meanGaze(per: readonly GazeMetrics[]): GazeMetrics {
  const mean = (key: keyof GazeMetrics) => {
    const v = per.map((g) => g[key]).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const out: GazeMetrics = { grounding_mass: mean("grounding_mass") ?? 0, entropy: mean("entropy") ?? 0 };
  const js = mean("js_to_teacher");
  const iou = mean("topk_iou");
  if (js !== undefined) out.js_to_teacher = js;
  if (iou !== undefined) out.topk_iou = iou;
  return out;
}
