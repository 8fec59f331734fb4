import { resolve } from "node:path";
import { UserError } from "../errors.js";
import { detectLayout, METADATA_FILE, readSignals, resolveIn } from "./layout.js";
import { readOfficialSignals } from "./official-layout.js";
import type { Grid } from "./maps.js";

/** One sample of a run's gaze: where the model looked at each rationale step. */
export interface GazeSample {
  id: string;
  /** Absolute path of the sample's image. */
  image: string;
  /** The maps' patch grid (row-major maps of rows * cols). */
  grid: Grid;
  /** One distribution per step, each summing to 1. */
  steps: Float32Array[];
}

export interface GazeRunOptions {
  /** Folder the image paths are relative to (default: the run's folder). */
  images?: string;
}

/**
 * Lists a trajectory folder's samples (a teacher's signals, or a student's attention dump,
 * V_top not needed) through the signals reader, so every layout that reader knows works here.
 * Ids are the metadata's `id`, else its `question_id`.
 */
export function readGazeRun(dir: string, o: GazeRunOptions = {}): GazeSample[] {
  // The official builder's folders keep their images under data/images/ and may hold
  // non-square grids: read them on the teacher's own grid, as their reader gives it.
  const official = detectLayout(dir) === "official" ? readOfficialSignals(dir, null) : null;
  const { samples } = official ?? readSignals(dir, undefined, { vTop: false });
  const seen = new Set<string>();
  return samples.map((s, i) => {
    const raw = s.result.id ?? (s.result as { question_id?: unknown }).question_id;
    if (raw === undefined || raw === null || raw === "") throw new UserError(`${resolve(dir, METADATA_FILE)}: results.${i} has neither id nor question_id`);
    const id = String(raw);
    if (seen.has(id)) throw new UserError(`${resolve(dir, METADATA_FILE)}: results.${i}: sample ${id} appears twice`);
    seen.add(id);
    const side = Math.round(Math.sqrt(s.steps[0].length));
    const grid = official ? { rows: official.info[i].grid.h, cols: official.info[i].grid.w } : { rows: side, cols: side };
    const imagesRoot = o.images ?? (official ? resolve(dir, "data", "images") : dir);
    return { id, image: resolveIn(imagesRoot, s.result.image_relative_path), grid, steps: s.steps };
  });
}
