import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import { evaluateModel, summarise, THOUGHTS_READOUTS, type EvalResult, type Prediction, type ThoughtsMetrics, type ThoughtsReadout } from "../eval/evaluate.js";
import type { GazeMetrics } from "../eval/gap.js";
import { loadModelFor, withModel } from "../model/load.js";
import { answerProbes, type AnswerProbe, type AnswerProbes } from "../eval/answer-probes.js";
import { EVALUATE_DEFAULTS } from "../stages/evaluate.js";
import { writeFileAtomic } from "../util/atomic.js";

export interface CachedEval {
  result: EvalResult & GazeMetrics & ThoughtsMetrics & { probes?: AnswerProbes };
  maps: Float32Array[][];
  /** A model with latent thoughts: per read-out, per sample, per step, where its latents look. */
  thoughtMaps?: Partial<Record<ThoughtsReadout, Float32Array[][]>>;
  /** Time spent evaluating (0 when the cache had it). */
  seconds: number;
}

/**
 * One model's evaluation on one split, kept in `evalDir` (result, predictions and step maps),
 * so a resumed demo evaluates each (model, split) once. With `probes`, a model with latents is
 * also probed (the result's `probes`, as `lavit eval --probe` reports them). Accuracy figures recompute from the
 * predictions, since a newer lavit may report more of them.
 */
export async function cachedEvaluation(
  evalDir: string,
  modelDir: string,
  data: LoadedSplit,
  dataDir: string,
  opts: { teacherMaps?: Float32Array[][]; quiet: boolean; probes?: readonly AnswerProbe[] },
  onEvaluate: () => void,
): Promise<CachedEval> {
  const split = data.split;
  const resultFile = join(evalDir, `${split}.json`);
  const mapsFile = join(evalDir, `${split}.maps.json`);
  const predictionsFile = join(evalDir, `${split}.predictions.jsonl`);
  const thoughtsFile = (r: ThoughtsReadout) => join(evalDir, `${split}.thoughts-${r}.json`);
  const readMaps = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as number[][][]).map((s) => s.map((x) => Float32Array.from(x)));
  const writeMaps = (file: string, maps: readonly Float32Array[][]) =>
    writeFileAtomic(file, JSON.stringify(maps.map((s) => s.map((x) => Array.from(x, (v) => +v.toFixed(5))))));
  const cached = existsSync(resultFile) && existsSync(mapsFile) ? (JSON.parse(readFileSync(resultFile, "utf8")) as CachedEval["result"]) : null;
  const wanted = opts.probes ?? [];
  // Redone: an evaluation from before the latents were read two ways (one `thoughts` row), or one of a model with latents that lacks a probe asked for now.
  if (cached && !("thoughts" in cached) && !(cached.thoughts_attention && wanted.some((p) => !cached.probes?.[p]))) {
    let result = cached;
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
    const thoughtMaps = Object.fromEntries(THOUGHTS_READOUTS.filter((r) => existsSync(thoughtsFile(r))).map((r) => [r, readMaps(thoughtsFile(r))]));
    return { result, maps: readMaps(mapsFile), ...(Object.keys(thoughtMaps).length ? { thoughtMaps } : {}), seconds: 0 };
  }
  onEvaluate();
  const t0 = performance.now();
  const ev = await withModel(loadModelFor(modelDir, data, dataDir), async (m) => {
    const full = await evaluateModel(m.vlm, m.tokenizer, data, {
      latents: m.latents,
      headTrained: m.headTrained,
      quiet: opts.quiet,
      teacherMaps: opts.teacherMaps,
    });
    // The probes ask whether the answer reads the latent thoughts: a model without latents has nothing to probe.
    if (!wanted.length || !m.latents) return full;
    const probes = answerProbes(m.vlm, m.tokenizer, data, m.latents, wanted, { seed: EVALUATE_DEFAULTS.probeSeed, quiet: opts.quiet });
    return { ...full, result: { ...full.result, probes } };
  });
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(evalDir, { recursive: true });
  writeFileAtomic(predictionsFile, ev.predictions.map((p) => JSON.stringify(p)).join("\n") + "\n");
  writeMaps(mapsFile, ev.maps);
  for (const r of THOUGHTS_READOUTS) if (ev.thoughtMaps?.[r]) writeMaps(thoughtsFile(r), ev.thoughtMaps[r]);
  writeFileAtomic(resultFile, JSON.stringify(ev.result, null, 2) + "\n");
  return { result: ev.result, maps: ev.maps, ...(ev.thoughtMaps ? { thoughtMaps: ev.thoughtMaps } : {}), seconds };
}
