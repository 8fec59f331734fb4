import { existsSync, realpathSync, statSync } from "node:fs";
import { normalise } from "./maps.js";
import { isAbsolute, join, resolve } from "node:path";
import { isUserError, UserError } from "../errors.js";
import { assertInsideRoot, readRegularFile } from "../util/read-guard.js";
import { isWithin } from "../util/paths.js";
import { readPth, type PthDtype, type PthTensor } from "../io/pth.js";
import { imageSize } from "../io/jpeg.js";
import { bestGrid, resizeGrid } from "./grid.js";
import { checkDecodedSample, checkSample } from "./sample-check.js";
import type { SampleSignals, SignalResult, TrajectorySignals } from "./records.js";

/**
 * The official LaViT layout, as Svardfox/LaViT's builder
 * (data_construction/scripts/extract_viscot_trajectories.py) writes it under an output root:
 *
 *   data/metadata/lavit_15k_for_training.json   {"results": [{question_id (int), dataset, split,
 *       question, ground_truth_enriched, image_relative_path, v_top_path_abs, attention_path_abs}]}
 *   data/features/trajectories/sample_%06d_attention.json   {"steps": [{p_t, p_topk_idx, tau_used,
 *       method: "attention_based" | "grad_<aggregation>", ...}]}
 *   data/features/vtop/sample_%06d_v_top_layer.pth   torch.save of a bf16 tensor [N_img, d]
 *   data/images/<image_relative_path>
 *
 * Feature paths are absolute; when the root has moved or been copied they are found again under
 * the root by their `data/features/...` tail (as the official trainer resolves relative `data/...`
 * paths). Every path must resolve inside the root unless `allowOutsideRoot` is set.
 *
 * Joining with a lavit dataset (join.ts): `question_id` is the manifest sample's `id`, compared
 * as integers. lavit's writer also stores the sample's string `id` in each result (the official
 * reader ignores extra fields) and that is used first.
 */
export const OFFICIAL_METADATA = join("data", "metadata", "lavit_15k_for_training.json");
export const vtopName = (questionId: number) => `sample_${String(questionId).padStart(6, "0")}_v_top_layer.pth`;
export const trajectoryName = (questionId: number) => `sample_${String(questionId).padStart(6, "0")}_attention.json`;

export interface OfficialReadOptions {
  /** Metadata file (default: <root>/data/metadata/lavit_15k_for_training.json). */
  metadata?: string;
  /** Accept feature or image paths that resolve outside the root. */
  allowOutsideRoot?: boolean;
}

/** Where a sample came from, for summaries (`lavit signals check`). */
export interface OfficialSampleInfo {
  questionId: number;
  nImg: number;
  /** The teacher's grid for N_img: square, or the best grid from the image's aspect ratio. */
  grid: { h: number; w: number };
  /** V_top's dtype as stored (undefined when read without V_top). */
  dtype?: PthDtype;
  methods: string[];
}

export function isOfficialLayout(root: string, metadata?: string): boolean {
  return existsSync(metadata ?? join(root, OFFICIAL_METADATA));
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readRegularFile(file, "utf8");
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message can quote the file; say only where it failed.
    throw new UserError(`${file}: ${what} is not valid JSON`);
  }
}

/**
 * Resolves a path from the metadata: as written when it lies inside the root, else by its
 * `data/features/...` tail under the root (a moved or copied root), else as written outside the
 * root only with allowOutsideRoot. A path outside the root is refused by the read guard's one
 * message, whether it exists or not.
 */
function locate(root: string, rootReal: string, p: string, what: string, opts: OfficialReadOptions): string {
  const given = isAbsolute(p) ? p : resolve(root, p);
  const parts = p.split(/[\\/]/);
  const at = parts.lastIndexOf("data");
  const tail = at >= 0 && parts[at + 1] === "features" ? join(root, ...parts.slice(at)) : null;
  for (const c of [given, tail]) {
    if (c && existsSync(c) && isWithin(realpathSync(c), rootReal)) return realpathSync(c);
  }
  const checked = assertInsideRoot(root, p, what, opts.allowOutsideRoot);
  if (existsSync(checked)) return realpathSync(checked);
  throw new UserError(`${what} not found (${[given, tail].filter(Boolean).join(", also tried ")})`);
}

interface OfficialStep {
  p_t: number[];
  p_topk_idx: number[];
  method: string;
}

function parseTrajectory(file: string, name: string): OfficialStep[] {
  const raw = readJson(file, "trajectory");
  const steps = isObj(raw) ? raw.steps : undefined;
  if (!Array.isArray(steps) || steps.length === 0) throw new UserError(`${file}: ${name}: field steps must be a non-empty array`);
  return steps.map((s, t) => {
    const at = `${file}: ${name}: steps.${t}`;
    if (!isObj(s)) throw new UserError(`${at} is not an object`);
    const { p_t, p_topk_idx, method } = s;
    if (!Array.isArray(p_t) || p_t.length === 0) throw new UserError(`${at}.p_t must be a non-empty array of numbers`);
    const bad = p_t.findIndex((v) => typeof v !== "number" || !Number.isFinite(v) || v < 0);
    if (bad >= 0) throw new UserError(`${at}.p_t.${bad} is not a finite non-negative number`);
    if (!Array.isArray(p_topk_idx) || !p_topk_idx.every((i) => Number.isInteger(i) && i >= 0 && i < p_t.length))
      throw new UserError(`${at}.p_topk_idx must be indices into p_t`);
    if (typeof method !== "string" || !(method === "attention_based" || /^grad_\w+$/.test(method) || method === "attention" || method === "gradient"))
      throw new UserError(`${at}.method must be "attention_based" or "grad_<aggregation>"`);
    return { p_t: p_t as number[], p_topk_idx: p_topk_idx as number[], method };
  });
}

const str = (r: Json, k: string, name: string, file: string): string => {
  if (typeof r[k] !== "string") throw new UserError(`${file}: ${name}.${k} must be a string`);
  return r[k] as string;
};

/** An official root opened for reading: its metadata parsed, every sample read on demand. */
export interface OfficialIndex {
  metaFile: string;
  /** Every sample's metadata entry, in the file's order (feature paths resolved). */
  results: SignalResult[];
  /**
   * Reads sample i: its trajectory and (unless vTop is false) its V_top, on the target grid.
   * Only this sample's files are read.
   */
  read(i: number, vTop?: boolean): { sample: TrajectorySignals; info: OfficialSampleInfo };
}

/**
 * Opens an official-layout root for a student with a `grid` x `grid` patch layout: parses and
 * checks the metadata and finds every sample's files, reading none of them. Maps and V_top rows
 * are resized to that grid when N_img differs, as the official trainer does. With grid null they
 * stay on the teacher's own grid (for checking a folder).
 */
export function openOfficialSignals(root: string, grid: number | null, opts: OfficialReadOptions = {}): OfficialIndex {
  const metaFile = opts.metadata ?? join(root, OFFICIAL_METADATA);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`${root}: not a folder`);
  const rootReal = realpathSync(root);
  const raw = readJson(metaFile, "signals metadata");
  const entries = isObj(raw) ? raw.results : undefined;
  if (!Array.isArray(entries)) throw new UserError(`${metaFile}: field results must be an array`);
  if (entries.length === 0) throw new UserError(`${metaFile}: results is empty (no samples)`);
  const seen = new Set<number>();
  const results = entries.map((r, i): SignalResult => {
    if (!isObj(r)) throw new UserError(`${metaFile}: results.${i} is not an object`);
    const qid = r.question_id;
    if (!Number.isSafeInteger(qid) || (qid as number) < 0) throw new UserError(`${metaFile}: results.${i}.question_id must be a non-negative integer`);
    const questionId = qid as number;
    if (seen.has(questionId)) throw new UserError(`${metaFile}: results.${i}: question_id ${questionId} appears twice`);
    seen.add(questionId);
    const name = `sample ${questionId} (results.${i})`;
    const question = str(r, "question", `results.${i}`, metaFile);
    const groundTruth = str(r, "ground_truth_enriched", `results.${i}`, metaFile);
    const imageRel = str(r, "image_relative_path", `results.${i}`, metaFile);
    const trajFile = locate(root, rootReal, str(r, "attention_path_abs", `results.${i}`, metaFile), `${metaFile}: ${name}: attention_path_abs`, opts);
    const vFile = locate(root, rootReal, str(r, "v_top_path_abs", `results.${i}`, metaFile), `${metaFile}: ${name}: v_top_path_abs`, opts);
    return {
      ...r,
      id: typeof r.id === "string" ? r.id : undefined,
      question_id: questionId,
      question,
      ground_truth_enriched: groundTruth,
      image_relative_path: imageRel,
      v_top_path_abs: vFile,
      attention_path_abs: trajFile,
    };
  });
  const read = (i: number, withVTop = true): { sample: TrajectorySignals; info: OfficialSampleInfo } => {
    const result = results[i];
    const questionId = result.question_id!;
    const name = `sample ${questionId} (results.${i})`;
    const trajFile = result.attention_path_abs;
    const vFile = result.v_top_path_abs!;
    const steps = parseTrajectory(trajFile, name);
    let nImg = steps[0].p_t.length;
    let vt: PthTensor | undefined;
    if (withVTop) {
      vt = readPth(vFile);
      if (vt.shape.length !== 2) throw new UserError(`${vFile}: ${name}: V_top has shape [${vt.shape.join(", ")}], expected [N_img, d]`);
      nImg = vt.shape[0];
    }
    const pT = steps.map((s) => s.p_t);
    checkDecodedSample({ name, trajectoryFile: trajFile, pT, ...(vt ? { vTop: { file: vFile, rows: nImg, dim: vt.shape[1], data: vt.data } } : {}) });
    for (const [t, s] of steps.entries())
      if (s.p_t.length !== nImg) throw new UserError(`${name}: ${trajFile} steps.${t}.p_t has ${s.p_t.length} values but steps.0.p_t has ${nImg}`);
    // As the official trainer: the image's shape is consulted only when N_img is not the target
    // grid (and always when checking a folder without a target grid).
    let g = { h: grid ?? 0, w: grid ?? 0 };
    const imageRel = result.image_relative_path;
    if (grid === null || nImg !== grid * grid) {
      const imageFile = locate(
        root,
        rootReal,
        isAbsolute(imageRel) ? imageRel : join("data", "images", imageRel),
        `${metaFile}: ${name}: image_relative_path`,
        opts,
      );
      const { width, height } = imageSize(imageFile);
      g = bestGrid(nImg, width, height);
      // Every N_img factors (1 x N at worst); a grid far from the image's shape means the counts disagree.
      const ratio = g.h / g.w / (height / width);
      if (ratio > 2 || ratio < 0.5)
        throw new UserError(
          `${name}: ${nImg} image tokens fit no grid near the image's ${width}x${height} shape (best ${g.h}x${g.w}); p_t and V_top disagree with the image`,
        );
    }
    const H = grid ?? g.h;
    const W = grid ?? g.w;
    const same = g.h === H && g.w === W;
    const maps = steps.map((s) => normalise(resizeGrid(s.p_t, g.h, g.w, H, W)));
    const topk = steps.map((s, t) =>
      same ? s.p_topk_idx : [...maps[t].keys()].sort((a, b) => maps[t][b] - maps[t][a] || a - b).slice(0, s.p_topk_idx.length),
    );
    const info: OfficialSampleInfo = { questionId, nImg, grid: g, dtype: vt?.dtype, methods: [...new Set(steps.map((s) => s.method))] };
    if (!vt) return { sample: { result, steps: maps, topk }, info };
    const dim = vt.shape[1];
    const data = same ? vt.data : resizeGrid(vt.data, g.h, g.w, H, W, dim);
    return { sample: { result, steps: maps, topk, vTop: { rows: H * W, dim, data } }, info };
  };
  return { metaFile, results, read };
}

/** Reads every sample of an official root at once (small roots; big ones: openOfficialSignals). */
export function readOfficialSignals(
  root: string,
  grid: number | null,
  opts: OfficialReadOptions = {},
): { metadata: { results: SignalResult[] }; samples: SampleSignals[]; info: OfficialSampleInfo[] } {
  const index = openOfficialSignals(root, grid, opts);
  let width: number | undefined;
  const read = index.results.map((_, i) => {
    const r = index.read(i);
    width = checkSample(r.sample, `${index.metaFile}: results.${i}`, width);
    return r;
  });
  return { metadata: { results: index.results }, samples: read.map((r) => r.sample as SampleSignals), info: read.map((r) => r.info) };
}
