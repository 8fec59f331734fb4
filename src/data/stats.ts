import { priorAnswer } from "./questions.js";
import { templateByKey } from "./families/index.js";
import { FAMILIES } from "./families/family.js";
import { SPLITS, readManifest, type Sample } from "./manifest.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";

export interface GroupStats {
  count: number;
  prior_only_accuracy: number;
  chance_accuracy: number;
  /** test-pairs only: pairs where the prior-only answerer gets both members right. */
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

function priorGuess(answerer: Map<string, string>, s: Sample): string {
  const fitted = answerer.get(s.template);
  if (fitted !== undefined) return fitted;
  // A template absent from train: fall back to its built-in prior, or the first choice.
  const t = templateByKey(s.template);
  return t ? priorAnswer(t) : s.choices[0];
}

/** The prior-only answerer's and chance's accuracy on these samples (pairs: also both members of a pair). */
export function baselineStats(samples: readonly Sample[], answerer: Map<string, string>, pairs: boolean): GroupStats {
  const n = samples.length;
  let correct = 0;
  let chance = 0;
  for (const s of samples) {
    if (priorGuess(answerer, s) === s.answer) correct++;
    chance += 1 / s.choices.length;
  }
  const g: GroupStats = { count: n, prior_only_accuracy: n ? correct / n : 0, chance_accuracy: n ? chance / n : 0 };
  if (pairs) {
    const byPair = new Map<string, Sample[]>();
    for (const s of samples) {
      if (s.pair === undefined) continue;
      const members = byPair.get(s.pair);
      if (members) members.push(s);
      else byPair.set(s.pair, [s]);
    }
    let both = 0;
    for (const members of byPair.values()) if (members.every((s) => priorGuess(answerer, s) === s.answer)) both++;
    g.prior_only_pair_accuracy = byPair.size ? both / byPair.size : 0;
  }
  return g;
}

export function computeStats(dir: string): DatasetStats {
  if (!existsSync(join(dir, "train", "manifest.jsonl")))
    throw new UserError(`${dir}: no train/manifest.jsonl (the prior-only answerer is fitted on the train split)`);
  const answerer = fitPriorAnswerer(readManifest(dir, "train"));
  const splits: Record<string, SplitStats> = {};
  for (const split of SPLITS) {
    if (!existsSync(join(dir, split, "manifest.jsonl"))) continue;
    const samples = readManifest(dir, split);
    const pairs = split === "test-pairs";
    const families: Record<string, GroupStats> = {};
    for (const f of FAMILIES) {
      const members = samples.filter((s) => s.family === f);
      if (members.length) families[f] = baselineStats(members, answerer, pairs);
    }
    splits[split] = { ...baselineStats(samples, answerer, pairs), families };
  }
  return { splits, prior_answers: Object.fromEntries(answerer) };
}

export function formatStats(stats: DatasetStats): string {
  const lines = ["split / family        count  prior-only  chance"];
  const row = (name: string, g: GroupStats) =>
    `${name.padEnd(20)} ${String(g.count).padStart(6)}  ${g.prior_only_accuracy.toFixed(3).padStart(10)}  ${g.chance_accuracy.toFixed(3).padStart(6)}` +
    (g.prior_only_pair_accuracy !== undefined ? `  (pairs both right: ${g.prior_only_pair_accuracy.toFixed(3)})` : "");
  for (const [split, s] of Object.entries(stats.splits)) {
    lines.push(row(split, s));
    for (const [f, g] of Object.entries(s.families)) lines.push(row(`  ${f}`, g));
  }
  return lines.join("\n");
}
