import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import type { Prediction } from "../eval/evaluate.js";
import { jensenShannon } from "../eval/gap.js";
import { quantiseMaps, roundSeries, thumbnail, type ExplorerSample } from "../report/explorer.js";
import { massOn } from "../signals/maps.js";

/** An evaluation cache's predictions for a split, by sample id (none: the cache predates them). */
export function readPredictions(evalDir: string, split: string): Map<string, Prediction> | undefined {
  const file = join(evalDir, `${split}.predictions.jsonl`);
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
  return new Map(lines.map((l) => JSON.parse(l) as Prediction).map((p) => [p.id, p]));
}

/**
 * One split's samples for the explorer: per model (the teacher's maps are the reference) its
 * prediction, per-step JS to the teacher and grounding mass, and its maps quantised.
 */
export function demoExplorerSamples(
  data: LoadedSplit,
  maps: Record<string, readonly (readonly Float32Array[])[]>,
  predictions: Record<string, Map<string, Prediction> | undefined>,
): ExplorerSample[] {
  const grid = data.info.size / data.info.patch;
  return data.samples.map((s, i) => {
    const teacher = maps.teacher?.[i];
    const truth = s.rationale.map((r) => [...new Set(r.patches)]);
    const runs: ExplorerSample["runs"] = {};
    for (const [model, all] of Object.entries(maps)) {
      const m = all[i];
      if (!m?.length) continue;
      const p = predictions[model]?.get(s.id);
      runs[model] = {
        ...(p ? { predicted: p.predicted, correct: p.correct } : {}),
        mass: roundSeries(m.map((map, t) => (truth[t] ? massOn(map, truth[t], 1) : null))),
        ...(model !== "teacher" && teacher ? { js: roundSeries(m.map((map, t) => (teacher[t] ? jensenShannon(map, teacher[t]) : null))) } : {}),
        maps: quantiseMaps(m),
      };
    }
    for (const [model, p] of Object.entries(predictions))
      if (!runs[model] && p?.get(s.id)) runs[model] = { predicted: p.get(s.id)!.predicted, correct: p.get(s.id)!.correct };
    return {
      id: s.id,
      split: data.split,
      family: s.family,
      question: s.question,
      answer: s.answer,
      image: thumbnail(data.images[i], data.info.size, data.info.size),
      grid: { rows: grid, cols: grid },
      steps: s.rationale.map((r, t) => ({ text: r.text, truth: truth[t] })),
      runs,
    };
  });
}
