import { existsSync } from "node:fs";
import { join } from "node:path";
import { isUserError, UserError } from "../errors.js";
import { assertInsideRoot, readRegularFile } from "../util/read-guard.js";
import { readDatasetInfo, readManifest, type Sample } from "../data/manifest.js";
import { readSafetensors, SafetensorsError } from "../io/safetensors.js";
import { massOn, stepPatches } from "./maps.js";
import { detectLayout, METADATA_FILE, openSignals, type SignalsLayout } from "./layout.js";
import type { OfficialReadOptions } from "./official-layout.js";
import { checkJoin, joinSignals } from "./join.js";

export interface CheckOptions extends OfficialReadOptions {
  /** A lavit dataset whose ground-truth patches give the grounding mass (joined by id / question_id). */
  data?: string;
  split?: string;
  /** With data: a sample in the signals but not in the split, or the reverse, is an error (else counted). */
  strict?: boolean;
}

export interface CheckSummary {
  layout: SignalsLayout;
  samples: number;
  steps: { total: number; min: number; max: number; mean: number };
  /** Teacher grids found ("h x w" -> samples). */
  grids: Record<string, number>;
  v_top_width: number;
  v_top_dtype: string;
  methods: string[];
  /** Mean fraction of each step's map on its ground-truth patches; null when regions are unknown. */
  grounding_mass: number | null;
  grounding_mass_uniform: number | null;
  /** With a dataset: samples joined, and those on one side only (join.ts). */
  join?: { samples: number; only_in_signals: number; only_in_data: number };
}

function lavitMeta(root: string): { grid?: unknown; method?: unknown } {
  const file = join(root, METADATA_FILE);
  try {
    const m = JSON.parse(readRegularFile(file, "utf8")) as unknown;
    return typeof m === "object" && m !== null ? (m as { grid?: unknown; method?: unknown }) : {};
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: signals metadata is not valid JSON`);
  }
}

function lavitGrid(root: string, data?: string): number {
  if (data) {
    const info = readDatasetInfo(data);
    return info.size / info.patch;
  }
  const meta = lavitMeta(root);
  if (typeof meta.grid === "number" && Number.isInteger(meta.grid) && meta.grid > 0) return meta.grid;
  throw new UserError(`${join(root, METADATA_FILE)}: no grid field; pass --data <dataset> to give the patch grid`);
}

/**
 * Validates a signals folder in either layout (every sample's trajectory, V_top and, for
 * non-square token counts, image) and summarises it, one sample at a time: memory stays that of
 * one sample whatever the folder's size. Throws UserError naming the first bad sample.
 */
export function checkSignals(root: string, opts: CheckOptions = {}): CheckSummary {
  if (!existsSync(root)) throw new UserError(`${root}: no such folder`);
  const layout = detectLayout(root, opts);
  if (!layout) throw new UserError(`${root}: not a signals folder in either layout`);
  const grids: Record<string, number> = {};
  const dtypes = new Set<string>();
  const methods = new Set<string>();
  const info = opts.data ? readDatasetInfo(opts.data) : null;
  // Official: on the teacher's own grid unless a dataset fixes the student's.
  const grid = layout === "official" ? (info ? info.size / info.patch : undefined) : lavitGrid(root, opts.data);
  const source = openSignals(root, grid, opts);
  if (layout === "lavit") {
    const first = source.results[0].v_top_path_abs;
    try {
      // A missing field is reported by the sample's own read below; a path outside the root, here.
      if (first)
        dtypes.add(
          [
            ...readSafetensors(
              assertInsideRoot(root, first, `${join(root, METADATA_FILE)}: results.0: v_top_path_abs`, opts.allowOutsideRoot),
            ).tensors.values(),
          ][0].dtype,
        );
    } catch (e) {
      if (e instanceof SafetensorsError) throw new UserError(e.message);
      throw e;
    }
    const meta = lavitMeta(root);
    if (typeof meta.method === "string") methods.add(meta.method);
  }
  // With a dataset: which manifest sample each result stands for (join.ts), for the grounding mass.
  let manifest: Sample[] | undefined;
  let sampleOf: Map<number, number> | undefined;
  let joined: CheckSummary["join"];
  if (opts.data) {
    const split = opts.split ?? splitOf(root, layout, opts) ?? "train";
    manifest = readManifest(opts.data, split);
    const where = { signals: root, data: opts.data, split };
    const j = joinSignals(source.results, manifest, where);
    checkJoin(j, where, opts.strict ?? false);
    sampleOf = new Map(j.pairs.map((p) => [p.result, p.sample]));
    joined = { samples: j.pairs.length, only_in_signals: j.onlyInSignals.length, only_in_data: j.onlyInData.length };
  }
  let width = -1;
  const counts: number[] = [];
  let mass = 0;
  let floor = 0;
  let n = 0;
  for (let k = 0; k < source.results.length; k++) {
    const s = source.read(k);
    const o = source.info(k);
    if (o) {
      grids[`${o.grid.h}x${o.grid.w}`] = (grids[`${o.grid.h}x${o.grid.w}`] ?? 0) + 1;
      if (o.dtype) dtypes.add(o.dtype);
      for (const m of o.methods) methods.add(m);
    } else grids[`${grid}x${grid}`] = (grids[`${grid}x${grid}`] ?? 0) + 1;
    // source.read has refused a sample whose width is not the first's (sample-check.ts).
    width = s.vTop!.dim;
    counts.push(s.steps.length);
    const i = sampleOf?.get(k);
    if (manifest && i !== undefined) {
      for (const [t, p] of s.steps.entries()) {
        const gt = stepPatches(manifest[i], t);
        if (!gt.length) continue; // region unknown (imported without boxes): no grounding mass
        mass += massOn(p, gt);
        floor += gt.length / p.length;
        n++;
      }
    }
  }
  const total = counts.reduce((a, b) => a + b, 0);
  return {
    layout,
    samples: counts.length,
    steps: { total, min: counts.reduce((a, b) => Math.min(a, b)), max: counts.reduce((a, b) => Math.max(a, b)), mean: total / counts.length },
    grids,
    v_top_width: width,
    v_top_dtype: [...dtypes].join(", "),
    methods: [...methods],
    grounding_mass: manifest && n ? mass / n : null,
    grounding_mass_uniform: manifest && n ? floor / n : null,
    ...(joined ? { join: joined } : {}),
  };
}

function splitOf(root: string, layout: SignalsLayout, opts: OfficialReadOptions): string | undefined {
  const file = layout === "lavit" ? join(root, "summary.json") : (opts.metadata ?? join(root, "data", "metadata", "lavit_15k_for_training.json"));
  if (!existsSync(file)) return undefined;
  try {
    const j = JSON.parse(readRegularFile(file, "utf8")) as { split?: unknown; lavit?: { split?: unknown } };
    const s = layout === "lavit" ? j.split : j.lavit?.split;
    return typeof s === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

export function formatCheck(root: string, s: CheckSummary): string {
  const lines = [
    `${root}: ${s.layout} layout, ${s.samples} samples`,
    `steps: ${s.steps.total} (${s.steps.min}-${s.steps.max} per sample, mean ${s.steps.mean.toFixed(2)})`,
    `teacher grid: ${Object.entries(s.grids)
      .map(([g, n]) => `${g} (${n})`)
      .join(", ")}`,
    `V_top: width ${s.v_top_width}, dtype ${s.v_top_dtype}`,
    `methods: ${s.methods.join(", ") || "unknown"}`,
    s.grounding_mass === null
      ? "grounding mass: unknown (regions known only with --data <lavit dataset>)"
      : `grounding mass: ${s.grounding_mass.toFixed(3)} (uniform ${s.grounding_mass_uniform!.toFixed(3)})`,
    ...(s.join
      ? [`joined with the dataset: ${s.join.samples} samples, ${s.join.only_in_signals} in the signals only, ${s.join.only_in_data} in the split only`]
      : []),
  ];
  return lines.join("\n") + "\n";
}
