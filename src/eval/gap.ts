import type { Sample } from "../data/manifest.js";
import { massOn, stepPatches, topkIndices } from "../signals/maps.js";

/** Perception-Gap metrics of one sample, averaged over its rationale steps. */
export interface GazeMetrics {
  /** Absent when no step's region is known (an imported sample without boxes): n/a, not 0. */
  grounding_mass?: number;
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

/** Gaze metrics where the ground-truth regions may be unknown (maps from another run). */
export interface GapMetrics {
  grounding_mass?: number;
  entropy: number;
  js_to_teacher?: number;
  topk_iou?: number;
}

/** Per step, the patch indices of the ground-truth region, each once (undefined: regions unknown). */
export type StepRegions = (step: number) => readonly number[];

/**
 * A lavit sample's regions, as extraction scores them (stepPatches). A sample without rationale
 * has one step, the answer's, whose region is its evidence. Undefined when no region is known
 * (an imported sample without boxes).
 */
export function sampleRegions(sample: Sample): StepRegions | undefined {
  if (!sample.rationale.length) return sample.evidence?.length ? () => sample.evidence! : undefined;
  if (!sample.rationale.some((r) => r.patches.length)) return undefined;
  return (t) => stepPatches(sample, t);
}

/**
 * Per sample: grounding mass (share of each step's gaze on that step's ground-truth patches,
 * when they are known), entropy, and, given the teacher's maps for the same sample, JS
 * divergence and top-k IoU step by step (over the steps both wrote).
 */
export function mapGaze(maps: readonly Float32Array[], regions: StepRegions | undefined, teacher?: readonly Float32Array[], k = 8): GapMetrics {
  let mass = 0;
  let known = 0;
  let ent = 0;
  maps.forEach((p, t) => {
    // The maps are distributions: their mass is taken as 1, not re-summed. A step without a
    // known region (an imported step without boxes) has no grounding mass, rather than 0.
    const region = regions?.(t);
    if (region?.length) {
      mass += massOn(p, region, 1);
      known++;
    }
    ent += entropy(p);
  });
  const out: GapMetrics = { entropy: ent / maps.length };
  if (known) out.grounding_mass = mass / known;
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

/** mapGaze with a lavit sample's regions (always known). */
export function sampleGaze(sample: Sample, maps: readonly Float32Array[], teacher?: readonly Float32Array[], k = 8): GazeMetrics {
  return mapGaze(maps, sampleRegions(sample), teacher, k);
}

/** Means over samples (every reported number is a plain mean of the per-sample values that exist). */
export function meanGap(per: readonly GapMetrics[]): GapMetrics {
  const mean = (key: keyof GapMetrics) => {
    const v = per.map((g) => g[key]).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const out: GapMetrics = { entropy: mean("entropy") ?? 0 };
  for (const key of ["grounding_mass", "js_to_teacher", "topk_iou"] as const) {
    const m = mean(key);
    if (m !== undefined) out[key] = m;
  }
  return out;
}

export function meanGaze(per: readonly GazeMetrics[]): GazeMetrics {
  return meanGap(per);
}

/**
 * The gaze metrics of attention spread evenly over the image, against the teacher's maps: the
 * scale for the other models' figures (a teacher with near-uniform maps makes js_to_teacher
 * reward diffuse attention).
 */
export function uniformGap(teacherMaps: readonly (readonly Float32Array[])[], regions?: readonly (StepRegions | undefined)[]): GapMetrics {
  const gaze = meanGap(
    teacherMaps.map((maps, i) =>
      mapGaze(
        maps.map((m) => new Float32Array(m.length).fill(1 / m.length)),
        regions?.[i],
        maps,
      ),
    ),
  );
  // Even gaze has no top k (every patch ties), so its IoU would only reflect how ties are broken.
  delete gaze.topk_iou;
  return gaze;
}

/** uniformGap for lavit samples (regions always known). */
export function uniformGaze(samples: readonly Sample[], teacherMaps: readonly (readonly Float32Array[])[]): GazeMetrics {
  return uniformGap(teacherMaps, samples.map(sampleRegions));
}
