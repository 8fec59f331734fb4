import type { ThoughtsReadout } from "../eval/result.js";
import { esc, lineChart } from "../report/charts.js";
import { explorerSection, type ExplorerData } from "../report/explorer.js";
import type { HeatmapFigure } from "./heatmaps.js";

export const REPORT_METRICS = ["accuracy", "pair_accuracy", "js_to_teacher", "topk_iou", "grounding_mass", "entropy", "yes_rate", "yes_truth"] as const;
export type ReportMetric = (typeof REPORT_METRICS)[number];
export type SplitReport = Partial<Record<ReportMetric | `${ReportMetric}_std`, number>>;

export interface DemoReport {
  seeds: number[];
  results: Record<string, Record<string, SplitReport>>;
  /** Per split: the gaze metrics of attention spread evenly over the image, for scale. */
  reference: Record<string, SplitReport>;
  config: Record<string, unknown>;
  verdict: Verdict;
  timings_s: Record<string, number>;
}

export interface Verdict {
  ood_gain_points: number;
  /** LaViT minus the same student without its alignment losses, on test-ood (null without a no-align student). */
  alignment_gain_points: number | null;
  pair_gain_points: number | null;
  /** Of LaViT's latent thoughts when it has them, else of its gaze while writing; against distill's gaze while writing. */
  js_reduction: number | null;
  grounding_mass_gain: number | null;
  /** Even gaze's js_to_teacher over LaViT's: how far a constant is from the teacher compared with LaViT. */
  even_gaze_ratio: number | null;
  lavit_wins: boolean;
  statement: string;
}

/** Means (and sample standard deviations when there are several seeds) over per-seed results. */
export function aggregate(
  perSeed: readonly Record<string, Record<string, Partial<Record<ReportMetric, number>>>>[],
): Record<string, Record<string, SplitReport>> {
  const out: Record<string, Record<string, SplitReport>> = {};
  const models = Object.keys(perSeed[0]);
  for (const model of models) {
    out[model] = {};
    for (const split of Object.keys(perSeed[0][model])) {
      const r: SplitReport = {};
      for (const metric of REPORT_METRICS) {
        const values = perSeed.map((s) => s[model]?.[split]?.[metric]).filter((v): v is number => typeof v === "number");
        if (!values.length) continue;
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        r[metric] = mean;
        if (values.length > 1) r[`${metric}_std`] = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
      }
      out[model][split] = r;
    }
  }
  return out;
}

/**
 * The results row of where a student's latent thoughts look, step by step, named by its
 * read-out: its trajectory head's maps (only when the head was trained), or the latents' own
 * attention to the image.
 */
export function thoughtsRow(model: string, readout: ThoughtsReadout): string {
  return `${model} thoughts (${readout})`;
}

/** What the numbers say about LaViT vs the distill baseline, stated plainly either way. */
export function verdict(results: DemoReport["results"], reference?: DemoReport["reference"]): Verdict {
  const l = results.lavit?.["test-ood"];
  const d = results.distill?.["test-ood"];
  const lp = results.lavit?.["test-pairs"];
  const dp = results.distill?.["test-pairs"];
  const gain = 100 * ((l?.accuracy ?? 0) - (d?.accuracy ?? 0));
  const na = results["no-align"]?.["test-ood"];
  const alignGain = na?.accuracy !== undefined && l?.accuracy !== undefined ? 100 * (l.accuracy - na.accuracy) : null;
  const pairGain = lp?.pair_accuracy !== undefined && dp?.pair_accuracy !== undefined ? 100 * (lp.pair_accuracy - dp.pair_accuracy) : null;
  // LaViT's gaze is where its latent thoughts look (the method's claim); distill has no thoughts, only its gaze while writing.
  const readout = (["head", "attention"] as const).find((r) => results[thoughtsRow("lavit", r)]?.["test-ood"]);
  const thoughts = readout && results[thoughtsRow("lavit", readout)]["test-ood"];
  const g = thoughts ?? l;
  const gazeName = thoughts ? `LaViT's latent thoughts (${readout === "head" ? "trajectory head" : "their own attention"})` : "LaViT";
  const js = g?.js_to_teacher !== undefined && d?.js_to_teacher ? 1 - g.js_to_teacher / d.js_to_teacher : null;
  const massGain = g?.grounding_mass !== undefined && d?.grounding_mass !== undefined ? g.grounding_mass - d.grounding_mass : null;
  const wins = gain >= 10 && (pairGain ?? 0) > 0 && (js ?? 0) >= 0.3 && (massGain ?? 0) > 0;
  const parts = [
    `On test-ood, LaViT ${gain >= 0 ? "beats" : "trails"} the distill baseline by ${Math.abs(gain).toFixed(1)} points`,
    alignGain !== null
      ? `the same student without its alignment losses (no-align) by ${alignGain >= 0 ? "" : "minus "}${Math.abs(alignGain).toFixed(1)} points (what the alignment itself adds; the rest of the gain over distill comes from the latent slots and the gate)`
      : "",
    pairGain !== null ? `pair accuracy ${pairGain >= 0 ? "+" : ""}${pairGain.toFixed(1)} points` : "",
    js !== null
      ? `js_to_teacher of ${gazeName} ${js >= 0 ? `${(100 * js).toFixed(0)}% lower` : `${(-100 * js).toFixed(0)}% higher`} than distill's gaze while writing`
      : "",
    massGain !== null ? `grounding mass ${g!.grounding_mass!.toFixed(3)} vs distill's ${d!.grounding_mass!.toFixed(3)}` : "",
  ].filter(Boolean);
  // Accuracy on a split whose yes/no answers lean one way rewards a model that leans the same way.
  const bias =
    l?.yes_rate !== undefined && d?.yes_rate !== undefined && Math.abs(l.yes_rate - d.yes_rate) >= 0.15
      ? ` LaViT answers "yes" to ${(100 * l.yes_rate).toFixed(0)}% of test-ood's yes/no questions, distill to ${(100 * d.yes_rate).toFixed(0)}% (truth: ${(100 * (l.yes_truth ?? 0)).toFixed(0)}%): part of the accuracy difference is answer bias, which pair accuracy does not reward.`
      : "";
  // A teacher whose maps are near-uniform makes js_to_teacher reward diffuse attention: say where even gaze would score.
  const even = reference?.["test-ood"]?.js_to_teacher;
  const scale =
    even !== undefined && g?.js_to_teacher !== undefined
      ? ` For scale, attention spread evenly over the image scores js_to_teacher ${even.toFixed(4)} on test-ood (${thoughts ? `LaViT's thoughts ${g.js_to_teacher.toFixed(4)}, LaViT while writing ${(l?.js_to_teacher ?? NaN).toFixed(4)}` : `LaViT ${g.js_to_teacher.toFixed(4)}`}, distill ${(d?.js_to_teacher ?? NaN).toFixed(4)}).`
      : "";
  const bar = ">= +10 points on test-ood, better pair accuracy, >= 30% lower js_to_teacher and higher grounding mass";
  const statement = `${parts.join("; ")}.${bias}${scale} ${wins ? `This meets the project's bar (${bar}).` : `This does NOT meet the project's bar (${bar}).`}`;
  return {
    ood_gain_points: gain,
    alignment_gain_points: alignGain,
    pair_gain_points: pairGain,
    js_reduction: js,
    grounding_mass_gain: massGain,
    even_gaze_ratio: even !== undefined && g?.js_to_teacher ? even / g.js_to_teacher : null,
    lavit_wins: wins,
    statement,
  };
}

function fmt(r: SplitReport, m: ReportMetric): string {
  const v = r[m];
  if (v === undefined || !Number.isFinite(v)) return "n/a";
  const sd = r[`${m}_std`];
  return sd !== undefined && Number.isFinite(sd) ? `${v.toFixed(3)} ± ${sd.toFixed(3)}` : v.toFixed(3);
}

/** The results table's rows, model by split, with the uniform-gaze scale rows last. */
function tableRows(results: DemoReport["results"], reference: DemoReport["reference"] = {}): { model: string; split: string; r: SplitReport }[] {
  return [...Object.entries(results), ["(uniform gaze)", reference] as const].flatMap(([model, splits]) =>
    Object.entries(splits).map(([split, r]) => ({ model, split, r })),
  );
}

export function markdownTable(results: DemoReport["results"], reference?: DemoReport["reference"]): string {
  const lines = [
    "| model | split | accuracy | pair acc. | js_to_teacher | top-k IoU | grounding mass | entropy | said yes | truth yes |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const { model, split, r } of tableRows(results, reference)) lines.push(`| ${model} | ${split} | ${REPORT_METRICS.map((m) => fmt(r, m)).join(" | ")} |`);
  return lines.join("\n");
}

function markdownHeatmaps(figures: readonly HeatmapFigure[]): string[] {
  if (!figures.length) return [];
  const out = [
    "## Where the models look",
    "",
    "Rows: rationale steps; under each panel its grounding mass on the step's ground truth (cyan) and its JS divergence to the teacher's map.",
    "",
  ];
  for (const f of figures) {
    out.push(`### ${f.id}: "${f.question}" (answer ${f.answer})`, "", `Shown because ${f.why}.`, "");
    for (const step of f.steps) {
      out.push(`| ${step.panels.map((p) => p.label).join(" | ")} |`, `|${step.panels.map(() => "---").join("|")}|`);
      out.push(`| ${step.panels.map((p) => `![${p.label}](${p.file})`).join(" | ")} |`, `| ${step.panels.map((p) => p.caption).join(" | ")} |`, "");
      out.push(`Step "${step.text}".`, "");
    }
  }
  return out;
}

export function markdownReport(rep: DemoReport, heatmaps: readonly HeatmapFigure[] = []): string {
  return [
    "# lavit demo report",
    "",
    `Seeds: ${rep.seeds.join(", ")}; benchmark setting ${rep.config.setting ?? "default"}; shortcut prior ${rep.config.prior} (share of train/test-id answers that are their template's prior answer). Values are means over seeds${rep.seeds.length > 1 ? " ± standard deviation" : ""}; every number recomputes from the predictions.jsonl files under eval/.`,
    "",
    "## Verdict",
    "",
    rep.verdict.statement,
    "",
    "## Results",
    "",
    markdownTable(rep.results, rep.reference),
    "",
    "Metrics: accuracy (greedy answer), pair accuracy (test-pairs: both images of a minimal pair right), and the Perception-Gap metrics measured from each model's own attention while it writes each rationale step (averaged over layers and heads): js_to_teacher (Jensen-Shannon divergence to the teacher's map for the same sample and step; lower is closer), top-k IoU (k = 8) with the teacher, grounding mass (share of attention on the step's ground-truth patches) and entropy (nats); 'lavit thoughts (head)' and 'lavit thoughts (attention)' (and likewise for other students with latents): where the student's latent visual thoughts look, step t being read from the latents trained on step t, two ways: (head) the mean of their trajectory head's maps, reported only when the head was trained (not for a --no-traj or --traj-source attention student), and (attention) their own attention to the image, averaged over layers and heads as every gaze here is (the distill student has no thoughts, only its gaze while writing); (uniform gaze): attention spread evenly over the image, scored against the same teacher maps, the scale for the gaze metrics; said yes / truth yes: over the yes/no questions, the share the model answered yes and the share whose answer is yes (a bias towards the split's majority answer raises accuracy without seeing more).",
    "",
    "## Set-up",
    "",
    "```json",
    JSON.stringify(rep.config, null, 2),
    "```",
    "",
    `Stage times (s): ${Object.entries(rep.timings_s)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(", ")}`,
    "",
    ...markdownHeatmaps(heatmaps),
  ].join("\n");
}

/** A training curve per student, one colour per model (the same as in every other chart). */
export function curveChart(series: Record<string, { step: number; value: number }[]>, key: string, seed: number): string {
  return lineChart({
    title: `${key} (seed ${seed})`,
    xLabel: "training step",
    yLabel: `${key} (training loss)`,
    series: Object.entries(series).map(([name, pts]) => ({ name, points: pts.map((p) => ({ x: p.step, y: p.value })) })),
    width: 520,
    height: 280,
  });
}

/** A metric by split, one line per model, ± a standard deviation over seeds as a band. */
function splitChart(results: DemoReport["results"], metric: ReportMetric, label: string): string {
  const splits = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
  return lineChart({
    title: `${label} by split`,
    xLabel: "split",
    yLabel: label,
    xCategories: splits,
    width: 520,
    height: 280,
    series: Object.entries(results).map(([name, r]) => ({
      name,
      points: splits.flatMap((split, x) => {
        const v = r[split]?.[metric];
        const sd = r[split]?.[`${metric}_std`];
        if (v === undefined || !Number.isFinite(v)) return [];
        return [{ x, y: v, ...(sd !== undefined && Number.isFinite(sd) ? { lo: v - sd, hi: v + sd, note: "± 1 sd over seeds" } : {}) }];
      }),
    })),
  });
}

function htmlFigure(f: HeatmapFigure): string {
  const rows = f.steps.map(
    (step) =>
      `<tr><th>${esc(step.text)}</th>${step.panels.map((p) => `<td><img src="${esc(p.file)}" alt="${esc(`${p.label}, ${step.text}`)}"><div class="cap">${esc(p.caption)}</div></td>`).join("")}</tr>`,
  );
  return `<figure><table class="panels">${rows.join("")}</table><figcaption>${esc(`${f.id}: "${f.question}" (answer ${f.answer}). Shown because ${f.why}.`)}</figcaption></figure>`;
}

export function htmlReport(rep: DemoReport, curves: string[], heatmaps: readonly HeatmapFigure[], explorer?: ExplorerData): string {
  const rows = tableRows(rep.results, rep.reference).map(
    ({ model, split, r }) => `<tr><td>${esc(model)}</td><td>${esc(split)}</td>${REPORT_METRICS.map((m) => `<td>${fmt(r, m)}</td>`).join("")}</tr>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lavit demo report</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,td:nth-child(2){text-align:left}figure{display:inline-block;margin:8px}figcaption{font-size:12px;max-width:900px}.panels td,.panels th{border:none;padding:2px;text-align:center;vertical-align:top;font-size:12px}.panels th{max-width:140px;font-weight:normal;text-align:right}.cap{font-size:11px}.panels img{width:160px;image-rendering:pixelated}.charts svg{margin:4px}.verdict{padding:8px;border-left:4px solid ${rep.verdict.lavit_wins ? "#2ca02c" : "#d62728"};background:#f7f7f7}</style>
</head><body>
<h1>lavit demo report</h1>
<p>Seeds: ${rep.seeds.join(", ")}; benchmark setting ${esc(String(rep.config.setting ?? "default"))}; shortcut prior ${esc(String(rep.config.prior))}.</p>
<p class="verdict" id="verdict">${esc(rep.verdict.statement)}</p>
<h2>Results</h2>
<table id="results"><thead><tr><th>model</th><th>split</th><th>accuracy</th><th>pair acc.</th><th>js_to_teacher</th><th>top-k IoU</th><th>grounding mass</th><th>entropy</th><th>said yes</th><th>truth yes</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>
<p>(uniform gaze): attention spread evenly over the image, scored against the same teacher maps: the scale for the gaze columns.</p>
<div class="charts">${splitChart(rep.results, "accuracy", "accuracy")}${splitChart(rep.results, "js_to_teacher", "js_to_teacher (nats)")}${splitChart(rep.results, "grounding_mass", "grounding mass")}</div>
<h2>Training curves</h2>
<div class="charts">${curves.join("\n")}</div>
<h2>Explore the samples</h2>
${explorer ? explorerSection(explorer) : "<p>n/a</p>"}
<h2>Where the models look</h2>
<p>Each row: a rationale step; the image with the step's ground-truth patches outlined (cyan), then the gaze of the teacher, the distill student and the LaViT student while writing that step, and where LaViT's latent thoughts for that step look, by its trajectory head and by the latents' own attention (brighter = more attention), each with its grounding mass and its JS divergence to the teacher's map. The samples are those where the two students' gaze differs most, then a few picked at random.</p>
<div id="heatmaps">
${heatmaps.map(htmlFigure).join("\n")}
</div>
</body></html>
`;
}
