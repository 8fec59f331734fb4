import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import { evaluateModel, summarise, type EvalResult, type Prediction } from "../eval/evaluate.js";
import type { GazeMetrics } from "../eval/gap.js";
import { loadModelFor, withModel } from "../model/load.js";
import { writeFileAtomic } from "../util/atomic.js";

export interface CachedEval {
  result: EvalResult & GazeMetrics & { thoughts?: GazeMetrics };
  maps: Float32Array[][];
  /** A model with latent thoughts: per sample, per step, where its latents look. */
  thoughtMaps?: Float32Array[][];
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
  const thoughtsFile = join(evalDir, `${split}.thoughts.json`);
  const readMaps = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as number[][][]).map((s) => s.map((x) => Float32Array.from(x)));
  const writeMaps = (file: string, maps: readonly Float32Array[][]) =>
    writeFileAtomic(file, JSON.stringify(maps.map((s) => s.map((x) => Array.from(x, (v) => +v.toFixed(5))))));
  if (existsSync(resultFile) && existsSync(mapsFile)) {
    let result = JSON.parse(readFileSync(resultFile, "utf8")) as CachedEval["result"];
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
    return { result, maps: readMaps(mapsFile), ...(existsSync(thoughtsFile) ? { thoughtMaps: readMaps(thoughtsFile) } : {}), seconds: 0 };
  }
  onEvaluate();
  const t0 = performance.now();
  const ev = withModel(loadModelFor(modelDir, data, dataDir), (m) =>
    evaluateModel(m.vlm, m.tokenizer, data, { latents: m.latents, quiet: opts.quiet, teacherMaps: opts.teacherMaps }),
  );
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(evalDir, { recursive: true });
  writeFileAtomic(predictionsFile, ev.predictions.map((p) => JSON.stringify(p)).join("\n") + "\n");
  writeMaps(mapsFile, ev.maps);
  if (ev.thoughtMaps) writeMaps(thoughtsFile, ev.thoughtMaps);
  writeFileAtomic(resultFile, JSON.stringify(ev.result, null, 2) + "\n");
  return { result: ev.result, maps: ev.maps, ...(ev.thoughtMaps ? { thoughtMaps: ev.thoughtMaps } : {}), seconds };
}
