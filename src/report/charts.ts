/**
 * One chart module for every report (demo, gap, study): inline SVG, nothing fetched. A model
 * or variant has one colour everywhere (colourFor), from colour-blind-safe palettes; axes
 * carry ticks, values and labels; every point carries its value as a hover title.
 */

/** Okabe-Ito for the names every report uses, so a model keeps its colour across charts and pages. */
const FIXED: Record<string, string> = {
  teacher: "#000000",
  distill: "#D55E00",
  lavit: "#0072B2",
  "no-align": "#009E73",
  "no-traj": "#CC79A7",
  "no-vtop": "#E69F00",
  "lavit-attn": "#56B4E9",
};
/** Paul Tol's muted palette for other names, chosen by a hash of the name (stable across reports). */
const OTHERS = ["#332288", "#882255", "#44AA99", "#999933", "#AA4499", "#117733", "#88CCEE", "#DDCC77", "#CC6677", "#661100"];

/**
 * Colours for series that are not one model (differences between two): by position in a list
 * the caller keeps in the same order on every chart, so neighbours never share a colour.
 */
const DISTINCT = [FIXED.lavit, FIXED.distill, FIXED["no-align"], FIXED["no-traj"], FIXED["no-vtop"], FIXED["lavit-attn"], ...OTHERS];

export function colourAt(index: number): string {
  return DISTINCT[index % DISTINCT.length];
}

export function colourFor(name: string): string {
  // "lavit thoughts (head)" is LaViT's too: its rows share its colour.
  const base = name.replace(/( thoughts| \(.*\))+$/, "");
  if (FIXED[base]) return FIXED[base];
  let h = 2166136261;
  for (let i = 0; i < base.length; i++) h = Math.imul(h ^ base.charCodeAt(i), 16777619) >>> 0;
  return OTHERS[h % OTHERS.length];
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export interface Point {
  x: number;
  y: number;
  /** A 95% interval around y, drawn as a band. */
  lo?: number;
  hi?: number;
  /** Extra hover text, e.g. "n = 3". */
  note?: string;
}

export interface Series {
  name: string;
  points: Point[];
  /** A constant drawn dashed (even gaze, the prior answer), grey unless coloured. */
  dashed?: boolean;
  colour?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Categorical x: labels for x = 0, 1, ...; otherwise numeric ticks. */
  xCategories?: string[];
  /** A log scale for x (train sizes 100 .. 1600). */
  xLog?: boolean;
  /** Draw y = 0 (differences). */
  zeroLine?: boolean;
  width?: number;
  height?: number;
  id?: string;
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1000 ? String(Math.round(v)) : a >= 1 ? String(+v.toFixed(2)) : String(+v.toPrecision(2));
}

function fmtValue(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
}

/** A line chart with optional interval bands, as a self-contained SVG element. */
export function lineChart(o: ChartOptions): string {
  const H = Math.max(o.height ?? 320, 30 + 16 * o.series.length + 10);
  // The legend sits right of the plot: as wide as its longest entry, the plot keeping its width.
  const longest = Math.max(0, ...o.series.map((s) => s.name.length + (s.points.length ? 0 : 6)));
  const right = Math.max(150, 44 + Math.ceil(longest * 6.4));
  // A long title widens the chart rather than running off its edge (13px bold: about 7.4px a character).
  const W = Math.max((o.width ?? 560) + right - 150, 58 + Math.ceil(o.title.length * 7.4) + 8);
  const m = { left: 58, right, top: 30, bottom: 46 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const pts = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  if (!pts.length) return `<p class="chart-empty">${esc(o.title)}: n/a (no values)</p>`;
  const xs = pts.map((p) => p.x);
  const ys = pts.flatMap((p) => [p.y, ...(Number.isFinite(p.lo) ? [p.lo!] : []), ...(Number.isFinite(p.hi) ? [p.hi!] : [])]);
  if (o.zeroLine) ys.push(0);
  const tx = (x: number) => (o.xLog ? Math.log(x) : x);
  let x0 = Math.min(...xs.map(tx));
  let x1 = Math.max(...xs.map(tx));
  if (o.xCategories) {
    x0 = -0.5;
    x1 = o.xCategories.length - 0.5;
  } else if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y0 === y1) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const padY = (y1 - y0) * 0.06;
  y0 -= padY;
  y1 += padY;
  const sx = (x: number) => m.left + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${m.left}" y="18" font-size="13" font-weight="600">${esc(o.title)}</text>`);
  // Axes, ticks, grid.
  for (const v of niceTicks(y0, y1)) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmtTick(v)}</text>`);
  }
  const xTicks = o.xCategories
    ? o.xCategories.map((label, i) => ({ v: i, label }))
    : o.xLog
      ? [...new Set(xs)].sort((a, b) => a - b).map((v) => ({ v, label: fmtTick(v) }))
      : niceTicks(x0, x1).map((v) => ({ v, label: fmtTick(v) }));
  for (const t of xTicks) {
    const x = sx(t.v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#666"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" font-size="10" text-anchor="middle">${esc(t.label)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#666"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#666"/>`);
  if (o.zeroLine && y0 < 0 && y1 > 0)
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(0).toFixed(1)}" y2="${sy(0).toFixed(1)}" stroke="#444" stroke-dasharray="2 2"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(o.yLabel)}</text>`);
  // Series: band, line, points with hover values, legend entry.
  o.series.forEach((s, i) => {
    const colour = s.colour ?? (s.dashed ? "#888888" : colourFor(s.name));
    const sorted = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const banded = sorted.filter((p) => Number.isFinite(p.lo) && Number.isFinite(p.hi));
    const g: string[] = [];
    if (banded.length > 1) {
      const upper = banded.map((p) => `${sx(p.x).toFixed(1)},${sy(p.hi!).toFixed(1)}`);
      const lower = banded
        .slice()
        .reverse()
        .map((p) => `${sx(p.x).toFixed(1)},${sy(p.lo!).toFixed(1)}`);
      g.push(`<polygon class="band" points="${[...upper, ...lower].join(" ")}" fill="${colour}" fill-opacity="0.15" stroke="none"/>`);
    } else
      for (const p of banded)
        g.push(
          `<line class="band" x1="${sx(p.x).toFixed(1)}" x2="${sx(p.x).toFixed(1)}" y1="${sy(p.lo!).toFixed(1)}" y2="${sy(p.hi!).toFixed(1)}" stroke="${colour}" stroke-width="6" stroke-opacity="0.25"/>`,
        );
    if (sorted.length > 1)
      g.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="${s.dashed ? 1.2 : 2}"${s.dashed ? ' stroke-dasharray="5 4"' : ""} points="${sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    for (const p of sorted) {
      const xText = o.xCategories ? o.xCategories[p.x] : fmtTick(p.x);
      const ci = Number.isFinite(p.lo) && Number.isFinite(p.hi) ? ` [${fmtValue(p.lo!)}, ${fmtValue(p.hi!)}]` : "";
      g.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="${s.dashed ? 2 : 3.5}" fill="${colour}"><title>${esc(`${s.name} at ${o.xLabel} ${xText}: ${fmtValue(p.y)}${ci}${p.note ? ` (${p.note})` : ""}`)}</title></circle>`,
      );
    }
    const ly = m.top + 6 + i * 16;
    g.push(
      `<line x1="${m.left + pw + 12}" x2="${m.left + pw + 32}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="${s.dashed ? 1.2 : 2.5}"${s.dashed ? ' stroke-dasharray="5 4"' : ""}/><text x="${m.left + pw + 36}" y="${ly}" font-size="11" dominant-baseline="middle">${esc(sorted.length ? s.name : `${s.name} (n/a)`)}</text>`,
    );
    parts.push(`<g class="series" data-name="${esc(s.name)}" data-colour="${colour}">${g.join("")}</g>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart"${o.id ? ` id="${esc(o.id)}"` : ""} width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">${parts.join("")}</svg>`;
}
