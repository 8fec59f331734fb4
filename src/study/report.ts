import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { colourAt, colourFor, esc, lineChart, type ChartOptions, type Series } from "../report/charts.js";
import { buildDirAtomicSync, writeFileAtomic } from "../util/atomic.js";
import { readJson, readJsonValue } from "../util/json.js";
import { writeMarker } from "../util/marker.js";
import { input, outputFolder, withOutputs, type IoSpec } from "../util/io-guard.js";
import { codeVersion, type CodeVersion } from "../util/version.js";
import { expandCells } from "./cells.js";
import { constantsFor } from "./metrics.js";
import { RUN_RECORD } from "./run.js";
import { checkStudy, type Level, type LoadedStudy } from "./spec.js";
import { excludesZero, interval, type Interval } from "./stats.js";
import { attribution, paired, parseAttribution, type AttributionRow, type AttributionSpec } from "./attribution.js";
import { CELL_RECORD, REFERENCE_FILE, type CellRecord, type Reference } from "./tasks.js";
import { z } from "zod";
import { flag, named, text, validateOptions } from "../stages/options-schema.js";

export interface StudyReportOptions {
  /** Study run folders (whole runs or shards) of one study file. */
  dirs: string[];
  out: string;
  /** "model,without,baseline[:metric]" (one or several): the share of model's gain over baseline that model − without carries, per condition, with a verdict. */
  attribute?: string | string[];
  force?: boolean;
  quiet?: boolean;
}

export interface SummaryRow extends Interval {
  split: string;
  metric: string;
  /** Factor levels (no seed), "stage.option" → level. */
  levels: Record<string, Level>;
  variant: string;
  /** The constants this figure is read beside, means over the same seeds. */
  constants: Record<string, number>;
}

export interface DifferenceRow extends Interval {
  split: string;
  metric: string;
  levels: Record<string, Level>;
  /** a minus b, paired by seed. */
  a: string;
  b: string;
  excludes_zero: boolean;
}

export interface StudyReport {
  study: { name: string; description?: string; file: string; sha256: string };
  /** Which lavit ran the cells, and which made this report. */
  cell_commits: string[];
  report_by: CodeVersion;
  cells_expected: number;
  cells_found: number;
  missing: string[];
  /** Sum of the cells' own training and evaluation time. */
  cell_seconds: number;
  metrics: string[];
  summary: SummaryRow[];
  differences: DifferenceRow[];
  /** One per --attribute: the spec and one row per split and condition. */
  attributions: { spec: AttributionSpec; rows: AttributionRow[] }[];
  records: CellRecord[];
  references: Record<string, Reference>;
}

const runRecord = z.object({ study_file: z.string(), study_sha256: z.string(), spec: z.unknown() }).loose();

interface RunFolder {
  dir: string;
  /** The study file as the run was given it. */
  file: string;
  study: LoadedStudy;
}

function readRun(dir: string): RunFolder {
  const file = join(dir, RUN_RECORD);
  if (!existsSync(file)) throw new UserError(`${dir} is not a study run folder (no ${RUN_RECORD}); give the --out of \`lavit study run\``);
  const rec = readJson(file, runRecord, { what: "study run record" });
  return { dir, file: rec.study_file, study: checkStudy(rec.spec, `${file} (spec)`, rec.study_sha256) };
}

function readRecords(dir: string): CellRecord[] {
  const cells = join(dir, "cells");
  if (!existsSync(cells)) return [];
  return readdirSync(cells)
    .sort()
    .map((id) => join(cells, id, CELL_RECORD))
    .filter((f) => existsSync(f))
    .map((f) => readJsonValue(f, { what: "cell record" }) as CellRecord);
}

function levelsKey(levels: Record<string, Level>): string {
  return JSON.stringify(levels);
}

export function levelsText(levels: Record<string, Level>): string {
  const parts = Object.entries(levels).map(([k, v]) => `${k.replace(/^(data|extract|student)\./, "")}=${String(v)}`);
  return parts.length ? parts.join(", ") : "(all)";
}

/** The merged figures of a study's runs and shards: every cell, means with 95% intervals over seeds, paired differences. */
export function buildReport(runs: readonly RunFolder[], attribute?: string | readonly string[]): StudyReport {
  const first = runs[0];
  for (const r of runs.slice(1))
    if (r.study.sha256 !== first.study.sha256)
      throw new UserError(
        `${r.dir} ran another study file than ${first.dir}: ${r.file} (study ${r.study.spec.name}, sha256 ${r.study.sha256.slice(0, 12)}) and ${first.file} (study ${first.study.spec.name}, sha256 ${first.study.sha256.slice(0, 12)}); report each study on its own`,
      );
  const study = first.study;
  const expected = expandCells(study);
  const byId = new Map<string, CellRecord>();
  const references: Record<string, Reference> = {};
  for (const r of runs) {
    for (const rec of readRecords(r.dir)) if (!byId.has(rec.id)) byId.set(rec.id, rec);
    const refs = join(r.dir, "refs");
    if (existsSync(refs))
      for (const key of readdirSync(refs).sort()) {
        const f = join(refs, key, REFERENCE_FILE);
        if (!references[key] && existsSync(f)) references[key] = readJsonValue(f, { what: "reference record" }) as Reference;
      }
  }
  const records = expected.map((c) => byId.get(c.id)).filter((r): r is CellRecord => !!r);
  const missing = expected.filter((c) => !byId.has(c.id)).map((c) => c.id);
  const metrics = study.metrics;
  const splits = study.spec.eval.splits;
  const variants = Object.keys(study.spec.variants);
  const conditions = [...new Map(expected.map((c) => [levelsKey(c.levels), c.levels])).values()];
  const attributeSpecs = (attribute === undefined ? [] : typeof attribute === "string" ? [attribute] : attribute).map((a) => parseAttribution(a, variants));
  const summary: SummaryRow[] = [];
  const differences: DifferenceRow[] = [];
  for (const split of splits)
    for (const metric of metrics)
      for (const levels of conditions) {
        const here = records.filter((r) => levelsKey(r.levels) === levelsKey(levels));
        const hasMetric = here.some((r) => r.metrics[split]?.[metric] !== undefined);
        if (!hasMetric) continue;
        for (const variant of variants) {
          const mine = here.filter((r) => r.variant === variant && r.metrics[split]?.[metric] !== undefined);
          const constants: Record<string, number> = {};
          for (const c of constantsFor(metric)) {
            const vals = mine
              .map((r) => (c.own ? r.metrics[split]?.[c.key] : references[r.dataKey]?.[split]?.[c.key]))
              .filter((v): v is number => v !== undefined);
            if (vals.length) constants[c.label] = vals.reduce((a, b) => a + b, 0) / vals.length;
          }
          summary.push({ split, metric, levels, variant, constants, ...interval(mine.map((r) => r.metrics[split][metric])) });
        }
        for (const [a, b] of study.spec.compare) {
          const diffs = paired(here, a, b, split, metric);
          if (!diffs.length) continue;
          const i = interval(diffs);
          differences.push({ split, metric, levels, a, b, ...i, excludes_zero: excludesZero(i) });
        }
      }
  return {
    study: {
      name: study.spec.name,
      ...(study.spec.description ? { description: study.spec.description } : {}),
      file: first.file,
      sha256: study.sha256,
    },
    cell_commits: [...new Set(records.map((r) => `${r.lavit.commit ?? "unknown"}${r.lavit.dirty ? " (with uncommitted changes)" : ""}`))],
    report_by: codeVersion(),
    cells_expected: expected.length,
    cells_found: records.length,
    missing,
    cell_seconds: records.reduce((a, r) => a + r.seconds.train + r.seconds.eval, 0),
    metrics,
    summary,
    differences,
    attributions: attributeSpecs.map((spec) => ({ spec, rows: attribution(records, conditions, splits, spec, levelsKey) })),
    records,
    references,
  };
}

function fmt(v: number | undefined, digits = 3): string {
  return v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(digits);
}

function fmtInterval(i: Interval | undefined): string {
  if (!i || !i.n) return "n/a";
  return i.n > 1 ? `${fmt(i.mean)} [${fmt(i.lo)}, ${fmt(i.hi)}]` : `${fmt(i.mean)} (1 seed)`;
}

function mdTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Per split and metric: one row per condition, one column per variant, then the constants. */
function summaryTables(rep: StudyReport): { title: string; head: string[]; rows: string[][] }[] {
  const out: { title: string; head: string[]; rows: string[][] }[] = [];
  const variants = [...new Set(rep.summary.map((s) => s.variant))];
  for (const split of [...new Set(rep.summary.map((s) => s.split))])
    for (const metric of rep.metrics) {
      const rows = rep.summary.filter((s) => s.split === split && s.metric === metric);
      if (!rows.length) continue;
      const labels = [...new Set(rows.flatMap((r) => Object.keys(r.constants)))];
      const conds = [...new Map(rows.map((r) => [levelsKey(r.levels), r.levels])).values()];
      out.push({
        title: `${split}: ${metric}`,
        head: ["condition", ...variants, ...labels.map((l) => `${l} (constant)`)],
        rows: conds.map((levels) => {
          const mine = rows.filter((r) => levelsKey(r.levels) === levelsKey(levels));
          return [
            levelsText(levels),
            ...variants.map((v) => fmtInterval(mine.find((r) => r.variant === v))),
            ...labels.map((l) => {
              const v = mine.map((r) => r.constants[l]).filter((x) => x !== undefined);
              return v.length ? fmt(v.reduce((a, b) => a + b, 0) / v.length) : "n/a";
            }),
          ];
        }),
      });
    }
  return out;
}

function differenceTable(rep: StudyReport): { head: string[]; rows: string[][] } {
  return {
    head: ["split", "metric", "condition", "difference", "mean [95% interval]", "seeds", "interval excludes 0"],
    rows: rep.differences.map((d) => [d.split, d.metric, levelsText(d.levels), `${d.a} − ${d.b}`, fmtInterval(d), String(d.n), d.excludes_zero ? "yes" : "no"]),
  };
}

function attributionTable(a: StudyReport["attributions"][number]): { title: string; head: string[]; rows: string[][] } {
  const { model, without, baseline, metric } = a.spec;
  return {
    title: `What ${model} − ${without} carries of ${model}'s gain over ${baseline} (${metric})`,
    head: [
      "split",
      "condition",
      `gain: ${model} − ${baseline}`,
      `part: ${model} − ${without}`,
      "part / gain",
      "verdict",
      `${model} swap follow_a (latents masked)`,
    ],
    rows: a.rows.map((r) => [
      r.split,
      levelsText(r.levels),
      fmtInterval(r.gain),
      fmtInterval(r.part),
      Number.isFinite(r.share) ? r.share.toFixed(2) : "n/a",
      r.verdict,
      r.swap ? `${fmt(r.swap.follow_a)} (${fmt(r.swap.masked_follow_a)})` : "n/a",
    ]),
  };
}

const ATTRIBUTION_RULE =
  "The part carries at least half of the gain where its paired 95% interval lies above 0 and its mean is at least half the gain's; an interval that holds 0 is no evidence either way, one below 0 a cost.";

function cellTable(rep: StudyReport): { head: string[]; rows: string[][] } {
  const splits = [...new Set(rep.summary.map((s) => s.split))];
  const shown = rep.metrics.slice(0, 4);
  return {
    head: ["cell", "seed", "variant", ...splits.flatMap((s) => shown.map((m) => `${s} ${m}`)), "train s", "eval s"],
    rows: rep.records.map((r) => [
      r.id,
      String(r.seed),
      r.variant,
      ...splits.flatMap((s) => shown.map((m) => fmt(r.metrics[s]?.[m]))),
      r.seconds.train.toFixed(0),
      r.seconds.eval.toFixed(0),
    ]),
  };
}

/** The report's folder of SVG charts, one file per chart. */
export const CHARTS_DIR = "charts";

export function markdownStudy(rep: StudyReport, charts: readonly StudyChart[] = studyCharts(rep)): string {
  const lines = [
    `# Study ${rep.study.name}`,
    "",
    ...(rep.study.description ? [rep.study.description, ""] : []),
    `- Study file: \`${rep.study.file}\`, sha256 \`${rep.study.sha256}\``,
    `- Cells: ${rep.cells_found} of ${rep.cells_expected}${rep.missing.length ? ` (**${rep.missing.length} missing**, listed at the end)` : ""}; cells ran on lavit ${rep.cell_commits.join(", ")}`,
    `- Compute: ${(rep.cell_seconds / 60).toFixed(1)} min of cell training and evaluation (the cells' own time; data and signals are shared and not counted).`,
    "- Values are means over seeds with 95% t-intervals (`mean [lo, hi]`); each figure is read beside its constants (the prior-only answerer and chance for accuracy, even gaze for gaze, the same probe with the latents masked for probes). A figure a constant beats is not evidence.",
    "",
  ];
  const drawn = charts.filter((c) => c.svg.startsWith("<svg"));
  if (drawn.length) lines.push("## Charts", "", ...drawn.map((c) => `- [${c.title}](${CHARTS_DIR}/${c.name}.svg)`), "");
  for (const t of summaryTables(rep)) lines.push(`## ${t.title}`, "", mdTable(t.head, t.rows), "");
  if (rep.differences.length) {
    const d = differenceTable(rep);
    lines.push("## Differences (paired by seed)", "", mdTable(d.head, d.rows), "");
  }
  for (const at of rep.attributions.map(attributionTable)) lines.push(`## ${at.title}`, "", ATTRIBUTION_RULE, "", mdTable(at.head, at.rows), "");
  const c = cellTable(rep);
  lines.push("## Every cell", "", mdTable(c.head, c.rows), "");
  if (rep.missing.length) lines.push("## Missing cells", "", ...rep.missing.map((m) => `- ${m}`), "");
  return lines.join("\n");
}

function htmlTable(head: string[], rows: string[][], id?: string): string {
  return `<table${id ? ` id="${id}"` : ""}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

/** Numeric factors with two or more levels: the x axes of the study's charts. */
function numericFactors(rep: StudyReport): string[] {
  const keys = [...new Set(rep.records.flatMap((r) => Object.keys(r.levels)))];
  return keys.filter((k) => {
    const levels = new Set(rep.records.map((r) => r.levels[k]));
    return levels.size > 1 && [...levels].every((l) => typeof l === "number");
  });
}

function others(levels: Record<string, Level>, factor: string): Record<string, Level> {
  return Object.fromEntries(Object.entries(levels).filter(([k]) => k !== factor));
}

/** A chart of the report: its SVG, and a file name made from its title. */
export interface StudyChart {
  name: string;
  title: string;
  svg: string;
}

function studyCharts(rep: StudyReport): StudyChart[] {
  const charts: Titled[] = [];
  const factors = numericFactors(rep);
  const splits = [...new Set(rep.summary.map((s) => s.split))];
  // One colour per compared pair on every chart (the pairs' order is the study's).
  const pairOrder = [...new Set(rep.differences.map((d) => `${d.a}|${d.b}`))];
  let n = 0;
  for (const factor of factors) {
    const label = factor.replace(/^(data|extract|student)\./, "");
    const groups = [...new Map(rep.summary.map((s) => [levelsKey(others(s.levels, factor)), others(s.levels, factor)])).values()];
    for (const split of splits)
      for (const metric of rep.metrics)
        for (const rest of groups) {
          const rows = rep.summary.filter((s) => s.split === split && s.metric === metric && levelsKey(others(s.levels, factor)) === levelsKey(rest));
          if (!rows.length) continue;
          const x = (s: SummaryRow) => s.levels[factor] as number;
          const series: Series[] = [...new Set(rows.map((r) => r.variant))].map((v) => ({
            name: v,
            points: rows.filter((r) => r.variant === v && r.n).map((r) => ({ x: x(r), y: r.mean, lo: r.lo, hi: r.hi, note: `n = ${r.n}` })),
          }));
          for (const label of [...new Set(rows.flatMap((r) => Object.keys(r.constants)))]) {
            const byX = new Map<number, number[]>();
            for (const r of rows) if (r.constants[label] !== undefined) byX.set(x(r), [...(byX.get(x(r)) ?? []), r.constants[label]]);
            series.push({ name: label, dashed: true, points: [...byX].map(([xv, vs]) => ({ x: xv, y: vs.reduce((a, b) => a + b, 0) / vs.length })) });
          }
          const suffix = Object.keys(rest).length ? ` (${levelsText(rest)})` : "";
          charts.push(
            titled({
              id: `chart-${n++}`,
              title: `${split}: ${metric} against ${label}${suffix}`,
              xLabel: label,
              yLabel: metric,
              series,
              xLog: label === "train",
            }),
          );
          const diffs = rep.differences.filter((d) => d.split === split && d.metric === metric && levelsKey(others(d.levels, factor)) === levelsKey(rest));
          const pairs = [...new Set(diffs.map((d) => `${d.a}|${d.b}`))];
          if (pairs.length)
            charts.push(
              titled({
                id: `chart-${n++}`,
                title: `${split}: ${metric}, differences against ${label}${suffix}`,
                xLabel: label,
                yLabel: `difference in ${metric}`,
                zeroLine: true,
                xLog: label === "train",
                series: pairs.map((p) => {
                  const [a, b] = p.split("|");
                  return {
                    name: `${a} − ${b}`,
                    colour: colourAt(pairOrder.indexOf(p)),
                    points: diffs
                      .filter((d) => d.a === a && d.b === b)
                      .map((d) => ({ x: d.levels[factor] as number, y: d.mean, lo: d.lo, hi: d.hi, note: `n = ${d.n}` })),
                  };
                }),
              }),
            );
        }
    for (const split of splits)
      for (const rest of groups)
        for (const a of rep.attributions) {
          const rows = a.rows.filter((r) => r.split === split && levelsKey(others(r.levels, factor)) === levelsKey(rest));
          const suffix = Object.keys(rest).length ? ` (${levelsText(rest)})` : "";
          const { model, without, baseline, metric } = a.spec;
          if (rows.length)
            charts.push(
              attributionChart(
                a.spec,
                rows,
                factor,
                label,
                `${split}: ${metric}, ${model} − ${without} against ${model} − ${baseline}, by ${label}${suffix}`,
                `chart-${n++}`,
              ),
            );
        }
  }
  if (!factors.length) {
    // No numeric factor: each metric per variant as points with intervals.
    const variants = [...new Set(rep.summary.map((s) => s.variant))];
    for (const split of splits)
      for (const metric of rep.metrics) {
        const rows = rep.summary.filter((s) => s.split === split && s.metric === metric);
        if (!rows.length) continue;
        const conds = [...new Map(rows.map((r) => [levelsKey(r.levels), r.levels])).values()];
        charts.push(
          titled({
            id: `chart-${n++}`,
            title: `${split}: ${metric}`,
            xLabel: "condition",
            yLabel: metric,
            xCategories: conds.map(levelsText),
            series: variants.map((v) => ({
              name: v,
              points: conds.flatMap((c, i) =>
                rows.filter((r) => r.variant === v && levelsKey(r.levels) === levelsKey(c) && r.n).map((r) => ({ x: i, y: r.mean, lo: r.lo, hi: r.hi })),
              ),
            })),
          }),
        );
      }
  }
  charts.push(...learningCurves(rep, n));
  return nameCharts(charts);
}

/**
 * The attribution rule drawn: the gain and the part with their paired 95% intervals, and half
 * the gain dashed; the part carries at least half where its band clears 0 and its point is on
 * or above the dashed line.
 */
function attributionChart(spec: AttributionSpec, rows: AttributionRow[], factor: string, label: string, title: string, id: string): Titled {
  const x = (r: AttributionRow) => r.levels[factor] as number;
  const note = (r: AttributionRow, i: { n: number }) => `n = ${i.n}; ${r.verdict}`;
  return titled({
    id,
    title,
    xLabel: label,
    yLabel: `difference in ${spec.metric}`,
    zeroLine: true,
    xLog: label === "train",
    series: [
      {
        name: `gain: ${spec.model} − ${spec.baseline}`,
        colour: colourFor(spec.baseline),
        points: rows.map((r) => ({ x: x(r), y: r.gain.mean, lo: r.gain.lo, hi: r.gain.hi, note: note(r, r.gain) })),
      },
      {
        name: `part: ${spec.model} − ${spec.without}`,
        colour: colourFor(spec.without),
        points: rows.map((r) => ({ x: x(r), y: r.part.mean, lo: r.part.lo, hi: r.part.hi, note: note(r, r.part) })),
      },
      { name: "half the gain", dashed: true, points: rows.map((r) => ({ x: x(r), y: r.gain.mean / 2 })) },
    ],
  });
}

interface Titled {
  title: string;
  svg: string;
}

function titled(o: ChartOptions): Titled {
  return { title: o.title, svg: lineChart(o) };
}

/** Names each chart after its title, unique and file-safe. */
function nameCharts(charts: Titled[]): StudyChart[] {
  const used = new Set<string>();
  return charts.map(({ title, svg }) => {
    const stem =
      title
        .toLowerCase()
        .replace(/−/g, "minus")
        .replace(/[^a-z0-9.]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, 120) || "chart";
    let name = stem;
    for (let k = 2; used.has(name); k++) name = `${stem}-${k}`;
    used.add(name);
    return { name, title, svg };
  });
}

/** Per condition: each variant's held-out accuracy during training, the mean over seeds at each step. */
function learningCurves(rep: StudyReport, start: number): Titled[] {
  const out: Titled[] = [];
  const withCurves = rep.records.filter((r) => r.curve.length);
  const conds = [...new Map(withCurves.map((r) => [levelsKey(r.levels), r.levels])).values()];
  let n = start;
  for (const levels of conds) {
    const here = withCurves.filter((r) => levelsKey(r.levels) === levelsKey(levels));
    const split = String(here[0].curve[0].split ?? "held-out");
    const series: Series[] = [...new Set(here.map((r) => r.variant))].map((v) => {
      const bySteps = new Map<number, number[]>();
      for (const r of here.filter((x) => x.variant === v))
        for (const p of r.curve)
          if (typeof p.step === "number" && typeof p.accuracy === "number") bySteps.set(p.step, [...(bySteps.get(p.step) ?? []), p.accuracy]);
      return { name: v, points: [...bySteps].map(([step, vs]) => ({ x: step, ...bandOf(vs) })) };
    });
    out.push(
      titled({
        id: `chart-${n++}`,
        title: `Learning curves, ${split} accuracy (${levelsText(levels)})`,
        xLabel: "training step",
        yLabel: "accuracy",
        series,
      }),
    );
  }
  return out;
}

function bandOf(vs: number[]): { y: number; lo?: number; hi?: number; note: string } {
  const i = interval(vs);
  return { y: i.mean, ...(i.n > 1 ? { lo: i.lo, hi: i.hi } : {}), note: `n = ${i.n}` };
}

export function htmlStudy(rep: StudyReport, charts: readonly StudyChart[] = studyCharts(rep)): string {
  const tables = summaryTables(rep)
    .map((t) => `<h3>${esc(t.title)}</h3>${htmlTable(t.head, t.rows)}`)
    .join("\n");
  const d = differenceTable(rep);
  const c = cellTable(rep);
  const ats = rep.attributions.map(attributionTable);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lavit study ${esc(rep.study.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}td:first-child{text-align:left}.charts svg{margin:6px;border:1px solid #eee}.note{color:#444;font-size:13px}</style>
</head><body>
<h1>Study ${esc(rep.study.name)}</h1>
${rep.study.description ? `<p>${esc(rep.study.description)}</p>` : ""}
<p class="note">Study file <code>${esc(rep.study.file)}</code>, sha256 <code>${esc(rep.study.sha256)}</code>. Cells: ${rep.cells_found} of ${rep.cells_expected}${rep.missing.length ? ` (${rep.missing.length} missing)` : ""}; run by lavit ${esc(rep.cell_commits.join(", "))}. ${(rep.cell_seconds / 60).toFixed(1)} min of cell compute. Means over seeds with 95% intervals as bands; dashed grey lines are the constants each figure is read beside.</p>
<h2>Charts</h2>
<div class="charts" id="charts">${charts.map((c) => c.svg).join("\n")}</div>
<h2>Tables</h2>
${tables}
${rep.differences.length ? `<h2>Differences (paired by seed)</h2>${htmlTable(d.head, d.rows, "differences")}` : ""}
${ats.map((at, i) => `<h2>${esc(at.title)}</h2><p class="note">${esc(ATTRIBUTION_RULE)}</p>${htmlTable(at.head, at.rows, i ? `attribution-${i + 1}` : "attribution")}`).join("\n")}
<h2>Every cell</h2>
${htmlTable(c.head, c.rows, "cells")}
${rep.missing.length ? `<h2>Missing cells</h2><ul>${rep.missing.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>` : ""}
</body></html>
`;
}

export const studyReportOptionsSchema = named(
  z
    .object({
      dirs: z.array(text()).min(1),
      out: text(),
      attribute: z.union([text(), z.array(text())]).optional(),
      force: flag().optional(),
      quiet: flag().optional(),
    })
    .strict(),
  "study report option",
);

/** What `lavit study report` reads and writes (the output guard's declaration; the CLI shares it). */
export const STUDY_REPORT_IO: IoSpec = { dirs: input("<dirs>"), out: outputFolder("study-report") };

/** Merges study runs and shards into `out`: study.json, study.md, study.html. */
export async function reportStudy(o: StudyReportOptions): Promise<StudyReport> {
  validateOptions(studyReportOptionsSchema, o);
  const out = resolve(o.out);
  return withOutputs(STUDY_REPORT_IO, o, () => {
    const rep = buildReport(o.dirs.map(readRun), o.attribute);
    mkdirSync(out, { recursive: true });
    writeMarker(out, "study-report");
    writeFileAtomic(join(out, "study.json"), JSON.stringify(rep, null, 2) + "\n");
    const charts = studyCharts(rep);
    // One SVG per chart, so study.md (and docs that quote it) can show them.
    buildDirAtomicSync(join(out, CHARTS_DIR), (tmp) => {
      for (const c of charts) if (c.svg.startsWith("<svg")) writeFileSync(join(tmp, `${c.name}.svg`), c.svg + "\n");
    });
    writeFileAtomic(join(out, "study.md"), markdownStudy(rep, charts));
    writeFileAtomic(join(out, "study.html"), htmlStudy(rep, charts));
    if (!o.quiet)
      process.stderr.write(
        `study ${rep.study.name}: ${rep.cells_found} of ${rep.cells_expected} cells${rep.missing.length ? ` (${rep.missing.length} missing)` : ""}; wrote ${join(o.out, "study.{json,md,html}")} and ${join(o.out, CHARTS_DIR)}/ (${charts.length} charts)\n`,
      );
    return rep;
  });
}
