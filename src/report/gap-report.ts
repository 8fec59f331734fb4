/** gap.json's shape and its Markdown and HTML renderings. */
import type { GapMetrics } from "../eval/gap.js";
import { esc, lineChart } from "./charts.js";
import { explorerSection, type ExplorerData } from "./explorer.js";

export type GapSummary = GapMetrics & { samples: number };

export interface GapSampleRow {
  id: string;
  image: string;
  steps: number;
  /** Largest mean JS divergence between any two runs' maps of this sample (teacher included). */
  disagreement: number;
  teacher: GapMetrics;
  models: Record<string, GapMetrics>;
  uniform: GapMetrics;
}

export interface GapHeatmap {
  file: string;
  id: string;
  caption: string;
}

export interface GapReport {
  /** The teacher's own gaze (grounding mass and entropy; it is the reference for the rest). */
  teacher: GapSummary & { name: string; dir: string };
  models: Record<string, GapSummary>;
  /** Attention spread evenly over the image, scored against the same teacher maps: the scale. */
  uniform: GapSummary;
  /** Samples every folder holds (all figures are over these). */
  compared: number;
  /** Per folder: its samples, and how many of them are not in every folder (left out). */
  coverage: Record<string, { samples: number; not_compared: number }>;
  topk: number;
  regions: { kind: "boxes" | "dataset"; file: string; samples: number } | null;
  heatmaps: GapHeatmap[];
  per_sample: GapSampleRow[];
}

const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(4));

function tableRows(r: GapReport): { name: string; g: GapSummary }[] {
  return [
    { name: `${r.teacher.name} (teacher)`, g: r.teacher },
    ...Object.entries(r.models).map(([name, g]) => ({ name, g })),
    { name: "(uniform gaze)", g: r.uniform },
  ];
}

const COLUMNS = ["model", "samples", "js_to_teacher", "topk_iou", "grounding_mass", "entropy"];

function notes(r: GapReport): string[] {
  const out = [
    `js_to_teacher: Jensen-Shannon divergence (nats, 0 .. ln 2) to the teacher's map of the same sample and step, lower is closer; topk_iou: overlap of the ${r.topk} most-attended patches with the teacher's; grounding_mass: share of the map on the ground-truth region; entropy: nats. Each is the mean over steps, then over samples. (uniform gaze): even attention scored against the same teacher maps, the scale for the other rows.`,
    r.regions
      ? `Ground truth: ${r.regions.kind === "boxes" ? "boxes from" : "rationale patches of the dataset"} ${r.regions.file} (${r.regions.samples} of ${r.compared} samples).`
      : "No ground-truth regions given: no grounding mass.",
  ];
  const left = Object.entries(r.coverage).filter(([, c]) => c.not_compared > 0);
  out.push(
    left.length
      ? `Compared the ${r.compared} samples every folder holds; left out: ${left.map(([n, c]) => `${n} ${c.not_compared} of ${c.samples}`).join(", ")}.`
      : `All ${r.compared} samples are in every folder.`,
  );
  return out;
}

export function gapMarkdown(r: GapReport, withNotes = true): string {
  const lines = [`| ${COLUMNS.join(" | ")} |`, `|${COLUMNS.map(() => "---").join("|")}|`];
  for (const { name, g } of tableRows(r))
    lines.push(`| ${name} | ${g.samples} | ${fmt(g.js_to_teacher)} | ${fmt(g.topk_iou)} | ${fmt(g.grounding_mass)} | ${fmt(g.entropy)} |`);
  if (!withNotes) return lines.join("\n");
  return (
    [`# Perception Gap against ${r.teacher.name}`, "", ...lines, "", ...notes(r), "", ...r.heatmaps.map((h) => `![${h.id}](${h.file})\n\n${h.caption}\n`)].join(
      "\n",
    ) + "\n"
  );
}

/** A per-step figure over the explorer's samples: for each run, its mean at step 1, 2, ... */
function stepChart(x: ExplorerData, key: "js" | "mass", title: string, yLabel: string): string {
  const steps = Math.max(0, ...x.samples.map((s) => s.steps.length));
  const series = x.models.map((name) => ({
    name,
    points: Array.from({ length: steps }, (_, t) => {
      const v = x.samples.map((s) => s.runs[name]?.[key]?.[t]).filter((y): y is number => typeof y === "number" && Number.isFinite(y));
      return { x: t, y: v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN, note: `over ${v.length} samples` };
    }),
  }));
  return lineChart({
    title,
    xLabel: "rationale step",
    yLabel,
    xCategories: Array.from({ length: steps }, (_, t) => String(t + 1)),
    // The teacher has no JS to itself: a run without a single value is left out, not listed n/a.
    series: series.filter((r) => r.points.some((p) => Number.isFinite(p.y))),
    width: 520,
    height: 280,
  });
}

export function gapHtml(r: GapReport, explorer?: ExplorerData): string {
  const rows = tableRows(r)
    .map(
      ({ name, g }) =>
        `<tr><td>${esc(name)}</td><td>${g.samples}</td><td>${fmt(g.js_to_teacher)}</td><td>${fmt(g.topk_iou)}</td><td>${fmt(g.grounding_mass)}</td><td>${fmt(g.entropy)}</td></tr>`,
    )
    .join("\n");
  const figures = r.heatmaps.map((h) => `<figure><img src="${esc(h.file)}" alt="${esc(h.id)}"><figcaption>${esc(h.caption)}</figcaption></figure>`).join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Perception Gap: ${esc(r.teacher.name)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}img{max-width:100%;image-rendering:pixelated}</style>
</head><body>
<h1>Perception Gap against ${esc(r.teacher.name)}</h1>
<table id="models"><thead><tr>${COLUMNS.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>
${rows}
</tbody></table>
${notes(r)
  .map((n) => `<p>${esc(n)}</p>`)
  .join("\n")}
${explorer ? `<div class="charts">${stepChart(explorer, "js", "JS to the teacher by step", "JS divergence (nats)")}${r.regions ? stepChart(explorer, "mass", "grounding mass by step", "share of the map on the ground truth") : ""}</div>` : ""}
<h2>Explore the samples</h2>
${explorer ? explorerSection(explorer) : "<p>n/a</p>"}
<h2>Where the runs differ most</h2>
<section id="heatmaps">
${figures}
</section>
</body></html>
`;
}
