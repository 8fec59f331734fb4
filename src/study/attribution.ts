import { UserError } from "../errors.js";
import { checkMetricName } from "./metrics.js";
import type { Level } from "./spec.js";
import { interval, type Interval } from "./stats.js";
import type { CellRecord } from "./tasks.js";

/**
 * How much of a model's gain over a baseline one of its parts carries: `model` against
 * `baseline` is the whole gain, `model` against `without` (the model lacking the part) is the
 * part's share of it. E.g. lavit, no-align, distill: what the alignment losses add of LaViT's gain.
 */
export interface AttributionSpec {
  model: string;
  without: string;
  baseline: string;
  metric: string;
}

export type AttributionVerdict = "carries at least half" | "carries under half" | "no evidence" | "costs";

export interface AttributionRow {
  split: string;
  levels: Record<string, Level>;
  /** model − baseline, paired by seed. */
  gain: Interval;
  /** model − without, paired by seed. */
  part: Interval;
  /** part / gain of the means; NaN when the gain is not positive. */
  share: number;
  verdict: AttributionVerdict;
  /** The model's swap probe (does its answer follow the image its thoughts saw?), beside the same probe with the latents masked. */
  swap?: { follow_a: number; masked_follow_a?: number };
}

/** Parses "model,without,baseline[:metric]" (metric defaults to accuracy), checking the names against the study. */
export function parseAttribution(text: string, variants: readonly string[], flag = "--attribute"): AttributionSpec {
  const [names, metric = "accuracy"] = text.split(":");
  const parts = names.split(",").map((s) => s.trim());
  if (parts.length !== 3 || parts.some((p) => !p))
    throw new UserError(`${flag} "${text}": give three variants, model,without,baseline (e.g. lavit,no-align,distill), optionally :metric`);
  for (const p of parts) if (!variants.includes(p)) throw new UserError(`${flag} "${text}": the study has no variant "${p}" (it has ${variants.join(", ")})`);
  checkMetricName(metric, flag);
  return { model: parts[0], without: parts[1], baseline: parts[2], metric };
}

/** a − b per seed that has both, within one condition's records. */
export function paired(here: readonly CellRecord[], a: string, b: string, split: string, metric: string): number[] {
  const out: number[] = [];
  for (const ra of here.filter((r) => r.variant === a)) {
    const rb = here.find((r) => r.variant === b && r.seed === ra.seed);
    const va = ra.metrics[split]?.[metric];
    const vb = rb?.metrics[split]?.[metric];
    if (va !== undefined && vb !== undefined) out.push(va - vb);
  }
  return out;
}

/**
 * The rule the alignment study was planned with (docs/results.md): the part carries at least half
 * of the gain when its paired interval lies above 0 and its mean is at least half the gain's
 * (a positive gain). An interval that holds 0 is no evidence either way; one below 0 is a cost.
 */
export function verdictOf(gain: Interval, part: Interval): AttributionVerdict {
  if (part.n < 2 || !(part.lo > 0)) return part.n >= 2 && part.hi < 0 ? "costs" : "no evidence";
  return gain.mean > 0 && part.mean >= 0.5 * gain.mean ? "carries at least half" : "carries under half";
}

const mean = (vs: number[]) => vs.reduce((a, b) => a + b, 0) / vs.length;

/** One row per split and condition that has both differences. */
export function attribution(
  records: readonly CellRecord[],
  conditions: readonly Record<string, Level>[],
  splits: readonly string[],
  spec: AttributionSpec,
  key: (levels: Record<string, Level>) => string,
): AttributionRow[] {
  const rows: AttributionRow[] = [];
  for (const split of splits)
    for (const levels of conditions) {
      const here = records.filter((r) => key(r.levels) === key(levels));
      const gainDiffs = paired(here, spec.model, spec.baseline, split, spec.metric);
      const partDiffs = paired(here, spec.model, spec.without, split, spec.metric);
      if (!gainDiffs.length || !partDiffs.length) continue;
      const gain = interval(gainDiffs);
      const part = interval(partDiffs);
      const model = here.filter((r) => r.variant === spec.model);
      const follow = model.map((r) => r.metrics[split]?.["probes.swap.follow_a"]).filter((v): v is number => v !== undefined);
      const masked = model.map((r) => r.metrics[split]?.["probes.swap.constant.follow_a"]).filter((v): v is number => v !== undefined);
      rows.push({
        split,
        levels,
        gain,
        part,
        share: gain.mean > 0 ? part.mean / gain.mean : NaN,
        verdict: verdictOf(gain, part),
        ...(follow.length ? { swap: { follow_a: mean(follow), ...(masked.length ? { masked_follow_a: mean(masked) } : {}) } } : {}),
      });
    }
  return rows;
}
