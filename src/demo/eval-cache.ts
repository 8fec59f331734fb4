import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import { evaluateModel, summarise, type EvalResult, type Prediction } from "../eval/evaluate.js";
import type { GazeMetrics } from "../eval/gap.js";
import { loadModelFor, withModel } from "../model/load.js";
import { writeFileAtomic } from "../util/atomic.js";

export interface CachedEval {
  result: EvalResult & GazeMetrics;
  maps: Float32Array[][];
  /** Time spent evaluating (0 when the cache had it). */
  seconds: number;
}

/**
 * One model's evaluation on one split, kept in `evalDir` (result, predictions and step maps),
 * so a resumed demo evaluates each (model, split) once. Accuracy figures recompute from the
 * predictions, since a newer lavit may report more of them.
 */
export function cachedEvaluation(
  evalDir: string,
  modelDir: string,
  data: LoadedSplit,
  dataDir: string,
  opts: { teacherMaps?: Float32Array[][]; quiet: boolean },
  onEvaluate: () => void,
): CachedEval {
  const split = data.split;
  const resultFile = join(evalDir, `${split}.json`);
  const mapsFile = join(evalDir, `${split}.maps.json`);
  const predictionsFile = join(evalDir, `${split}.predictions.jsonl`);
  if (existsSync(resultFile) && existsSync(mapsFile)) {
    let result = JSON.parse(readFileSync(resultFile, "utf8")) as EvalResult & GazeMetrics;
    if (existsSync(predictionsFile))
      result = {
        ...result,
        ...summarise(
          split,
          readFileSync(predictionsFile, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Prediction),
        ),
      };
    const maps = (JSON.parse(readFileSync(mapsFile, "utf8")) as number[][][]).map((s) => s.map((x) => Float32Array.from(x)));
    return { result, maps, seconds: 0 };
  }
  onEvaluate();
  const t0 = performance.now();
  const ev = withModel(loadModelFor(modelDir, data, dataDir), (m) =>
    evaluateModel(m.vlm, m.tokenizer, data, { latents: m.latents, quiet: opts.quiet, teacherMaps: opts.teacherMaps }),
  );
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(evalDir, { recursive: true });
  writeFileAtomic(predictionsFile, ev.predictions.map((p) => JSON.stringify(p)).join("\n") + "\n");
  writeFileAtomic(mapsFile, JSON.stringify(ev.maps.map((s) => s.map((x) => Array.from(x, (v) => +v.toFixed(5))))));
  writeFileAtomic(resultFile, JSON.stringify(ev.result, null, 2) + "\n");
  return { result: ev.result, maps: ev.maps, seconds };
}
