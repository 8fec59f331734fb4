import { describe, expect, it } from "vitest";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { colourFor } from "../../src/report/charts.js";
import { quantiseMaps, thumbnail, type ExplorerData, type ExplorerSample } from "../../src/report/explorer.js";
import { curveChart, htmlReport, verdict, type DemoReport } from "../../src/demo/report.js";
import { gapHtml, type GapReport } from "../../src/report/gap-report.js";
import { inChromium } from "../helpers/chromium.js";

const MODELS = ["teacher", "distill", "lavit", "lavit thoughts (head)"];
const SPLITS = ["test-id", "test-ood"];
const FAMILIES = ["count", "colour", "position"];

/** A seeded uniform in [0, 1) (mulberry32), so the synthetic samples are the same every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n samples on a 4x4 grid with two steps; distill is right on even ids, lavit on ids divisible by 3. */
function samples(n: number): ExplorerSample[] {
  const r = rng(7);
  const image = thumbnail(new Uint8Array(64 * 64 * 3).fill(90), 64, 64);
  return Array.from({ length: n }, (_, i) => {
    const runs: ExplorerSample["runs"] = {};
    for (const m of MODELS) {
      const maps = [0, 1].map(() => Float32Array.from({ length: 16 }, () => r()));
      runs[m] = {
        ...(m === "distill" ? { predicted: i % 2 === 0 ? "yes" : "no", correct: i % 2 === 0 } : {}),
        ...(m === "lavit" ? { predicted: i % 3 === 0 ? "yes" : "no", correct: i % 3 === 0 } : {}),
        mass: [r(), r()],
        ...(m !== "teacher" ? { js: [r() * 0.7, i === 5 && m === "distill" ? null : r() * 0.7] } : {}),
        maps: quantiseMaps(maps),
      };
    }
    return {
      id: `s${i}`,
      split: SPLITS[i % 2],
      family: FAMILIES[Math.floor(i / 6) % 3],
      question: `is there a <b>thing</b> ${i}?`,
      answer: "yes",
      image,
      grid: { rows: 4, cols: 4 },
      steps: [
        { text: `look at the left ${i}`, truth: [0, 1, 4] },
        { text: "then the right", truth: [15] },
      ],
      runs,
    };
  });
}

function demoReport(): DemoReport {
  const results: DemoReport["results"] = {
    teacher: { "test-id": { accuracy: 0.9, grounding_mass: 0.5 }, "test-ood": { accuracy: 0.8, grounding_mass: 0.4 } },
    distill: { "test-id": { accuracy: 0.6, js_to_teacher: 0.2 }, "test-ood": { accuracy: 0.5, js_to_teacher: 0.25 } },
    // a run that lacks some metrics: n/a, never NaN
    lavit: { "test-id": { accuracy: 0.7, js_to_teacher: NaN }, "test-ood": { accuracy: 0.65 } },
    "lavit thoughts (head)": { "test-ood": { js_to_teacher: 0.1, grounding_mass: 0.3 } },
  };
  return { seeds: [1], results, reference: {}, config: { prior: 0.8 }, verdict: verdict(results), timings_s: {} };
}

async function colours(page: Page): Promise<{ model: string; colour: string }[]> {
  const series = await page.$$eval("svg.chart g.series", (gs) =>
    gs.map((g) => ({ model: g.getAttribute("data-name")!, colour: g.getAttribute("data-colour")! })),
  );
  const swatches = await page.$$eval("#explorer .swatch[data-model]", (ss) =>
    ss.map((s) => ({ model: s.getAttribute("data-model")!, colour: /background:(#[0-9A-Fa-f]{6})/.exec(s.getAttribute("style") ?? "")?.[1] ?? "" })),
  );
  return [...series, ...swatches];
}

/** What a researcher does: filter, sort by a gap between two models, open a sample; and nothing is fetched. */
async function explore(page: Page, total: number, models: number): Promise<void> {
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.reload();
  expect(requests).toEqual([page.url()]);
  expect(await page.evaluate(() => performance.getEntriesByType("resource").length)).toBe(0);

  const rows = () => page.$$eval("#explorer-table tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? "")));
  const head = await page.$$eval("#explorer-table thead th", (ths) => ths.map((th) => th.textContent ?? ""));
  const col = (name: string) => head.indexOf(name);
  expect((await rows()).length).toBe(total);
  expect(await page.textContent("#explorer-count")).toBe(`${total} of ${total} samples`);

  // distill wrong, lavit right, on test-ood, family count
  await page.selectOption("#f-split", "test-ood");
  await page.selectOption("#f-family", "count");
  await page.selectOption('.f-correct[data-model="distill"]', "0");
  await page.selectOption('.f-correct[data-model="lavit"]', "1");
  const picked = await rows();
  const expected = Array.from({ length: total }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 === 0 && FAMILIES[Math.floor(i / 6) % 3] === "count");
  expect(picked.length).toBeGreaterThan(0);
  expect(picked.length).toBeLessThan(total / 6);
  expect(picked.map((r) => r[0]).sort()).toEqual(expected.map((i) => `s${i}`).sort());
  for (const r of picked) {
    expect(r[col("split")]).toBe("test-ood");
    expect(r[col("family")]).toBe("count");
    expect(r[col("distill says")]).toMatch(/✗$/);
    expect(r[col("lavit says")]).toMatch(/✓$/);
  }

  // sort by JS of distill minus JS of lavit, largest first
  await page.selectOption('.f-correct[data-model="distill"]', "");
  await page.selectOption('.f-correct[data-model="lavit"]', "");
  await page.selectOption("#f-split", "");
  await page.selectOption("#f-family", "");
  await page.selectOption("#s-metric", "js");
  await page.selectOption("#s-a", "distill");
  await page.selectOption("#s-b", "lavit");
  const sorted = await rows();
  const gaps = sorted.map((r) => Number(r[col("distill JS")]) - Number(r[col("lavit JS")]));
  // the page sorts on unrounded means; the shown values are rounded to 3 decimals
  for (let k = 1; k < gaps.length; k++) expect(gaps[k - 1]).toBeGreaterThanOrEqual(gaps[k] - 2e-3);
  expect(gaps[0]).toBeGreaterThan(gaps[gaps.length - 1]);
  await page.selectOption("#s-order", "asc");
  const asc = await rows();
  expect(Number(asc[0][col("distill JS")]) - Number(asc[0][col("lavit JS")])).toBeLessThan(gaps[0]);

  // open a sample: its maps for every step, the step's text, a colour bar, the ground truth outlined
  await page.click('#explorer-table tbody tr:has(td:text-is("s3"))');
  expect(await page.textContent("#explorer-detail h3")).toContain("s3");
  expect(await page.$$eval("#explorer-detail .step", (s) => s.length)).toBe(2);
  expect(await page.textContent('#explorer-detail .step[data-step="0"] .steptext')).toBe("step 1: look at the left 3");
  expect(await page.$$eval("#explorer-detail canvas.map", (c) => c.length)).toBe(2 * (1 + models));
  expect(await page.$$eval("#explorer-detail canvas.colourbar", (c) => c.length)).toBe(1);
  const pixels = await page.$$eval("#explorer-detail canvas.map", (cs) =>
    cs.map((c) => {
      const canvas = c as unknown as {
        width: number;
        getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const ctx = canvas.getContext("2d");
      const w = canvas.width;
      return {
        edge: [...ctx.getImageData(Math.floor(w / 8), 0, 1, 1).data],
        mid: [...ctx.getImageData(Math.floor(w / 2) + 3, Math.floor(w / 2) + 3, 1, 1).data],
      };
    }),
  );
  // cyan on the top edge of cell 0 (ground truth of step 1); the heat blended over the grey image elsewhere
  expect(pixels[0].edge.slice(0, 3)).toEqual([0, 255, 255]);
  expect(pixels.slice(1, 1 + models).some((p) => p.mid[0] !== 90)).toBe(true);
  const caption = await page.textContent('#explorer-detail .step[data-step="0"] figure[data-model="distill"] figcaption');
  expect(caption).toMatch(/^distill: mass \d\.\d{3}, JS \d\.\d{3}$/);
  const missing = await page.textContent('#explorer-detail .step[data-step="1"] figure[data-model="teacher"] figcaption');
  expect(missing).toMatch(/^teacher: mass \d\.\d{3}$/);
  expect(await page.$eval("#explorer-table tr.sel td", (td) => td.textContent)).toBe("s3");
}

describe("the per-sample explorer", () => {
  it("filters, sorts, shows a sample's maps, colours a model the same in every chart, and fetches nothing (demo report, 1,000 samples)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-explorer-"));
    const data: ExplorerData = { models: MODELS, samples: samples(1000), sort: { metric: "correct", a: "lavit", b: "distill" } };
    const curves = ["loss_ce", "loss_traj"].map((key) =>
      curveChart(
        {
          distill: key === "loss_ce" ? [0, 10, 20].map((step) => ({ step, value: 3 - step / 10 })) : [],
          lavit: [0, 10, 20].map((step) => ({ step, value: 2.5 - step / 12 })),
          "no-align": [0, 10, 20].map((step) => ({ step, value: 2.8 - step / 11 })),
        },
        key,
        1,
      ),
    );
    const rep = demoReport();
    const html = htmlReport(rep, curves, [], data);
    expect(html).not.toMatch(/NaN/);
    expect(html).not.toMatch(/<b>thing/);
    const file = join(dir, "report.html");
    writeFileSync(file, html);
    // compact: 1,000 samples' maps (four models, two steps) take a byte a cell; most of the page is their 32-pixel thumbnails
    expect(statSync(file).size).toBeLessThan(6_000_000);
    await inChromium(file, { width: 1200, height: 900 }, async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      // the missing metric is n/a in the table
      const lavitRow = await page.$$eval("#results tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? "")));
      expect(lavitRow.find((r) => r[0] === "lavit" && r[1] === "test-id")![4]).toBe("n/a");
      // the default sort: lavit right and distill wrong first
      const first = await page.$$eval("#explorer-table tbody tr:first-child td", (tds) => tds.map((td) => td.textContent ?? ""));
      expect(first.some((t) => /✗$/.test(t))).toBe(true);
      await explore(page, 1000, MODELS.length);
      const seen = await colours(page);
      expect(seen.filter((s) => s.model === "lavit").length).toBeGreaterThan(4);
      for (const { model, colour } of seen) expect(colour, model).toBe(colourFor(model).toUpperCase());
      expect(new Set(seen.filter((s) => s.model.startsWith("lavit")).map((s) => s.colour)).size).toBe(1);
      expect(errors).toEqual([]);
    });
  });

  it("in gap.html: per-step charts and the same explorer; a run lacking a metric shows n/a", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lavit-explorer-gap-"));
    const g = (js?: number) => ({ samples: 3, entropy: 2, ...(js !== undefined ? { js_to_teacher: js } : {}) });
    const report: GapReport = {
      teacher: { name: "teacher", dir: "/t", ...g() },
      models: { distill: g(0.3), lavit: g(NaN) },
      uniform: g(0.5),
      compared: 3,
      coverage: {},
      topk: 8,
      regions: { kind: "dataset", file: "/d", samples: 3 },
      heatmaps: [],
      per_sample: [],
    };
    const three = samples(40).map((s) => ({ ...s, runs: { teacher: s.runs.teacher, distill: s.runs.distill, lavit: s.runs.lavit } }));
    const data: ExplorerData = { models: ["teacher", "distill", "lavit"], samples: three };
    const html = gapHtml(report, data);
    expect(html).not.toMatch(/NaN/);
    const file = join(dir, "gap.html");
    writeFileSync(file, html);
    await inChromium(file, { width: 1200, height: 900 }, async (page) => {
      expect(await page.$$eval("#models tbody tr", (trs) => trs.map((tr) => tr.children[2].textContent))).toEqual(["n/a", "0.3000", "n/a", "0.5000"]);
      expect(await page.$$eval("svg.chart", (s) => s.length)).toBe(2);
      await explore(page, 40, 3);
      for (const { model, colour } of await colours(page)) expect(colour, model).toBe(colourFor(model).toUpperCase());
    });
  });
});
