import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { decoderForward, embedWithImage, lmLogits, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { predict, summarise } from "../eval/evaluate.js";
import { writeSafetensors } from "../io/safetensors.js";
import { progress } from "../util/progress.js";
import { METADATA_FILE, type SignalResult } from "./layout.js";
import { forEachReadout, readoutRows, stepMap, type ReadoutRow } from "../eval/gaze.js";

export type SignalMethod = "attention" | "gradient";

export interface ExtractOptions {
  method: SignalMethod;
  topk: number;
  tau: number;
  batchSize?: number;
  quiet?: boolean;
  /** Where the folder will finally live, when it is built elsewhere first (paths are relative to it). */
  finalDir?: string;
}

export interface ExtractSummary {
  count: number;
  split: string;
  method: SignalMethod;
  topk: number;
  tau: number | null;
  grid: number;
  v_top_width: number;
  mean_steps: number;
  /** Mean fraction of each step's (sum-normalised) map on that step's ground-truth patches. */
  grounding_mass: number;
  /** Same, uniform map: the floor grounding_mass is compared against. */
  grounding_mass_uniform: number;
  teacher_accuracy: number;
}

function minMax(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
  const out = new Float32Array(v.length);
  const span = hi - lo;
  for (let i = 0; i < v.length; i++) out[i] = span > 0 ? (v[i] - lo) / span : 1;
  return out;
}

function softmaxTemp(v: Float32Array, tau: number): Float32Array {
  let hi = -Infinity;
  for (const x of v) hi = Math.max(hi, x);
  const out = new Float32Array(v.length);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += out[i] = Math.exp((v[i] - hi) / tau);
  for (let i = 0; i < v.length; i++) out[i] /= s;
  return out;
}

export function topkIndices(p: ArrayLike<number>, k: number): number[] {
  return [...Array(p.length).keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
}

/** Fraction of a map's mass on a set of patches. */
export function massOn(p: ArrayLike<number>, patches: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  if (total <= 0) return 0;
  let on = 0;
  for (const i of patches) on += p[i] ?? 0;
  return on / total;
}

/**
 * Runs the teacher on every sample (greedy rationale + answer), then reads its white-box
 * signals on its own output: per rationale step, a map over image tokens (attention from the
 * positions that produced the step's words, averaged over layers and heads, min-max
 * normalised; or the gradient saliency variant), and V_top, the last-layer hidden states at the
 * image positions. Writes the LaViT layout into `outDir` (which the caller makes atomic).
 */
export function extractSignals(teacher: Vlm, tok: Tokenizer, data: LoadedSplit, outDir: string, opts: ExtractOptions): ExtractSummary {
  const n = numPatches(teacher.config.vision);
  const grid = Math.round(Math.sqrt(n));
  const preds = predict(teacher, tok, data, { quiet: opts.quiet });
  const rows = readoutRows(tok, data, preds.map((p) => p.generated), n, 0);
  mkdirSync(join(outDir, "trajectories"), { recursive: true });
  mkdirSync(join(outDir, "v_top"), { recursive: true });
  const results: SignalResult[] = [];
  let massSum = 0;
  let uniformSum = 0;
  let stepCount = 0;
  const bar = progress(`extract ${data.split}`, rows.length, { quiet: opts.quiet });
  forEachReadout(teacher, data, rows, tok.id("<pad>"), opts.method === "attention", opts.batchSize ?? 16, (batch) => {
    const { rows: chunk, patches, ids, imageHidden: vTop, width: dim } = batch;
    const grads = opts.method === "gradient" ? gradientMaps(teacher, patches, ids, chunk, tok.size) : null;
    for (const [i, r] of chunk.entries()) {
      const sample = data.samples[r.index];
      const steps = r.stepPositions.map((positions, k) => {
        let p: Float32Array;
        if (!grads) {
          p = minMax(stepMap(batch, i, positions, n));
        } else {
          p = softmaxTemp(minMax(grads![k].subarray(i * n, (i + 1) * n)), opts.tau);
        }
        const gt = sample.rationale[k]?.patches ?? sample.rationale.flatMap((x) => x.patches);
        massSum += massOn(p, gt);
        uniformSum += gt.length / n;
        stepCount++;
        return { p_t: Array.from(p, (x) => Math.round(x * 1e6) / 1e6), p_topk_idx: topkIndices(p, opts.topk), method: opts.method, text: r.words.slice(r.spans[k].start, r.spans[k].end).join(" ") };
      });
      const trajRel = `trajectories/${sample.id}.json`;
      const vRel = `v_top/${sample.id}.safetensors`;
      writeFileSync(join(outDir, trajRel), JSON.stringify({ id: sample.id, grid, steps }) + "\n");
      writeSafetensors(join(outDir, vRel), { v_top: { dtype: "F32", shape: [n, dim], data: vTop.slice(i * n * dim, (i + 1) * n * dim) } });
      results.push({
        id: sample.id,
        question: sample.question,
        image_relative_path: relative(opts.finalDir ?? outDir, resolve(data.dir, data.split, sample.image)),
        ground_truth_enriched: preds[r.index].generated.replace(/\s*<eos>\s*$/, ""),
        answer: sample.answer,
        v_top_path_abs: vRel,
        attention_path_abs: trajRel,
      });
    }
    bar.tick(chunk.length);
  });
  bar.stop();
  const summary: ExtractSummary = {
    count: rows.length,
    split: data.split,
    method: opts.method,
    topk: opts.topk,
    tau: opts.method === "gradient" ? opts.tau : null,
    grid,
    v_top_width: teacher.config.decoder.hidden_size,
    mean_steps: stepCount / Math.max(1, rows.length),
    grounding_mass: massSum / Math.max(1, stepCount),
    grounding_mass_uniform: uniformSum / Math.max(1, stepCount),
    teacher_accuracy: summarise(data.split, preds).accuracy,
  };
  writeFileSync(join(outDir, METADATA_FILE), JSON.stringify({ results, teacher_hidden_size: teacher.config.decoder.hidden_size, grid, method: opts.method }, null, 1) + "\n");
  writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}

/** |d NLL(step k's words) / d image embeddings| averaged over the feature axis: [b * n] per step. */
function gradientMaps(teacher: Vlm, patches: tf.Tensor3D, ids: tf.Tensor2D, chunk: readonly ReadoutRow[], vocab: number): Float32Array[] {
  const [b, t] = ids.shape;
  const maxSteps = Math.max(...chunk.map((r) => r.stepPositions.length));
  const image = tf.tidy(() => projectVision(teacher, visionForward(teacher, patches)));
  const n = image.shape[1];
  const labels = new Int32Array(b * t);
  chunk.forEach((r, i) => r.ids.forEach((id, j) => j > 0 && (labels[i * t + j - 1] = id)));
  const out: Float32Array[] = [];
  for (let k = 0; k < maxSteps; k++) {
    const weights = new Float32Array(b * t);
    chunk.forEach((r, i) => r.stepPositions[k]?.forEach((q) => (weights[i * t + q] = 1)));
    const g = tf.tidy(() => {
      const lab = tf.tensor1d(labels, "int32");
      const w = tf.tensor1d(weights);
      const f = (img: tf.Tensor) => {
        const dec = decoderForward(teacher, embedWithImage(teacher, ids, img as tf.Tensor3D));
        const logp = tf.logSoftmax(tf.reshape(lmLogits(teacher, dec.hidden), [-1, vocab]));
        return tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(logp, tf.oneHot(lab, vocab)), -1), w))) as tf.Scalar;
      };
      const grad = tf.grad(f)(image);
      return tf.reshape(tf.mean(tf.abs(grad), -1), [b * n]);
    });
    out.push(g.dataSync() as Float32Array);
    g.dispose();
  }
  image.dispose();
  return out;
}
