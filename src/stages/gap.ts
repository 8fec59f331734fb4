import { basename, join, resolve } from "node:path";
import { withDefaults } from "./defaults.js";
import { UserError } from "../errors.js";
import { readDatasetInfo, readManifest, checkSplit, type Sample } from "../data/manifest.js";
import { encodePng } from "../data/png.js";
import { imageSize, readImageAny } from "../data/read-image.js";
import { jensenShannon, mapGaze, meanGap, uniformGap, type GapMetrics, type StepRegions } from "../eval/gap.js";
import { gapHtml, gapMarkdown, type GapHeatmap, type GapReport, type GapSampleRow } from "../report/gap-report.js";
import { overlayPanel, tileRasters, type Raster } from "../report/overlay.js";
import { readGazeRun, type GazeSample } from "../signals/gaze-run.js";
import { idKey, joinSignals } from "../signals/join.js";
import { massOn, resizeMap, toDistribution, type Grid } from "../signals/maps.js";
import { quantiseMaps, roundSeries, thumbnail, type ExplorerSample } from "../report/explorer.js";
import { boxesToPatches, datasetRegionBoxes, readBoxes, type Box, type SampleRegionBoxes } from "../signals/regions.js";
import { buildDirAtomic } from "../util/atomic.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { Rng } from "../util/rng.js";
import { z } from "zod";
import { countOrZero, flag, intIn, named, positiveInt, seedField, text, validateOptions } from "./options-schema.js";

export interface GapOptions {
  /** The reference trajectory folder (a teacher's signals). */
  teacher: string;
  /** Folders to compare with it (attention dumps, other teachers' signals). */
  compare: string[];
  out: string;
  /** Ground-truth boxes in image pixels: JSONL `{question_id, boxes}` or a JSON array (Visual-CoT `bbox`). */
  boxes?: string;
  /** Ground truth from a lavit dataset's manifest (its rationale steps' patches): the dataset folder, with `split`. */
  data?: string;
  split?: string;
  /** Folder the image paths are relative to (default: each trajectory folder). */
  images?: string;
  /** Fail when a sample is in one folder but not another (default: compare the samples all folders have). */
  strict?: boolean;
  /** k of the top-k IoU. */
  topk?: number;
  /** Heatmaps of the samples where the maps differ most... */
  show?: number;
  /** ...plus this many others picked at random (seeded). */
  random?: number;
  seed?: number;
  /** Longer side of a heatmap panel, in pixels. */
  maxSide?: number;
  /** Replace an --out folder an earlier `lavit gap` wrote. */
  force?: boolean;
  /** Read metadata paths (trajectories, images) that lead outside their folder. */
  allowOutsideRoot?: boolean;
  quiet?: boolean;
}

/** What `gap` reads and writes (the output guard's declaration; the CLI shares it). */
export const GAP_IO: IoSpec = {
  teacher: input(),
  compare: input(),
  boxes: input(),
  data: input(),
  images: input(),
  out: outputFolder("gap"),
};

export const GAP_DEFAULTS = { topk: 8, show: 4, random: 2, seed: 0, strict: false, maxSide: 256, quiet: false } satisfies Partial<GapOptions>;

/** The options of `gap` and their ranges (the CLI's parsers read them from here). */
export const gapOptionsSchema = named(
  z
    .object({
      teacher: text(),
      compare: z.array(text()).min(1),
      out: text(),
      boxes: text().optional(),
      data: text().optional(),
      split: text().optional(),
      images: text().optional(),
      strict: flag().optional(),
      topk: positiveInt().optional(),
      show: countOrZero().optional(),
      random: countOrZero().optional(),
      seed: seedField().optional(),
      maxSide: intIn(16, 4096).optional(),
      force: flag().optional(),
      allowOutsideRoot: flag().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "gap option",
);

/** Regions of one sample, per step on the teacher's grid, plus its pixel boxes for drawing. */
interface Regions {
  at: StepRegions;
  boxes: (t: number) => Box[];
}

function regionsFor(r: SampleRegionBoxes, size: { width: number; height: number }, grid: Grid): Regions {
  const pick = (t: number) => r.steps[Math.min(t, r.steps.length - 1)];
  const cache = new Map<number, number[]>();
  return {
    at: (t) => {
      const k = Math.min(t, r.steps.length - 1);
      if (!cache.has(k)) cache.set(k, boxesToPatches(r.steps[k], size.width, size.height, grid));
      return cache.get(k)!;
    },
    boxes: pick,
  };
}

function uniqueNames(dirs: readonly string[]): string[] {
  const used = new Map<string, number>();
  return dirs.map((d) => {
    const base = basename(resolve(d));
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/** Mean JS divergence between two runs' maps of one sample, over the steps both wrote. */
function divergence(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return mapGaze(a, undefined, b).js_to_teacher!;
}

/**
 * The Perception Gap of any runs against a teacher's trajectories: per sample and overall,
 * js_to_teacher, top-k IoU, grounding mass (where regions are known) and entropy, with the
 * even-gaze reference; written as gap.json, gap.md and gap.html (heatmaps over the images).
 */
export async function gap(options: GapOptions): Promise<GapReport> {
  validateOptions(gapOptionsSchema, options);
  const o = withDefaults(GAP_DEFAULTS, options);
  if (!o.compare.length) throw new UserError("--compare: give at least one folder to compare with the teacher");
  if ((o.data === undefined) !== (o.split === undefined))
    throw new UserError("--data and --split go together (the dataset whose rationale patches are the ground truth)");
  if (o.data && o.boxes) throw new UserError("give either --boxes or --data/--split as the ground truth, not both");
  if (o.split) checkSplit(o.split);
  return withOutputs(GAP_IO, o, () => gapInto(o));
}

async function gapInto(o: GapOptions & typeof GAP_DEFAULTS): Promise<GapReport> {
  // Images may be in the folder itself, under --images, or in the --data dataset (where signals and dumps point).
  const read = { images: o.images, allowOutsideRoot: o.allowOutsideRoot, imageRoots: o.data ? [o.data] : [] };
  const teacher = readGazeRun(o.teacher, read);
  // Samples are matched by id as join.ts compares them ("000017" is question_id 17).
  const runs = o.compare.map((dir) => new Map(readGazeRun(dir, read).map((s) => [idKey(s.id), s])));
  const names = uniqueNames(o.compare);
  const teacherName = basename(resolve(o.teacher));

  const common = teacher.filter((s) => runs.every((r) => r.has(idKey(s.id))));
  const commonIds = new Set(common.map((s) => idKey(s.id)));
  const coverage: GapReport["coverage"] = { [teacherName]: { samples: teacher.length, not_compared: teacher.length - common.length } };
  runs.forEach((r, k) => (coverage[names[k]] = { samples: r.size, not_compared: [...r.keys()].filter((id) => !commonIds.has(id)).length }));
  const unmatched = Object.entries(coverage).filter(([, c]) => c.not_compared > 0);
  if (o.strict && unmatched.length)
    throw new UserError(
      `--strict: the folders hold different samples (${unmatched.map(([n, c]) => `${n}: ${c.not_compared} of ${c.samples} not in every folder`).join("; ")})`,
    );
  if (!common.length) throw new UserError(`${o.teacher} and ${o.compare.join(", ")} have no sample id in common`);

  let regionBoxes: Map<string, SampleRegionBoxes> | undefined;
  let manifestById: Map<string, Sample> | undefined;
  let regionSize: ((s: GazeSample) => { width: number; height: number }) | undefined;
  if (o.boxes) {
    regionBoxes = new Map([...readBoxes(o.boxes)].map(([id, boxes]) => [idKey(id), { steps: [boxes] }]));
    regionSize = (s) => imageSize(s.image);
  } else if (o.data && o.split) {
    const info = readDatasetInfo(o.data);
    const manifest = readManifest(o.data, o.split);
    // The same join as training's: a sample whose question differs from the dataset's is refused.
    const where = { signals: o.teacher, data: o.data, split: o.split };
    const j = joinSignals(teacher, manifest, where);
    if (j.onlyInSignals.length) {
      const notice = `${o.teacher}: ${j.onlyInSignals.length} of ${teacher.length} samples are not in ${o.data} split ${o.split} (no ground truth for them)`;
      if (o.strict) throw new UserError(`--strict: ${notice}`);
      process.stderr.write(notice + "\n");
    }
    regionBoxes = new Map([...datasetRegionBoxes(manifest, info.size, info.size / info.patch)].map(([id, r]) => [idKey(id), r]));
    manifestById = new Map(manifest.map((m) => [idKey(m.id), m]));
    regionSize = () => ({ width: info.size, height: info.size });
  }

  const rows: GapSampleRow[] = [];
  const regions: (Regions | undefined)[] = [];
  const teacherMaps: Float32Array[][] = [];
  const modelMaps: Float32Array[][][] = [];
  for (const t of common) {
    const rb = regionBoxes?.get(idKey(t.id));
    const reg = rb ? regionsFor(rb, regionSize!(t), t.grid) : undefined;
    const maps = runs.map((r) => {
      const s = r.get(idKey(t.id))!;
      return s.grid.rows === t.grid.rows && s.grid.cols === t.grid.cols ? s.steps : s.steps.map((p) => toDistribution(resizeMap(p, s.grid, t.grid)));
    });
    const all = [t.steps, ...maps];
    let disagreement = 0;
    for (let a = 0; a < all.length; a++) for (let b = a + 1; b < all.length; b++) disagreement = Math.max(disagreement, divergence(all[a], all[b]));
    const own = mapGaze(t.steps, reg?.at);
    rows.push({
      id: t.id,
      image: t.image,
      steps: t.steps.length,
      disagreement,
      teacher: own,
      models: Object.fromEntries(maps.map((m, k) => [names[k], mapGaze(m, reg?.at, t.steps, o.topk)])),
      uniform: uniformGap([t.steps], [reg?.at]),
    });
    regions.push(reg);
    teacherMaps.push(t.steps);
    modelMaps.push(maps);
  }

  const withCount = (g: GapMetrics) => ({ ...g, samples: rows.length });
  const report: GapReport = {
    teacher: { name: teacherName, dir: resolve(o.teacher), ...withCount(meanGap(rows.map((r) => r.teacher))) },
    models: Object.fromEntries(names.map((n) => [n, withCount(meanGap(rows.map((r) => r.models[n])))])),
    uniform: withCount(
      uniformGap(
        teacherMaps,
        regions.map((r) => r?.at),
      ),
    ),
    compared: rows.length,
    coverage,
    topk: o.topk,
    regions: o.boxes
      ? { kind: "boxes", file: resolve(o.boxes), samples: regions.filter(Boolean).length }
      : o.data
        ? { kind: "dataset", file: resolve(o.data), samples: regions.filter(Boolean).length }
        : null,
    heatmaps: [],
    per_sample: rows,
  };

  // The samples where the runs' maps differ most, then a few others at random (seeded).
  const order = rows.map((_, i) => i).sort((a, b) => rows[b].disagreement - rows[a].disagreement || a - b);
  const chosen = order.slice(0, o.show).concat(new Rng(o.seed).shuffle(order.slice(o.show)).slice(0, o.random));
  const rendered: { heat: GapHeatmap; raster: Raster }[] = chosen.map((i, k) => {
    const row = rows[i];
    const img = readImageAny(row.image);
    const grid = common[i].grid;
    const steps = Math.min(2, teacherMaps[i].length);
    const panels: Raster[] = [];
    for (let t = 0; t < steps; t++) {
      const deco = { outline: regions[i]?.at(t) ?? [], boxes: o.boxes ? regions[i]?.boxes(t) : undefined, maxSide: o.maxSide };
      panels.push(overlayPanel(img, null, grid, deco));
      panels.push(overlayPanel(img, teacherMaps[i][t], grid, deco));
      for (const maps of modelMaps[i]) panels.push(overlayPanel(img, maps[t] ?? null, grid, deco));
    }
    const file = `heatmaps/${String(k).padStart(2, "0")}-${row.id.replace(/[^A-Za-z0-9_-]/g, "_")}.png`;
    const why = k < Math.min(o.show, rows.length) ? `differ most (max JS between runs ${row.disagreement.toFixed(3)})` : "picked at random";
    return {
      heat: {
        file,
        id: row.id,
        caption: `${row.id} (${why}). Columns: image, ${[teacherName, ...names].join(", ")}; rows: steps 1..${steps}${regions[i] ? "; outlined: ground-truth region" : ""}.`,
      },
      raster: tileRasters(panels, 2 + names.length),
    };
  });
  report.heatmaps = rendered.map((r) => r.heat);

  const explored = common.map((t, i) =>
    explorerSample(t, manifestById?.get(idKey(t.id)), o.split, regions[i], [
      [teacherName, teacherMaps[i]],
      ...names.map((n, k) => [n, modelMaps[i][k]] as const),
    ]),
  );
  // Built in a temp sibling and renamed into place, marked as lavit's, so --force may replace it.
  await buildDirAtomic(
    resolve(o.out),
    (tmp) => {
      mkdirSync(join(tmp, "heatmaps"), { recursive: true });
      for (const r of rendered) writeFileSync(join(tmp, r.heat.file), encodePng(r.raster.rgb, r.raster.width, r.raster.height));
      writeFileSync(join(tmp, "gap.json"), JSON.stringify(report, null, 2) + "\n");
      writeFileSync(join(tmp, "gap.md"), gapMarkdown(report));
      writeFileSync(
        join(tmp, "gap.html"),
        gapHtml(report, { models: [teacherName, ...names], samples: explored, sort: { metric: "js", a: names[0], b: names[1] ?? "" } }),
      );
    },
    "gap",
  );
  if (!o.quiet) process.stdout.write(gapMarkdown(report, false) + `\nreport: ${join(o.out, "gap.html")}\n`);
  return report;
}

/** One sample for gap.html's explorer: each run's per-step JS to the teacher and mass, and its maps quantised. */
function explorerSample(
  t: GazeSample,
  m: Sample | undefined,
  split: string | undefined,
  reg: Regions | undefined,
  runs: readonly (readonly [string, readonly Float32Array[]])[],
): ExplorerSample {
  const teacher = runs[0][1];
  const steps = Math.max(...runs.map(([, maps]) => maps.length));
  const truth = reg && Array.from({ length: steps }, (_, k) => [...new Set(reg.at(k))]);
  let image: ExplorerSample["image"];
  try {
    const img = readImageAny(t.image);
    image = thumbnail(img.rgb, img.width, img.height);
  } catch {
    // An unreadable image costs the explorer its background only; the maps and figures stand.
    image = undefined;
  }
  return {
    id: t.id,
    ...(m ? { split, family: m.family, answer: m.answer } : {}),
    question: m?.question ?? t.question,
    image,
    grid: t.grid,
    steps: Array.from({ length: steps }, (_, k) => ({ text: m?.rationale[k]?.text, truth: truth?.[k] })),
    runs: Object.fromEntries(
      runs.map(([name, maps], r) => [
        name,
        {
          ...(truth ? { mass: roundSeries(maps.map((p, k) => massOn(p, truth[k], 1))) } : {}),
          ...(r > 0 ? { js: roundSeries(maps.map((p, k) => (teacher[k] ? jensenShannon(p, teacher[k]) : null))) } : {}),
          maps: quantiseMaps(maps),
        },
      ]),
    ),
  };
}
