import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";
import { readDatasetInfo, readManifest } from "../data/manifest.js";
import { readSafetensors, SafetensorsError } from "../io/safetensors.js";
import { massOn } from "./maps.js";
import { detectLayout, METADATA_FILE, readSignals, resolveIn, type SampleSignals, type SignalsLayout } from "./layout.js";
import { joinIndex, readOfficialSignals, type OfficialReadOptions } from "./official-layout.js";

export interface CheckOptions extends OfficialReadOptions {
  /** A lavit dataset whose ground-truth patches give the grounding mass (joined by id / question_id). */
  data?: string;
  split?: string;
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
}

function lavitMeta(root: string): { grid?: unknown; method?: unknown } {
  const file = join(root, METADATA_FILE);
  try {
    const m = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return typeof m === "object" && m !== null ? (m as { grid?: unknown; method?: unknown }) : {};
  } catch {
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
 * non-square token counts, image) and summarises it. Throws UserError naming the first bad sample.
 */
export function checkSignals(root: string, opts: CheckOptions = {}): CheckSummary {
  if (!existsSync(root)) throw new UserError(`${root}: no such folder`);
  const layout = detectLayout(root, opts);
  if (!layout) throw new UserError(`${root}: not a signals folder in either layout`);
  let samples: SampleSignals[];
  const grids: Record<string, number> = {};
  let dtype = "";
  let methods: string[] = [];
  const dataGrid = opts.data ? readDatasetInfo(opts.data).size / readDatasetInfo(opts.data).patch : null;
  if (layout === "official") {
    // On the teacher's own grid unless a dataset fixes the student's.
    const r = readOfficialSignals(root, dataGrid, opts);
    samples = r.samples;
    for (const i of r.info) grids[`${i.grid.h}x${i.grid.w}`] = (grids[`${i.grid.h}x${i.grid.w}`] ?? 0) + 1;
    dtype = [...new Set(r.info.map((i) => i.dtype))].join(", ");
    methods = [...new Set(r.info.flatMap((i) => i.methods))];
  } else {
    const grid = lavitGrid(root, opts.data);
    samples = readSignals(root, grid).samples;
    grids[`${grid}x${grid}`] = samples.length;
    try {
      dtype = [...readSafetensors(resolveIn(root, samples[0].result.v_top_path_abs!)).tensors.values()][0].dtype;
    } catch (e) {
      if (e instanceof SafetensorsError) throw new UserError(e.message);
      throw e;
    }
    const meta = lavitMeta(root);
    methods = typeof meta.method === "string" ? [meta.method] : [];
  }
  const width = samples[0].vTop.dim;
  for (const [k, s] of samples.entries())
    if (s.vTop.dim !== width)
      throw new UserError(`${root}: sample ${s.result.id ?? s.result.question_id ?? k}: V_top width ${s.vTop.dim}, but the first sample's is ${width}`);
  const counts = samples.map((s) => s.steps.length);
  let grounding: number | null = null;
  let uniform: number | null = null;
  if (opts.data) {
    const split = opts.split ?? splitOf(root, layout, opts) ?? "train";
    const manifest = readManifest(opts.data, split);
    const byId = new Map(manifest.map((s, i) => [s.id, i]));
    let mass = 0;
    let floor = 0;
    let n = 0;
    for (const [k, s] of samples.entries()) {
      const i = joinIndex(s.result, byId, manifest.length);
      if (i === undefined) throw new UserError(`${root}: sample ${s.result.id ?? s.result.question_id ?? k} is not in ${opts.data} split ${split}`);
      const rationale = manifest[i].rationale;
      for (const [t, p] of s.steps.entries()) {
        const gt = rationale[t]?.patches ?? rationale.flatMap((x) => x.patches);
        mass += massOn(p, gt);
        floor += gt.length / p.length;
        n++;
      }
    }
    grounding = mass / Math.max(1, n);
    uniform = floor / Math.max(1, n);
  }
  return {
    layout,
    samples: samples.length,
    steps: {
      total: counts.reduce((a, b) => a + b, 0),
      min: Math.min(...counts),
      max: Math.max(...counts),
      mean: counts.reduce((a, b) => a + b, 0) / counts.length,
    },
    grids,
    v_top_width: width,
    v_top_dtype: dtype,
    methods,
    grounding_mass: grounding,
    grounding_mass_uniform: uniform,
  };
}

function splitOf(root: string, layout: SignalsLayout, opts: OfficialReadOptions): string | undefined {
  const file = layout === "lavit" ? join(root, "summary.json") : (opts.metadata ?? join(root, "data", "metadata", "lavit_15k_for_training.json"));
  if (!existsSync(file)) return undefined;
  try {
    const j = JSON.parse(readFileSync(file, "utf8")) as { split?: unknown; lavit?: { split?: unknown } };
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
  ];
  return lines.join("\n") + "\n";
}
