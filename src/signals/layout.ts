import { existsSync } from "node:fs";
import { normalise } from "./maps.js";
import { join, resolve, isAbsolute } from "node:path";
import { z } from "zod";
import { UserError } from "../errors.js";
import { readJson } from "../util/json.js";
import { assertInsideRoot } from "../util/read-guard.js";
import { readSafetensors, SafetensorsError, toFloat32 } from "../io/safetensors.js";
import { checkDecodedSample, checkSample } from "./sample-check.js";
import { resizeGrid } from "./grid.js";
import { resultSchema, type SampleSignals, type SignalResult, type TrajectorySignals } from "./records.js";
import { isOfficialLayout, OFFICIAL_METADATA, openOfficialSignals, type OfficialReadOptions, type OfficialSampleInfo } from "./official-layout.js";

/**
 * The LaViT signal layout (as the official extraction tools write it): a metadata JSON with
 * results[], one trajectory JSON per sample, one V_top tensor per sample. We write
 * safetensors for V_top and paths relative to the signals folder; absolute paths are read too.
 */
export const METADATA_FILE = "metadata.json";

export type { SampleSignals, SignalResult, TrajectorySignals } from "./records.js";

export const metadataSchema = z.object({ results: z.array(resultSchema) }).passthrough();

export const trajectorySchema = z
  .object({
    steps: z
      .array(
        z
          .object({
            p_t: z.array(z.number().min(0).max(1)).min(1),
            p_topk_idx: z.array(z.number().int().nonnegative()),
            method: z.enum(["attention", "gradient", "student_attention"]),
          })
          .passthrough(),
      )
      .min(1),
  })
  .passthrough();

export type Trajectory = z.infer<typeof trajectorySchema>;

export interface ReadSignalsOptions extends OfficialReadOptions {
  /** Read V_top (required for training). false: ignore it, so attention dumps and trajectory-only folders read. */
  vTop?: boolean;
}

export function resolveIn(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

/**
 * Bilinear resize of a square map (align_corners = false, as torch's interpolate), used when
 * the signals were extracted on another patch grid than the model's.
 */
export function resizeSquare(map: ArrayLike<number>, from: number, to: number): Float32Array {
  return resizeGrid(map, from, from, to, to);
}

export type SignalsLayout = "lavit" | "official";

/** Which layout a folder holds (lavit's metadata.json first), or null. */
export function detectLayout(dir: string, opts: OfficialReadOptions = {}): SignalsLayout | null {
  if (!opts.metadata && existsSync(join(dir, METADATA_FILE))) return "lavit";
  if (isOfficialLayout(dir, opts.metadata)) return "official";
  return null;
}

/**
 * A signals folder opened for reading, in either layout: the metadata is parsed at once (cheap),
 * a sample's trajectory and V_top are read only when asked for, so a root of any size is read
 * in bounded memory (keep what you need, drop the rest).
 */
export interface SignalsSource {
  dir: string;
  layout: SignalsLayout;
  /** Every sample's metadata entry, in the file's order. */
  results: SignalResult[];
  /** Reads sample i on the grid given to openSignals, with V_top unless opened with vTop: false. */
  read(i: number): TrajectorySignals;
  /** The official layout's record of sample i (teacher grid, dtype, methods) when i was the last sample read; undefined otherwise and for lavit's layout. */
  info(i: number): OfficialSampleInfo | undefined;
}

/**
 * Opens a signals folder, in lavit's layout or the official one (detected), for a model with a
 * `grid` x `grid` patch layout (undefined: each sample's own grid).
 */
export function openSignals(dir: string, grid: number | undefined, opts: ReadSignalsOptions = {}): SignalsSource {
  const withVTop = opts.vTop ?? true;
  const layout = detectLayout(dir, opts);
  if (!layout) throw new UserError(`${dir}: not a signals folder (neither ${METADATA_FILE} nor the official ${OFFICIAL_METADATA})`);
  let results: SignalResult[];
  let load: (i: number) => TrajectorySignals;
  const infos = new Map<number, OfficialSampleInfo>();
  if (layout === "official") {
    const index = openOfficialSignals(dir, grid ?? null, opts);
    results = index.results;
    load = (i) => {
      const r = index.read(i, withVTop);
      infos.clear();
      infos.set(i, r.info);
      return r.sample;
    };
  } else {
    const metaFile = join(dir, METADATA_FILE);
    results = readJson(metaFile, metadataSchema, { what: "signals metadata" }).results;
    if (results.length === 0) throw new UserError(`${metaFile}: results is empty (no samples)`);
    load = (i) => readLavitSample(dir, metaFile, results[i], i, grid, withVTop, opts);
  }
  let width: number | undefined;
  return {
    dir,
    layout,
    results,
    read(i) {
      const s = load(i);
      width = checkSample(s, `${dir}: results.${i}${s.result.id ? ` (sample ${s.result.id})` : ""}`, width);
      return s;
    },
    info: (i) => infos.get(i),
  };
}

function readLavitSample(
  dir: string,
  metaFile: string,
  result: SignalResult,
  i: number,
  grid: number | undefined,
  withVTop: boolean,
  opts: ReadSignalsOptions,
): TrajectorySignals {
  const name = `results.${i}${result.id ? ` (sample ${result.id})` : ""}`;
  const trajFile = assertInsideRoot(dir, resolveIn(dir, result.attention_path_abs), `${metaFile}: ${name}: attention_path_abs`, opts.allowOutsideRoot);
  if (!existsSync(trajFile)) throw new UserError(`${metaFile}: ${name}: trajectory file ${trajFile} is missing`);
  const traj = readJson(trajFile, trajectorySchema, { what: "trajectory" });
  const steps: Float32Array[] = [];
  const topk: number[][] = [];
  for (const [t, step] of traj.steps.entries()) {
    const from = Math.round(Math.sqrt(step.p_t.length));
    const to = grid ?? from;
    if (from * from !== step.p_t.length)
      throw new UserError(`${trajFile}: steps.${t}.p_t has ${step.p_t.length} values, not a square patch grid; cannot resize to ${to}x${to}`);
    steps.push(normalise(resizeSquare(step.p_t, from, to)));
    if (from === to) topk.push(step.p_topk_idx);
    else {
      const p = steps[steps.length - 1];
      topk.push([...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, step.p_topk_idx.length));
    }
  }
  const pT = traj.steps.map((step) => step.p_t);
  if (!withVTop) {
    checkDecodedSample({ name, trajectoryFile: trajFile, pT });
    return { result, steps, topk };
  }
  if (!result.v_top_path_abs)
    throw new UserError(`${metaFile}: ${name}: field v_top_path_abs is missing (a trajectory-only folder, such as an attention dump, cannot train a student)`);
  const vFile = assertInsideRoot(dir, resolveIn(dir, result.v_top_path_abs), `${metaFile}: ${name}: v_top_path_abs`, opts.allowOutsideRoot);
  let vTop: SampleSignals["vTop"];
  try {
    const t = [...readSafetensors(vFile).tensors.values()][0];
    if (!t || t.shape.length !== 2) throw new UserError(`${vFile}: expected one 2-D tensor [image tokens, width]`);
    vTop = { rows: t.shape[0], dim: t.shape[1], data: toFloat32(t) };
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UserError(e.message);
    throw e;
  }
  checkDecodedSample({ name, trajectoryFile: trajFile, pT, vTop: { file: vFile, ...vTop } });
  if (!result.image_relative_path) throw new UserError(`${metaFile}: ${name}: image_relative_path is empty`);
  return { result, steps, topk, vTop };
}

/**
 * Reads every sample of a signals folder at once, in lavit's layout or the official one
 * (detected), for a model with a `grid` x `grid` patch layout. For small folders; a big root is
 * read a sample at a time through openSignals.
 */
export function readSignals(dir: string, grid: number, opts?: OfficialReadOptions): { metadata: z.infer<typeof metadataSchema>; samples: SampleSignals[] };
export function readSignals(
  dir: string,
  grid: number | undefined,
  opts: ReadSignalsOptions,
): { metadata: z.infer<typeof metadataSchema>; samples: TrajectorySignals[] };
export function readSignals(
  dir: string,
  grid: number | undefined,
  opts: ReadSignalsOptions = {},
): { metadata: z.infer<typeof metadataSchema>; samples: TrajectorySignals[] } {
  const source = openSignals(dir, grid, opts);
  return { metadata: { results: source.results }, samples: source.results.map((_, i) => source.read(i)) };
}

export const SUMMARY_FILE = "summary.json";

/** The extraction's record of itself (split, method, settings): fields a newer lavit adds pass through. */
export const summarySchema = z.object({ split: z.string().optional() }).passthrough();

/** A signals folder's summary.json, or undefined for a folder without one (e.g. the official layout). */
export function readSignalsSummary(dir: string): z.infer<typeof summarySchema> | undefined {
  const file = join(dir, SUMMARY_FILE);
  if (!existsSync(file)) return undefined;
  return readJson(file, summarySchema, { what: "signals summary" });
}
