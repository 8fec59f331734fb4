import { scopedAsync } from "../engine/index.js";
import { loadSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { evaluateModel } from "../eval/evaluate.js";
import { loadModelFor, withModel } from "../model/load.js";
import type { Vlm } from "../model/vlm.js";

export interface DuringTrainingEval {
  /** Dataset folder (the one the student trains on). */
  data: string;
  split: string;
  /** Only the first n samples of the split. */
  limit?: number;
  /** Teacher model folder: adds js_to_teacher and topk_iou. */
  teacher?: string;
  latents: number;
  /** Whether this run trains the trajectory head (otherwise its map is noise, and only the latents' own attention is read). */
  headTrained: boolean;
}

/**
 * A learning-curve probe for the trainer: greedy answers on a held-out split of the same dataset
 * with the model being trained, as `lavit eval` measures them. The split is read now, so a bad
 * split is refused before training; the teacher's maps once, at the first evaluation. The model
 * is only read (inference), so training goes on with the same bits.
 */
export function duringTrainingEval(vlm: Vlm, tokenizer: Tokenizer, o: DuringTrainingEval): (step: number) => Promise<Record<string, string | number>> {
  const data = loadSplit(o.data, o.split, o.limit);
  let teacherMaps: Float32Array[][] | undefined;
  return () =>
    scopedAsync(async () => {
      if (o.teacher && !teacherMaps)
        teacherMaps = (await withModel(loadModelFor(o.teacher, data, o.data), (t) => evaluateModel(t.vlm, t.tokenizer, data, { quiet: true }))).maps;
      const { result } = await evaluateModel(vlm, tokenizer, data, { latents: o.latents, headTrained: o.headTrained, quiet: true, teacherMaps });
      const { families: _families, thoughts_head, thoughts_attention, ...overall } = result;
      const line: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(overall)) if (v !== undefined) line[k] = v as string | number;
      // Named as evaluate()'s result flattens them (thoughts_head.js_to_teacher).
      for (const [name, g] of Object.entries({ thoughts_head, thoughts_attention }))
        for (const [k, v] of Object.entries(g ?? {})) if (v !== undefined) line[`${name}.${k}`] = v;
      return line;
    });
}
