import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import { buildDirAtomic } from "../util/atomic.js";
import { METADATA_FILE, type SignalResult } from "./layout.js";
import { topkIndices } from "./maps.js";

/**
 * Writes a model's own per-step gaze maps in the trajectory layout (metadata.json +
 * trajectories/<id>.json, method "student_attention", no V_top), so `lavit gap` can compare the
 * model with a teacher's signals. A dump of latent thoughts records which read-out it holds
 * (`thoughts_readout`: the trajectory head's maps or the latents' own attention). Values are written at full float32 precision: the gap read
 * from the dump is the gap the evaluation measured.
 */
export async function writeAttentionDump(
  dir: string,
  data: LoadedSplit,
  generated: readonly string[],
  maps: readonly (readonly Float32Array[])[],
  o: { model: string; topk?: number; thoughts?: "head" | "attention" },
): Promise<void> {
  const finalDir = resolve(dir);
  await buildDirAtomic(
    finalDir,
    (tmp) => {
      mkdirSync(join(tmp, "trajectories"), { recursive: true });
      const results: SignalResult[] = data.samples.map((sample, i) => {
        const grid = Math.round(Math.sqrt(maps[i][0]?.length ?? 0));
        const steps = maps[i].map((p) => ({ p_t: Array.from(p), p_topk_idx: topkIndices(p, o.topk ?? 8), method: "student_attention" as const }));
        const trajRel = `trajectories/${sample.id}.json`;
        writeFileSync(join(tmp, trajRel), JSON.stringify({ id: sample.id, grid, steps }) + "\n");
        return {
          id: sample.id,
          question: sample.question,
          image_relative_path: relative(finalDir, resolve(data.dir, data.split, sample.image)),
          ground_truth_enriched: generated[i].replace(/\s*<eos>\s*$/, ""),
          answer: sample.answer,
          attention_path_abs: trajRel,
        };
      });
      writeFileSync(
        join(tmp, METADATA_FILE),
        JSON.stringify(
          { results, model: o.model, split: data.split, method: "student_attention", ...(o.thoughts ? { thoughts_readout: o.thoughts } : {}) },
          null,
          1,
        ) + "\n",
      );
    },
    "signals",
  );
}
