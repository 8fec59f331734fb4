import type { LoadedSplit } from "../data/dataset.js";
import { FAMILIES, type FamilyName } from "../data/families/family.js";
import { Rng } from "../util/rng.js";
import { UserError } from "../errors.js";
import { quoteInput } from "../util/errors-text.js";

export type FamilyWeights = Partial<Record<FamilyName, number>>;

/**
 * Parses `--family-weight depth=3,attribute=0.5`: how often each family's samples are seen per
 * epoch relative to the data (unnamed families keep 1; 0 drops a family). Why a flag and not a
 * hand-cut data folder: a family the mixed run leaves on a plateau (the spatial match did, and
 * 300 steps on it alone broke it) can be oversampled in a run its model card can state.
 */
export function parseFamilyWeights(value: string): FamilyWeights {
  const weights: FamilyWeights = {};
  for (const part of value.split(",")) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (!m) throw new UserError(`--family-weight wants family=weight pairs separated by commas (e.g. depth=3,attribute=0.5), got ${quoteInput(part)}`);
    const [, family, text] = m;
    if (!(FAMILIES as readonly string[]).includes(family))
      throw new UserError(`--family-weight: unknown family ${quoteInput(family)} (families: ${FAMILIES.join(", ")})`);
    const w = Number(text);
    if (!Number.isFinite(w) || w < 0 || w > 100)
      throw new UserError(`--family-weight: weight of ${family} must be a number in [0, 100], got ${quoteInput(text)}`);
    if (family in weights) throw new UserError(`--family-weight: ${family} given twice`);
    weights[family as FamilyName] = w;
  }
  return weights;
}

/**
 * The split with each family's samples repeated by its weight: floor(w) copies of every sample
 * plus a seeded choice of round(frac(w) * count) more. Images are shared, not copied. The
 * result is a fixed list, so the trainer's batch order (and a resume) stays as it is.
 */
export function weighFamilies(data: LoadedSplit, weights: FamilyWeights, seed: number): LoadedSplit {
  const rng = new Rng((seed * 31337 + 17) | 0);
  const picked: number[] = [];
  for (const family of FAMILIES) {
    const members = data.samples.flatMap((s, i) => (s.family === family ? [i] : []));
    const w = weights[family] ?? 1;
    for (let c = 0; c < Math.floor(w); c++) for (const m of members) picked.push(m);
    const extra = Math.round((w - Math.floor(w)) * members.length);
    if (extra > 0)
      for (const m of rng
        .shuffle([...members])
        .slice(0, extra)
        .sort((a, b) => a - b))
        picked.push(m);
  }
  if (!picked.length) throw new UserError(`--family-weight leaves no training samples in ${data.dir} (${data.split})`);
  picked.sort((a, b) => a - b);
  return { ...data, samples: picked.map((i) => data.samples[i]), images: picked.map((i) => data.images[i]) };
}

/** The canonical text of a weighting (families in their fixed order), as stored in a run's settings. */
export function formatFamilyWeights(weights: FamilyWeights): string {
  return FAMILIES.filter((f) => f in weights)
    .map((f) => `${f}=${weights[f]}`)
    .join(",");
}

/** Samples per family, for the run's settings and its progress line. */
export function familyCounts(data: LoadedSplit): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of data.samples) if (s.family !== undefined) counts[s.family] = (counts[s.family] ?? 0) + 1;
  return counts;
}
