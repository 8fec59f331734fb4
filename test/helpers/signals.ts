import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { saveModel } from "../../src/model/checkpoint.js";
import { buildVlm } from "../../src/model/vlm.js";
import { extractSignals, type ExtractOptions } from "../../src/signals/extract.js";
import { extract } from "../../src/stages/extract.js";
import type { StudentOptions } from "../../src/stages/train-student.js";
import { initEngine } from "../../src/engine/index.js";
import { tinyConfig, tinyDataset } from "./tiny.js";

/**
 * An untrained tinyConfig teacher's attention signals on `data`, written to `dir` (lavit's
 * layout unless `extra` says otherwise): the student tests' usual signals.
 */
export async function randomTeacherSignals(data: LoadedSplit, dir: string, extra: Partial<ExtractOptions> = {}): Promise<void> {
  const teacher = buildVlm(tinyConfig(data.tokenizer.size), 5);
  try {
    await extractSignals(teacher, data.tokenizer, data, dir, { method: "attention", topk: 4, tau: 0.05, quiet: true, ...extra });
  } finally {
    teacher.dispose();
  }
}

/** A tiny dataset, an untrained teacher saved as a model folder, and its signals made by the `extract` stage. */
export interface TeacherFolders {
  /** The dataset folder. */
  data: string;
  /** Its train split, loaded. */
  split: LoadedSplit;
  /** The folder that holds teacher/ and signals/ (a test may put more there). */
  root: string;
  teacher: string;
  signals: string;
}

/** The set-up of the tests that run trainStudent itself: see TeacherFolders. */
export async function savedTeacherSignals(
  sizes: { teacherTrain: number; train: number; test: number },
  o: { layers: number; prefix: string },
): Promise<TeacherFolders> {
  await initEngine();
  const data = await tinyDataset(sizes);
  const split = loadSplit(data, "train");
  const root = mkdtempSync(join(tmpdir(), o.prefix));
  const t = buildVlm(tinyConfig(split.tokenizer.size, { layers: o.layers }), 1);
  const teacher = join(root, "teacher");
  saveModel(teacher, t.config, t.store, split.tokenizer, 0);
  t.dispose();
  const signals = join(root, "signals");
  await extract({ data, teacher, out: signals, quiet: true });
  return { data, split, root, teacher, signals };
}

/** A short LaViT student run on `f`'s data and signals, into a fresh folder; `o` adds or overrides. */
export function studentOptions(f: TeacherFolders, o: Partial<StudentOptions> = {}): StudentOptions {
  return {
    data: f.data,
    signals: f.signals,
    out: join(mkdtempSync(join(tmpdir(), "lavit-student-")), "s"),
    initFrom: null,
    latents: 2,
    steps: 5,
    batchSize: 4,
    logEvery: 1,
    seed: 4,
    quiet: true,
    ...o,
  };
}
