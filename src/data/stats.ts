import { priorAnswer } from "./questions.js";
import { templateByKey } from "./families/index.js";
import { datasetSplits, readDatasetInfo, readManifest, type Sample } from "./manifest.js";
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * A metric is absent (n/a) when the samples lack the field it needs: the prior-only answerer
 * needs templates and a train split, chance needs choices, pair accuracy needs pairs.
 */
export interface GroupStats {
  count: number;
  prior_only_accuracy?: number;
  chance_accuracy?: number;
  /** Splits with pairs: pairs where the prior-only answerer gets both members right. */
  prior_only_pair_accuracy?: number;
}

export interface SplitStats extends GroupStats {
  families: Record<string, GroupStats>;
}

export interface DatasetStats {
  splits: Record<string, SplitStats>;
  /** The answer the prior-only answerer gives, per template (learned from `train`). */
  prior_answers: Record<string, string>;
}

/**
 * The prior-only answerer: for each template, the most frequent answer in `train`. It never
 * sees the image, so its accuracy is what a model can score from the wording alone.
 */
export function fitPriorAnswerer(train: readonly Sample[]): Map<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const s of train) {
    if (s.template === undefined) continue;
    const m = counts.get(s.template) ?? new Map<string, number>();
    m.set(s.answer, (m.get(s.answer) ?? 0) + 1);
    counts.set(s.template, m);
  }
  const out = new Map<string, string>();
  for (const [t, m] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Ties break alphabetically so the answerer is deterministic.
    const best = [...m].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))[0][0];
    out.set(t, best);
  }
  return out;
}

function priorGuess(answerer: Map<string, string>, s: Sample & { template: string }): string | undefined {
  const fitted = answerer.get(s.template);
  if (fitted !== undefined) return fitted;
  // A template absent from train: fall back to its built-in prior, or the first choice.
  const t = templateByKey(s.template);
  return t ? priorAnswer(t) : s.choices?.[0];
}

/** The prior-only answerer's and chance's accuracy on these samples (pairs: also both members of a pair), where the fields allow. */
export function baselineStats(samples: readonly Sample[], answerer: Map<string, string> | null, pairs = true): GroupStats {
  const n = samples.length;
  const g: GroupStats = { count: n };
  if (!n) return g;
  const templated = samples.every((s): s is Sample & { template: string } => s.template !== undefined);
  if (answerer && templated) g.prior_only_accuracy = samples.filter((s) => priorGuess(answerer, s as Sample & { template: string }) === s.answer).length / n;
  if (samples.every((s) => s.choices?.length)) g.chance_accuracy = samples.reduce((a, s) => a + 1 / s.choices!.length, 0) / n;
  if (pairs && answerer && templated && samples.some((s) => s.pair !== undefined)) {
    const byPair = new Map<string, Sample[]>();
    for (const s of samples) {
      if (s.pair === undefined) continue;
      const members = byPair.get(s.pair);
      if (members) members.push(s);
      else byPair.set(s.pair, [s]);
    }
    let both = 0;
    for (const members of byPair.values()) if (members.every((s) => priorGuess(answerer, s as Sample & { template: string }) === s.answer)) both++;
    g.prior_only_pair_accuracy = both / byPair.size;
  }
  return g;
}

/** Per split (every split the dataset lists) and family: counts and the baselines its fields allow. */
export function computeStats(dir: string): DatasetStats {
  const info = readDatasetInfo(dir);
  const names = datasetSplits(info).filter((s) => existsSync(join(dir, s, "manifest.jsonl")));
  const fitted = names.includes("train") ? fitPriorAnswerer(readManifest(dir, "train")) : null;
  const answerer = fitted?.size ? fitted : null;
  const splits: Record<string, SplitStats> = {};
  for (const split of names) {
    const samples = readManifest(dir, split);
    const families: Record<string, GroupStats> = {};
    for (const f of [...new Set(samples.flatMap((s) => (s.family !== undefined ? [s.family] : [])))].sort())
      families[f] = baselineStats(
        samples.filter((s) => s.family === f),
        answerer,
      );
    splits[split] = { ...baselineStats(samples, answerer), families };
  }
  return { splits, prior_answers: Object.fromEntries(answerer ?? []) };
}

const cell = (v: number | undefined, width: number) => (v === undefined ? "n/a" : v.toFixed(3)).padStart(width);

export function formatStats(stats: DatasetStats): string {
  const lines = ["split / family        count  prior-only  chance"];
  const row = (name: string, g: GroupStats) =>
    `${name.padEnd(20)} ${String(g.count).padStart(6)}  ${cell(g.prior_only_accuracy, 10)}  ${cell(g.chance_accuracy, 6)}` +
    (g.prior_only_pair_accuracy !== undefined ? `  (pairs both right: ${g.prior_only_pair_accuracy.toFixed(3)})` : "");
  for (const [split, s] of Object.entries(stats.splits)) {
    lines.push(row(split, s));
    for (const [f, g] of Object.entries(s.families)) lines.push(row(`  ${f}`, g));
  }
  return lines.join("\n");
}
