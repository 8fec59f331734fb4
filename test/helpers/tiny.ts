import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDataset } from "../../src/data/generate.js";
import { GENERATE_DEFAULTS } from "../../src/stages/generate.js";
import type { VlmConfig } from "../../src/model/config.js";
import { initEngine } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";

/** A VLM small enough for unit tests: 32 px images in 8 px patches (16 image tokens). */
export function tinyConfig(
  vocab: number,
  o: { hidden?: number; layers?: number; maxPositions?: number; latents?: number; teacherHidden?: number } = {},
): VlmConfig {
  const hidden = o.hidden ?? 24;
  return {
    model_type: "lavit-vlm",
    vision: { image_size: 32, patch_size: 8, channels: 3, hidden_size: 16, num_layers: 1, num_heads: 2, mlp_size: 32 },
    decoder: {
      vocab_size: vocab,
      hidden_size: hidden,
      num_layers: o.layers ?? 2,
      num_heads: 2,
      ffn_size: 32,
      max_positions: o.maxPositions ?? 96,
      rope_base: 10000,
      rms_eps: 1e-6,
    },
    ...(o.latents ? { latent: { num_latents: o.latents, teacher_hidden_size: o.teacherHidden ?? 24 } } : {}),
  };
}

/** A fresh dataset folder of 32 px scenes matching tinyConfig, with the given split sizes. */
export async function tinyDataset(sizes: { teacherTrain: number; train: number; test: number }): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), "lavit-tiny-")), "d");
  mkdirSync(dir);
  await generateDataset(dir, { ...GENERATE_DEFAULTS, size: 32, patch: 8, ...sizes, quiet: true });
  return dir;
}

/** The engine started and one split of a fresh tiny dataset loaded: the usual test set-up. */
export async function tinySplit(sizes: { teacherTrain: number; train: number; test: number }, split = "teacher-train"): Promise<LoadedSplit> {
  await initEngine();
  return loadSplit(await tinyDataset(sizes), split);
}
