import { resolve } from "node:path";
import { UserError } from "../errors.js";
import { METADATA_FILE, openSignals } from "./layout.js";
import { OFFICIAL_METADATA } from "./official-layout.js";
import { assertInsideRoot } from "../util/read-guard.js";
import { idKey, resultId } from "./join.js";
import type { Grid } from "./maps.js";

/** One sample of a run's gaze: where the model looked at each rationale step. */
export interface GazeSample {
  /** The sample's id as the run names it (its `id`, else its `question_id`); join.ts compares them. */
  id: string;
  /** The question, when the run's metadata holds one. */
  question?: string;
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
  /** Read metadata paths (trajectories, images) that lead outside their folder (--allow-outside-root). */
  allowOutsideRoot?: boolean;
  /**
   * Other folders the user named that images may be in (a dataset: signals and attention dumps
   * point at the dataset's images); paths elsewhere are refused unless allowOutsideRoot.
   */
  imageRoots?: readonly string[];
}

/**
 * Lists a trajectory folder's samples (a teacher's signals, or a student's attention dump,
 * V_top never read) through the signals reader, so every layout that reader knows works here.
 * Ids are the metadata's `id`, else its `question_id`.
 */
export function readGazeRun(dir: string, o: GazeRunOptions = {}): GazeSample[] {
  // The official builder's folders keep their images under data/images/ and may hold
  // non-square grids: read them on the teacher's own grid, as their reader gives it.
  const source = openSignals(dir, undefined, { vTop: false, allowOutsideRoot: o.allowOutsideRoot });
  const official = source.layout === "official";
  const seen = new Set<string>();
  return source.results.map((result, i) => {
    const id = resultId(result);
    if (id === undefined) throw new UserError(`${resolve(dir, METADATA_FILE)}: results.${i} has neither id nor question_id`);
    if (seen.has(idKey(id))) throw new UserError(`${resolve(dir, METADATA_FILE)}: results.${i}: sample ${id} appears twice`);
    seen.add(idKey(id));
    const s = source.read(i);
    const side = Math.round(Math.sqrt(s.steps[0].length));
    const info = source.info(i);
    const grid = official && info ? { rows: info.grid.h, cols: info.grid.w } : { rows: side, cols: side };
    const imagesRoot = o.images ?? (official ? resolve(dir, "data", "images") : dir);
    const where = `${resolve(dir, official ? OFFICIAL_METADATA : METADATA_FILE)}: results.${i}: image_relative_path`;
    const image = assertInsideRoot(imagesRoot, result.image_relative_path, where, o.allowOutsideRoot, o.imageRoots);
    return { id, question: result.question, image, grid, steps: s.steps };
  });
}
