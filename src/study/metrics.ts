import { UserError } from "../errors.js";

/** The gaze figures of one read-out (eval/gap.ts GazeMetrics). */
const GAZE = ["grounding_mass", "entropy", "js_to_teacher", "topk_iou"] as const;
const ACCURACY = ["accuracy", "pair_accuracy", "yes_rate", "yes_truth", "count"] as const;
/** Where a student's latent thoughts look: its trajectory head's maps, or the latents' own attention. */
export const THOUGHT_READOUTS = ["thoughts_head", "thoughts_attention"] as const;
const PROBE_KEYS: Record<string, readonly string[]> = {
  swap: ["pairs", "follow_a", "follow_b", "neither"],
  steer: ["samples", "skipped", "changed", "to_other"],
};

export const DEFAULT_METRICS = [
  "accuracy",
  "pair_accuracy",
  "grounding_mass",
  "js_to_teacher",
  "thoughts_head.js_to_teacher",
  "thoughts_attention.js_to_teacher",
  "thoughts_attention.grounding_mass",
  "probes.swap.follow_a",
  "probes.swap.follow_b",
  "probes.steer.to_other",
];

/** Whether `name` is a metric an evaluation can report (dotted, as flatten() writes them). */
export function isMetricName(name: string): boolean {
  const parts = name.split(".");
  if (parts.length === 1) return (ACCURACY as readonly string[]).includes(name) || (GAZE as readonly string[]).includes(name);
  if (parts.length === 2 && (THOUGHT_READOUTS as readonly string[]).includes(parts[0])) return (GAZE as readonly string[]).includes(parts[1]);
  if (parts[0] === "families" && parts.length === 3) return (ACCURACY as readonly string[]).includes(parts[2]);
  if (parts[0] === "probes" && PROBE_KEYS[parts[1]]) {
    const rest = parts.slice(2);
    if (rest.length === 1) return PROBE_KEYS[parts[1]].includes(rest[0]);
    return rest.length === 2 && rest[0] === "constant" && PROBE_KEYS[parts[1]].includes(rest[1]);
  }
  return false;
}

export function checkMetricName(name: string, where: string): void {
  if (!isMetricName(name))
    throw new UserError(
      `${where}: unknown metric "${name}" (e.g. ${[...ACCURACY.slice(0, 2), ...GAZE.slice(0, 3), "thoughts_attention.js_to_teacher", "families.counting.accuracy", "probes.swap.follow_a"].join(", ")})`,
    );
}

/** An evaluation's numbers as dotted keys: {thoughts_head: {js_to_teacher: 0.1}} → {"thoughts_head.js_to_teacher": 0.1}. */
export function flatten(value: unknown, prefix = "", out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === "number") {
    if (Number.isFinite(value)) out[prefix] = value;
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/**
 * The constant a metric is read beside (a figure a constant beats is not evidence): the
 * prior-only answerer and chance for accuracy, even gaze for gaze figures, the masked-latents
 * probe for a probe. Keys into a reference record (see study/reference.ts) or the cell's own.
 */
export function constantsFor(metric: string): { label: string; key: string; own?: boolean }[] {
  const parts = metric.split(".");
  const last = parts[parts.length - 1];
  if (parts[0] === "probes") return [{ label: "latents masked", key: [...parts.slice(0, 2), "constant", last].join("."), own: true }];
  if (parts[0] === "families" && (last === "accuracy" || last === "pair_accuracy"))
    return [
      { label: "prior answer", key: `prior_only.${metric}` },
      { label: "chance", key: `chance.${metric}` },
    ];
  if (last === "accuracy" || last === "pair_accuracy")
    return [{ label: "prior answer", key: `prior_only.${last}` }, ...(last === "accuracy" ? [{ label: "chance", key: "chance.accuracy" }] : [])];
  if ((GAZE as readonly string[]).includes(last) && last !== "topk_iou") return [{ label: "even gaze", key: `even_gaze.${last}` }];
  return [];
}
