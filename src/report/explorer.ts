/**
 * The per-sample explorer of report.html and gap.html: a table of samples (question, answer,
 * each model's prediction and its per-step JS and grounding mass) to filter and sort, and on
 * a click the sample's maps for every step, drawn on <canvas> from quantised arrays embedded
 * in the page. Self-contained: inline CSS, JSON and script, nothing fetched.
 */
import { colourFor, esc } from "./charts.js";

/** One model's view of one sample. */
export interface ExplorerRun {
  predicted?: string | null;
  correct?: boolean;
  /** Per step: JS divergence to the reference's map (null: no such step or no reference). */
  js?: (number | null)[];
  /** Per step: share of the map on the step's ground truth (null: unknown). */
  mass?: (number | null)[];
  /** Its maps, quantised (quantiseMaps). */
  maps?: string;
}

export interface ExplorerSample {
  id: string;
  split?: string;
  family?: string;
  question?: string;
  answer?: string;
  /** A thumbnail of the image (thumbnail()). */
  image?: { width: number; height: number; rgb: string };
  grid: { rows: number; cols: number };
  /** Per step: its text (when known) and its ground-truth cells (row-major on grid). */
  steps: { text?: string; truth?: number[] }[];
  runs: Record<string, ExplorerRun>;
}

export interface ExplorerData {
  /** Model names in column order (colours from colourFor). */
  models: string[];
  samples: ExplorerSample[];
  /** The default sort: metric of a minus metric of b, largest first. */
  sort?: { metric: "js" | "mass" | "correct"; a: string; b: string };
}

const round = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : +v.toFixed(4));

/** Per-step JS and mass rounded for the page (NaN and missing become null, shown "n/a"). */
export function roundSeries(v: readonly (number | null | undefined)[]): (number | null)[] {
  return v.map(round);
}

/**
 * A sample's maps as one base64 string of uint8, step after step, each step scaled to its own
 * maximum (the page draws each map min..max, as the PNG heatmaps do): a byte per cell.
 */
export function quantiseMaps(maps: readonly ArrayLike<number>[]): string {
  const cells = maps[0]?.length ?? 0;
  const out = new Uint8Array(maps.length * cells);
  maps.forEach((m, t) => {
    let hi = 0;
    for (let i = 0; i < m.length; i++) if (m[i] > hi) hi = m[i];
    for (let i = 0; i < cells; i++) out[t * cells + i] = hi > 0 && Number.isFinite(m[i]) ? Math.round((255 * Math.max(0, m[i])) / hi) : 0;
  });
  return Buffer.from(out).toString("base64");
}

/** The image shrunk (box filter) so its longer side is at most maxSide pixels, as base64 RGB. */
export function thumbnail(rgb: Uint8Array, width: number, height: number, maxSide = 32): ExplorerSample["image"] {
  const f = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  const w = Math.max(1, Math.floor(width / f));
  const h = Math.max(1, Math.floor(height / f));
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < 3; k++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += rgb[((y * f + dy) * width + x * f + dx) * 3 + k];
        out[(y * w + x) * 3 + k] = Math.round(sum / (f * f));
      }
  return { width: w, height: h, rgb: Buffer.from(out).toString("base64") };
}

const CSS = `#explorer .controls{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;margin:8px 0;font-size:13px}
#explorer .tablewrap{max-height:480px;overflow:auto;border:1px solid #ccc}
#explorer-table{border-collapse:collapse;font-size:12px;width:100%}
#explorer-table th{position:sticky;top:0;background:#f3f3f3;z-index:1}
#explorer-table td,#explorer-table th{border:1px solid #ddd;padding:2px 5px;text-align:right;white-space:nowrap}
#explorer-table td.t{text-align:left;white-space:normal;min-width:120px}
#explorer-table tbody tr{cursor:pointer}#explorer-table tbody tr:hover{background:#eef5ff}
#explorer-table tr.sel{background:#dbe9ff}
#explorer-table .right{color:#0072B2}#explorer-table .wrong{color:#D55E00;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:3px;vertical-align:middle}
#explorer-detail{overflow-x:auto}
#explorer-detail .step{display:flex;gap:8px;align-items:flex-start;margin:6px 0}
#explorer-detail .steptext{flex:none;width:150px;font-size:12px;text-align:right}
#explorer-detail figure{flex:none;max-width:136px;margin:0;display:flex;flex-direction:column;align-items:center;font-size:11px}
#explorer-detail canvas.map{image-rendering:pixelated;border:1px solid #ccc}
#explorer-detail .scale{font-size:12px;display:flex;align-items:center;gap:6px;margin:4px 0}`;

/** The explorer's script: plain ES2019, run once the page has loaded. */
const SCRIPT = String.raw`(() => {
const D = JSON.parse(document.getElementById("explorer-data").textContent);
const $ = (id) => document.getElementById(id);
const fin = (v) => v !== null && v !== undefined && isFinite(v);
const fmt = (v) => (fin(v) ? v.toFixed(3) : "n/a");
const mean = (a) => { const v = (a || []).filter(fin); return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null; };
const has = (key) => D.models.filter((m) => D.samples.some((s) => s.runs[m.name] && fin(key === "correct" ? (s.runs[m.name].correct === undefined ? null : 1) : mean(s.runs[m.name][key]))));
for (const s of D.samples) for (const m of D.models) { const r = s.runs[m.name]; if (r) { r.jsMean = mean(r.js); r.massMean = mean(r.mass); } }
const value = (s, model, metric) => { const r = s.runs[model]; if (!r) return null; if (metric === "correct") return r.correct === undefined ? null : r.correct ? 1 : 0; return metric === "js" ? r.jsMean : r.massMean; };
const withPred = has("correct"), withJs = has("js"), withMass = has("mass");
const opts = (values, all) => (all ? '<option value="">' + all + "</option>" : "") + values.map((v) => '<option value="' + esc(v) + '">' + esc(v) + "</option>").join("");
function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }
const uniq = (key) => [...new Set(D.samples.map((s) => s[key]).filter((v) => v !== undefined))].sort();
const c = [];
const families = uniq("family"), splits = uniq("split");
if (families.length) c.push('<label>family <select id="f-family">' + opts(families, "all") + "</select></label>");
if (splits.length) c.push('<label>split <select id="f-split">' + opts(splits, "all") + "</select></label>");
withPred.forEach((m, i) => c.push('<label><span class="swatch" style="background:' + m.colour + '"></span>' + esc(m.name) + ' <select class="f-correct" data-model="' + esc(m.name) + '"><option value="">any</option><option value="1">right</option><option value="0">wrong</option></select></label>'));
const metrics = [["js", "JS to teacher", withJs], ["mass", "grounding mass", withMass], ["correct", "correct", withPred]].filter((x) => x[2].length);
const names = D.models.map((m) => m.name);
c.push('<label>sort by <select id="s-metric">' + metrics.map((x) => '<option value="' + x[0] + '">' + x[1] + "</option>").join("") + '</select> of <select id="s-a">' + opts(names) + '</select> minus <select id="s-b"><option value="">(nothing)</option>' + opts(names) + '</select> <select id="s-order"><option value="desc">largest first</option><option value="asc">smallest first</option></select></label>');
c.push('<span id="explorer-count"></span>');
$("explorer-controls").innerHTML = c.join("");
if (D.sort) { $("s-metric").value = D.sort.metric; $("s-a").value = D.sort.a; $("s-b").value = D.sort.b; }
const sw = (m) => '<span class="swatch" data-model="' + esc(m.name) + '" style="background:' + m.colour + '"></span>';
const head = ["id"].concat(splits.length ? ["split"] : [], families.length ? ["family"] : [], ["question", "answer"]).map((h) => "<th>" + h + "</th>");
for (const m of withPred) head.push("<th>" + sw(m) + esc(m.name) + " says</th>");
for (const m of withJs) head.push('<th title="mean over steps of the JS divergence to the teacher\'s map">' + sw(m) + esc(m.name) + " JS</th>");
for (const m of withMass) head.push('<th title="mean over steps of the share of the map on the ground truth">' + sw(m) + esc(m.name) + " mass</th>");
$("explorer-table").tHead.innerHTML = "<tr>" + head.join("") + "</tr>";
function row(s, i) {
  const td = (v, cls, title) => "<td" + (cls ? ' class="' + cls + '"' : "") + (title ? ' title="' + esc(title) + '"' : "") + ">" + v + "</td>";
  const cells = [td(esc(s.id), "t")];
  if (splits.length) cells.push(td(esc(s.split || "n/a"), "t"));
  if (families.length) cells.push(td(esc(s.family || "n/a"), "t"));
  cells.push(td(esc(s.question || "n/a"), "t"), td(esc(s.answer || "n/a"), "t"));
  for (const m of withPred) { const r = s.runs[m.name]; cells.push(!r || r.correct === undefined ? td("n/a") : td(esc(r.predicted === null || r.predicted === undefined ? "(none)" : r.predicted) + (r.correct ? " ✓" : " ✗"), r.correct ? "right" : "wrong")); }
  const per = (a) => "per step: " + (a || []).map(fmt).join(", ");
  for (const m of withJs) { const r = s.runs[m.name]; cells.push(td(fmt(r && r.jsMean), "", r && per(r.js))); }
  for (const m of withMass) { const r = s.runs[m.name]; cells.push(td(fmt(r && r.massMean), "", r && per(r.mass))); }
  return '<tr data-i="' + i + '">' + cells.join("") + "</tr>";
}
let selected = -1;
function render() {
  const fam = $("f-family") ? $("f-family").value : "", split = $("f-split") ? $("f-split").value : "";
  const corr = [...document.querySelectorAll(".f-correct")].filter((e) => e.value !== "").map((e) => [e.dataset.model, e.value === "1"]);
  const metric = $("s-metric").value, a = $("s-a").value, b = $("s-b").value, dir = $("s-order").value === "asc" ? 1 : -1;
  const key = (s) => { const x = value(s, a, metric); if (!b) return x; const y = value(s, b, metric); return fin(x) && fin(y) ? x - y : null; };
  const shown = D.samples.map((s, i) => ({ s, i, k: key(s) })).filter(({ s }) => (!fam || s.family === fam) && (!split || s.split === split) && corr.every(([m, want]) => s.runs[m] && s.runs[m].correct === want));
  shown.sort((p, q) => (fin(p.k) ? (fin(q.k) ? dir * (p.k - q.k) : -1) : fin(q.k) ? 1 : 0) || p.i - q.i);
  $("explorer-table").tBodies[0].innerHTML = shown.map(({ s, i }) => row(s, i).replace("<tr", i === selected ? '<tr class="sel"' : "<tr")).join("");
  $("explorer-count").textContent = shown.length + " of " + D.samples.length + " samples";
}
$("explorer-controls").addEventListener("change", render);
const decode = (b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
const ramp = (v) => [Math.min(255, 765 * v), Math.max(0, Math.min(255, 765 * v - 255)), Math.max(0, Math.min(255, 765 * v - 510))];
const SIDE = 132;
let bg = null;
function background(s) {
  if (bg && bg.s === s) return bg.canvas;
  const px = decode(s.image.rgb), im = new ImageData(s.image.width, s.image.height);
  for (let p = 0; p < s.image.width * s.image.height; p++) { im.data[4 * p] = px[3 * p]; im.data[4 * p + 1] = px[3 * p + 1]; im.data[4 * p + 2] = px[3 * p + 2]; im.data[4 * p + 3] = 255; }
  const canvas = document.createElement("canvas"); canvas.width = s.image.width; canvas.height = s.image.height; canvas.getContext("2d").putImageData(im, 0, 0);
  bg = { s, canvas };
  return canvas;
}
function panel(s, map, truth) {
  // Cells follow the image's aspect when there is one (a 5:3 photo on a 4 x 4 grid has wide cells).
  const g = s.grid, side = s.image ? SIDE / Math.max(s.image.width, s.image.height) : Math.max(1, Math.floor(SIDE / Math.max(g.rows, g.cols)));
  const cv = document.createElement("canvas");
  cv.className = "map";
  cv.width = s.image ? Math.round(s.image.width * side) : g.cols * side;
  cv.height = s.image ? Math.round(s.image.height * side) : g.rows * side;
  const cw = cv.width / g.cols, ch = cv.height / g.rows;
  const ctx = cv.getContext("2d");
  ctx.fillStyle = "#777"; ctx.fillRect(0, 0, cv.width, cv.height);
  if (s.image) {
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(background(s), 0, 0, cv.width, cv.height);
  }
  if (map) {
    let lo = 255, hi = 0;
    for (const v of map) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    map.forEach((v, k) => { const h = ramp(hi > lo ? (v - lo) / (hi - lo) : 0); ctx.fillStyle = "rgba(" + h.map(Math.round).join(",") + ",0.6)"; ctx.fillRect((k % g.cols) * cw, Math.floor(k / g.cols) * ch, cw, ch); });
  }
  const inTruth = new Set(truth || []);
  ctx.strokeStyle = "#00FFFF"; ctx.lineWidth = 2; ctx.beginPath();
  for (const k of inTruth) {
    const r = Math.floor(k / g.cols), q = k % g.cols, x = q * cw, y = r * ch;
    if (r === 0 || !inTruth.has(k - g.cols)) { ctx.moveTo(x, y + 1); ctx.lineTo(x + cw, y + 1); }
    if (r === g.rows - 1 || !inTruth.has(k + g.cols)) { ctx.moveTo(x, y + ch - 1); ctx.lineTo(x + cw, y + ch - 1); }
    if (q === 0 || !inTruth.has(k - 1)) { ctx.moveTo(x + 1, y); ctx.lineTo(x + 1, y + ch); }
    if (q === g.cols - 1 || !inTruth.has(k + 1)) { ctx.moveTo(x + cw - 1, y); ctx.lineTo(x + cw - 1, y + ch); }
  }
  ctx.stroke();
  return cv;
}
function colourBar() {
  const cv = document.createElement("canvas"); cv.width = 160; cv.height = 12; cv.className = "colourbar";
  const ctx = cv.getContext("2d");
  for (let x = 0; x < 160; x++) { ctx.fillStyle = "rgb(" + ramp(x / 159).map(Math.round).join(",") + ")"; ctx.fillRect(x, 0, 1, 12); }
  const d = document.createElement("div"); d.className = "scale";
  d.append("attention: least", cv, "most (each map scaled to its own range; cyan outline: the step's ground truth)");
  return d;
}
function show(i) {
  selected = i;
  for (const tr of $("explorer-table").tBodies[0].rows) tr.classList.toggle("sel", +tr.dataset.i === i);
  const s = D.samples[i], box = $("explorer-detail");
  box.innerHTML = "";
  const h = document.createElement("h3");
  h.textContent = s.id + (s.split ? " (" + s.split + (s.family ? ", " + s.family : "") + ")" : "") + ": " + (s.question || "") + (s.answer ? " (answer " + s.answer + ")" : "");
  box.append(h, colourBar());
  const maps = {};
  for (const m of D.models) { const r = s.runs[m.name]; if (r && r.maps) maps[m.name] = decode(r.maps); }
  const cells = s.grid.rows * s.grid.cols;
  const steps = Math.max(s.steps.length, ...Object.values(maps).map((a) => a.length / cells));
  for (let t = 0; t < steps; t++) {
    const st = s.steps[t] || {}, line = document.createElement("div"); line.className = "step"; line.dataset.step = t;
    const txt = document.createElement("div"); txt.className = "steptext"; txt.textContent = "step " + (t + 1) + (st.text ? ": " + st.text : "");
    line.append(txt);
    const fig = (cv, cap, model) => { const f = document.createElement("figure"); if (model) f.dataset.model = model; const fc = document.createElement("figcaption"); fc.innerHTML = cap; f.append(cv, fc); line.append(f); };
    fig(panel(s, null, st.truth), "image");
    for (const m of D.models) {
      const a = maps[m.name]; if (!a) continue;
      const r = s.runs[m.name], map = a.length >= (t + 1) * cells ? a.subarray(t * cells, (t + 1) * cells) : null;
      const facts = map ? ["mass " + fmt(r.mass && r.mass[t])].concat(r.js ? ["JS " + fmt(r.js[t])] : []).join(", ") : "no such step";
      fig(panel(s, map, st.truth), sw(m) + esc(m.name) + ": " + facts, m.name);
    }
    box.append(line);
  }
}
$("explorer-table").tBodies[0].addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) show(+tr.dataset.i); });
render();
})();`;

/** The explorer as an HTML section (CSS, data and script inline). */
export function explorerSection(data: ExplorerData): string {
  if (!data.samples.length) return `<section id="explorer"><p>No samples to explore (n/a).</p></section>`;
  const payload = { models: data.models.map((name) => ({ name, colour: colourFor(name) })), samples: data.samples, sort: data.sort };
  // `<` escaped so no string in the data can close the script element.
  const json = JSON.stringify(payload).replace(/</g, "\\u003c");
  return `<section id="explorer"><style>${CSS}</style>
<p>Every sample: filter by family, split or who got it right; sort by the difference between two models; click a row to see where each model looked at every step.</p>
<div class="controls" id="explorer-controls"></div>
<div class="tablewrap"><table id="explorer-table"><thead></thead><tbody></tbody></table></div>
<div id="explorer-detail"><p>${esc("Click a row to see its maps.")}</p></div>
<script type="application/json" id="explorer-data">${json}</script>
<script>${SCRIPT}</script></section>`;
}
