import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, tf } from "../../src/engine/index.js";
import { loadSplit, type LoadedSplit } from "../../src/data/dataset.js";
import { buildVlm, decoderForward, embedWithImage, IMAGE_START, projectVision, visionForward } from "../../src/model/vlm.js";
import { imageAttentionAllRows, layersUsed, parseLayerSpec } from "../../src/model/readout.js";
import { extractSignals, type ExtractOptions } from "../../src/signals/extract.js";
import { stepQueryRows } from "../../src/signals/forced.js";
import { lavitGradientMap, officialGradientMap, officialTokenPositions } from "../../src/signals/gradient.js";
import { readoutRows, type ReadoutRow } from "../../src/eval/gaze.js";
import { predictWithReadout } from "../../src/eval/evaluate.js";
import { patchBatch } from "../../src/model/vlm.js";
import { readSafetensors, toFloat32 } from "../../src/io/safetensors.js";
import { UserError } from "../../src/errors.js";
import { tinyConfig, tinyDataset } from "../helpers/tiny.js";

describe("layer selection", () => {
  it("parses all, official and last:N and refuses other forms", () => {
    expect(parseLayerSpec("all")).toBe("all");
    expect(parseLayerSpec("official")).toBe("official");
    expect(parseLayerSpec("last:3")).toBe("last:3");
    expect(parseLayerSpec("last:")).toBeNull();
    expect(parseLayerSpec("first:2")).toBeNull();
    expect(parseLayerSpec("last:-1")).toBeNull();
  });

  it("selects the last N layers; official is the last 8 or all when fewer; last:0 and too many are refused", () => {
    expect(layersUsed("all", 4)).toEqual([0, 1, 2, 3]);
    expect(layersUsed("last:2", 4)).toEqual([2, 3]);
    expect(layersUsed("last:4", 4)).toEqual([0, 1, 2, 3]);
    expect(layersUsed("official", 4)).toEqual([0, 1, 2, 3]);
    expect(layersUsed("official", 12)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(layersUsed("last:0", 4)).toBeNull();
    expect(layersUsed("last:5", 4)).toBeNull();
  });

  it("averages heads and only the selected layers", () => {
    // Two layers [1 batch, 2 heads, 1 query, IMAGE_START + 2 keys]; image columns are the last two.
    const l0 = tf.tensor4d([[[[0, 0, 0.2, 0.4]], [[0, 0, 0.6, 0.0]]]]);
    const l1 = tf.tensor4d([[[[0, 0, 1.0, 0.0]], [[0, 0, 0.0, 1.0]]]]);
    const at = (layers: number[]) => Array.from(imageAttentionAllRows([l0, l1], layers, 2).dataSync());
    // Heads mean: layer 0 -> (0.4, 0.2), layer 1 -> (0.5, 0.5).
    expect(at([1]).map((x) => +x.toFixed(5))).toEqual([0.5, 0.5]);
    expect(at([0]).map((x) => +x.toFixed(5))).toEqual([0.4, 0.2]);
    expect(at([0, 1]).map((x) => +x.toFixed(5))).toEqual([0.45, 0.35]);
  });
});

describe("query rows", () => {
  // Prompt: <bos> <vision_start> 4 image tokens <vision_end> q1 q2 (length 9); words w0..w4; steps [0, 2) and [2, 5).
  const row: ReadoutRow = {
    index: 0,
    ids: new Array(14).fill(0),
    promptLength: 9,
    words: ["a", "b", ";", "c", "d"],
    spans: [
      { start: 0, end: 2 },
      { start: 2, end: 5 },
    ],
    stepPositions: [
      [8, 9],
      [10, 11, 12],
    ],
  };
  it("step: the positions that produced the step's words", () => {
    expect(stepQueryRows(row, 0, "step", 4)).toEqual([8, 9]);
    expect(stepQueryRows(row, 1, "step", 4)).toEqual([10, 11, 12]);
  });
  it("prefix: every position from <vision_end> to the step's last word", () => {
    expect(IMAGE_START + 4).toBe(6);
    expect(stepQueryRows(row, 0, "prefix", 4)).toEqual([6, 7, 8, 9, 10]);
    expect(stepQueryRows(row, 1, "prefix", 4)).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
  });
});

describe("gradient recipes on a known gradient", () => {
  it("official: per-token softmax(g / tau), no min-max, weighted by max(g) / sum(g)", () => {
    const ga = new Float32Array([0.02, 0, 0, 0]); // strength 1
    const gb = new Float32Array([0.01, 0.01, 0, 0]); // strength 0.5
    const e = Math.E;
    const e2 = e * e;
    const pa = [e2 / (e2 + 3), 1 / (e2 + 3), 1 / (e2 + 3), 1 / (e2 + 3)];
    const pb = [e / (2 * e + 2), e / (2 * e + 2), 1 / (2 * e + 2), 1 / (2 * e + 2)];
    const want = pa.map((x, i) => (x * 1 + pb[i] * 0.5) / 1.5);
    const got = officialGradientMap([ga, gb], 0.01);
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    // Min-max first (lavit) would make [0.02, 0, 0, 0] and [2, 0, 0, 0] the same map; the official recipe does not.
    const big = officialGradientMap([new Float32Array([2, 0, 0, 0])], 0.01);
    expect(big[0]).toBeCloseTo(1, 6);
    expect(officialGradientMap([ga], 0.01)[0]).toBeCloseTo(pa[0], 5);
  });

  it("lavit: min-max, then softmax(/tau)", () => {
    const g = new Float32Array([3, 1, 2]);
    const z = [1, 0, 0.5].map((x) => Math.exp(x / 0.05));
    const s = z.reduce((a, b) => a + b, 0);
    const got = lavitGradientMap(g, 0.05);
    z.forEach((v, i) => expect(got[i]).toBeCloseTo(v / s, 6));
  });

  it("official: takes at most 10 tokens of a step, skips markup, falls back to the last token", () => {
    const words = Array.from({ length: 14 }, (_, i) => (i === 1 ? "<x>" : `w${i}`));
    const row: ReadoutRow = {
      index: 0,
      ids: [],
      promptLength: 5,
      words,
      spans: [{ start: 0, end: 14 }],
      stepPositions: [Array.from({ length: 14 }, (_, j) => 4 + j)],
    };
    expect(officialTokenPositions(row, 0)).toEqual([4, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const markup: ReadoutRow = { ...row, words: ["<a>", "<b>"], spans: [{ start: 0, end: 2 }], stepPositions: [[4, 5]] };
    expect(officialTokenPositions(markup, 0)).toEqual([5]);
  });
});

describe("extraction settings on a tiny teacher", () => {
  let data: LoadedSplit;
  const n = 16;
  beforeAll(async () => {
    await initEngine();
    data = loadSplit(await tinyDataset({ teacherTrain: 2, train: 4, test: 2 }), "train");
  });
  const run = async (teacherSeed: number, o: Partial<ExtractOptions>) => {
    const teacher = buildVlm(tinyConfig(data.tokenizer.size, { layers: 3 }), teacherSeed);
    const out = mkdtempSync(join(tmpdir(), "lavit-fid-"));
    const summary = await extractSignals(teacher, data.tokenizer, data, out, { method: "attention", topk: 4, tau: 0.05, quiet: true, ...o });
    const meta = JSON.parse(readFileSync(join(out, "metadata.json"), "utf8")) as {
      results: { id: string; attention_path_abs: string; v_top_path_abs: string; ground_truth_enriched: string }[];
    };
    const maps = meta.results.map((r) =>
      (JSON.parse(readFileSync(join(out, r.attention_path_abs), "utf8")) as { steps: { p_t: number[] }[] }).steps.map((s) => s.p_t),
    );
    const vtop = meta.results.map((r) => toFloat32([...readSafetensors(join(out, r.v_top_path_abs)).tensors.values()][0]));
    return { teacher, summary, maps, vtop, meta };
  };

  it("records every setting in summary.json", async () => {
    const { teacher, summary } = await run(1, { layers: "last:2", queries: "prefix", vtopLayer: "pre-norm" });
    teacher.dispose();
    expect(summary).toMatchObject({
      method: "attention",
      layers: "last:2",
      layers_used: [1, 2],
      queries: "prefix",
      gradient_recipe: null,
      tau: null,
      vtop_layer: "pre-norm",
      only_correct: false,
      count: 4,
      samples_total: 4,
    });
    const g = await run(1, { method: "gradient", gradientRecipe: "official", tau: 0.01 });
    g.teacher.dispose();
    expect(g.summary).toMatchObject({ method: "gradient", layers: null, queries: null, gradient_recipe: "official", tau: 0.01, vtop_layer: "final" });
  });

  it("a forced pass over all layers and the step's tokens gives the maps read while generating", async () => {
    const a = await run(2, {});
    a.teacher.dispose();
    // pre-norm V_top forces the forced pass; the maps must not move.
    const b = await run(2, { vtopLayer: "pre-norm" });
    b.teacher.dispose();
    a.maps.forEach((steps, i) => steps.forEach((p, k) => p.forEach((v, j) => expect(Math.abs(v - b.maps[i][k][j])).toBeLessThan(2e-4))));
  });

  it("V_top: final is the final RMSNorm of the pre-norm read-out", async () => {
    const a = await run(3, {});
    const b = await run(3, { vtopLayer: "pre-norm" });
    const d = a.teacher.config.decoder.hidden_size;
    const w = a.teacher.store.get("model.norm.weight").dataSync();
    for (let i = 0; i < a.vtop.length; i++)
      for (let r = 0; r < n; r++) {
        const pre = b.vtop[i].subarray(r * d, (r + 1) * d);
        const rms = Math.sqrt(pre.reduce((s, x) => s + x * x, 0) / d + 1e-6);
        for (let j = 0; j < d; j++) expect(a.vtop[i][r * d + j]).toBeCloseTo((pre[j] / rms) * w[j], 4);
      }
    // And they differ: the norm is not the identity on these states.
    expect(Math.abs(a.vtop[0][0] - b.vtop[0][0])).toBeGreaterThan(1e-4);
    a.teacher.dispose();
    b.teacher.dispose();
  });

  it("last:N with prefix queries averages exactly those layers over those rows, min-max normalised", async () => {
    const { teacher, maps } = await run(4, { layers: "last:1", queries: "prefix" });
    const generated = (await predictWithReadout(teacher, data.tokenizer, data, { quiet: true }, false)).predictions.map((p) => p.generated);
    const rows = readoutRows(data.tokenizer, data, generated, n);
    const i = 0;
    const r = rows[i];
    const want = tf.tidy(() => {
      const ids = tf.tensor2d([r.ids], [1, r.ids.length], "int32");
      const patches = patchBatch([data.images[r.index]], data.info.size, data.info.patch);
      const dec = decoderForward(teacher, embedWithImage(teacher, ids, projectVision(teacher, visionForward(teacher, patches))), { returnProbs: true });
      // Layer 2 alone, heads averaged, rows <vision_end> .. step 1's last word.
      const end = r.promptLength + r.spans[0].end;
      const block = tf.mean(tf.slice(dec.probs![2], [0, 0, IMAGE_START + n, IMAGE_START], [1, -1, end - IMAGE_START - n, n]), [0, 1, 2]);
      return Array.from(block.dataSync());
    });
    teacher.dispose();
    const lo = Math.min(...want);
    const hi = Math.max(...want);
    want.forEach((v, j) => expect(maps[i][0][j]).toBeCloseTo((v - lo) / (hi - lo), 3));
  });

  it("--only-correct keeps exactly the samples the teacher answers correctly", async () => {
    const teacher = buildVlm(tinyConfig(data.tokenizer.size), 5);
    const out = mkdtempSync(join(tmpdir(), "lavit-fid-oc-"));
    let summary;
    try {
      summary = await extractSignals(teacher, data.tokenizer, data, out, { method: "attention", topk: 4, tau: 0.05, quiet: true, onlyCorrect: true });
    } catch (e) {
      // An untrained teacher usually answers nothing right: then there is nothing to keep, said as a user error.
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toMatch(/--only-correct/);
      return;
    } finally {
      teacher.dispose();
    }
    expect(summary.only_correct).toBe(true);
    expect(summary.count).toBe(Math.round(summary.teacher_accuracy * summary.samples_total));
  });
});
