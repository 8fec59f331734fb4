import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { tf } from "../engine/index.js";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import { decoderForward, embedWithImage, lmLogits, patchBatch, projectVision, visionForward, type Vlm } from "../model/vlm.js";
import { predictWithReadout, summarise } from "../eval/evaluate.js";
import { writeSafetensors } from "../io/safetensors.js";
import { progress } from "../util/progress.js";
import { METADATA_FILE, type SignalResult, type SignalsLayout } from "./layout.js";
import { massOn, minMax, softmaxTemp, stepPatches, topkIndices } from "./maps.js";
import type { Sample } from "../data/manifest.js";
import { officialWriter } from "./official-writer.js";
import { readoutRows, spanAttention, stepSpans, type ReadoutRow } from "../eval/gaze.js";

export type SignalMethod = "attention" | "gradient";

export interface ExtractOptions {
  method: SignalMethod;
  topk: number;
  tau: number;
  batchSize?: number;
  quiet?: boolean;
  /** Where the folder will finally live, when it is built elsewhere first (paths are relative to it). */
  finalDir?: string;
  /** lavit's layout (safetensors, relative paths) or the official one (.pth, absolute paths). */
  layout?: SignalsLayout;
  /** V_top dtype in the official layout: bf16 as the official builder stores it, or fp32 (exact). */
  vtopDtype?: "bf16" | "fp32";
}

/** One sample's extracted signals, handed to the layout's writer. */
export interface ExtractedSample {
  /** Index of the sample in its split. */
  index: number;
  sample: Sample;
  steps: { p_t: number[]; p_topk_idx: number[]; method: SignalMethod; text: string }[];
  /** [rows, dim], row-major. */
  vTop: Float32Array;
  rows: number;
  dim: number;
  groundTruth: string;
  /** Absolute path of the sample's image. */
  imageFile: string;
}

export interface SignalsWriterOptions {
  outDir: string;
  finalDir: string;
  method: SignalMethod;
  tau: number;
  split: string;
  grid: number;
  teacherHiddenSize: number;
}

export interface SignalsWriter {
  add(s: ExtractedSample): void;
  /** Writes the metadata once every sample is in. */
  finish(): void;
}

/** lavit's layout: metadata.json, trajectories/<id>.json, v_top/<id>.safetensors; paths relative to the folder. */
export function lavitWriter(o: SignalsWriterOptions): SignalsWriter {
  mkdirSync(join(o.outDir, "trajectories"), { recursive: true });
  mkdirSync(join(o.outDir, "v_top"), { recursive: true });
  const results: SignalResult[] = [];
  return {
    add(s) {
      const trajRel = `trajectories/${s.sample.id}.json`;
      const vRel = `v_top/${s.sample.id}.safetensors`;
      writeFileSync(join(o.outDir, trajRel), JSON.stringify({ id: s.sample.id, grid: o.grid, steps: s.steps }) + "\n");
      writeSafetensors(join(o.outDir, vRel), { v_top: { dtype: "F32", shape: [s.rows, s.dim], data: s.vTop } });
      results.push({
        id: s.sample.id,
        question: s.sample.question,
        image_relative_path: relative(o.finalDir, s.imageFile),
        ground_truth_enriched: s.groundTruth,
        answer: s.sample.answer,
        v_top_path_abs: vRel,
        attention_path_abs: trajRel,
      });
    },
    finish() {
      writeFileSync(join(o.outDir, METADATA_FILE), JSON.stringify({ results, teacher_hidden_size: o.teacherHiddenSize, grid: o.grid, method: o.method }, null, 1) + "\n");
    },
  };
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
  /** grounding_mass per question family (steps of that family's samples). */
  grounding_mass_by_family: Record<string, number>;
  teacher_accuracy: number;
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
  // Attention and V_top are read while the teacher generates; gradients need a forced pass.
  const { predictions: preds, tokenAttention, imageHidden } = predictWithReadout(teacher, tok, data, { quiet: opts.quiet }, opts.method === "attention");
  const dim = teacher.config.decoder.hidden_size;
  const writerOpts = { outDir, finalDir: opts.finalDir ?? outDir, method: opts.method, tau: opts.tau, split: data.split, grid, teacherHiddenSize: dim };
  const writer = opts.layout === "official" ? officialWriter({ ...writerOpts, vtopDtype: opts.vtopDtype ?? "bf16" }) : lavitWriter(writerOpts);
  let massSum = 0;
  let uniformSum = 0;
  let stepCount = 0;
  const byFamily = new Map<string, { mass: number; steps: number }>();
  const bar = progress(`extract ${data.split}`, data.samples.length, { quiet: opts.quiet });
  const write = (index: number, maps: readonly Float32Array[]) => {
    const sample = data.samples[index];
    const { words, spans } = stepSpans(preds[index].generated);
    const steps = maps.map((p, k) => {
      const gt = stepPatches(sample, k);
      const mass = massOn(p, gt);
      massSum += mass;
      const fam = byFamily.get(sample.family) ?? { mass: 0, steps: 0 };
      fam.mass += mass;
      fam.steps++;
      byFamily.set(sample.family, fam);
      uniformSum += gt.length / n;
      stepCount++;
      return { p_t: Array.from(p, (x) => Math.round(x * 1e6) / 1e6), p_topk_idx: topkIndices(p, opts.topk), method: opts.method, text: words.slice(spans[k].start, spans[k].end).join(" ") };
    });
    writer.add({
      index,
      sample,
      steps,
      vTop: imageHidden[index],
      rows: n,
      dim,
      groundTruth: preds[index].generated.replace(/\s*<eos>\s*$/, ""),
      imageFile: resolve(data.dir, data.split, sample.image),
    });
    bar.tick();
  };
  if (opts.method === "attention") {
    preds.forEach((p, i) => write(i, stepSpans(p.generated).spans.map((span) => minMax(spanAttention(tokenAttention[i], span, n)))));
  } else {
    const rows = readoutRows(tok, data, preds.map((p) => p.generated), n);
    const batchSize = opts.batchSize ?? 16;
    for (let s = 0; s < rows.length; s += batchSize) {
      const chunk = rows.slice(s, s + batchSize);
      const grads = gradientMaps(teacher, data, chunk, tok);
      chunk.forEach((r, i) => write(r.index, r.stepPositions.map((_, k) => softmaxTemp(minMax(grads[k].subarray(i * n, (i + 1) * n)), opts.tau))));
    }
  }
  bar.stop();
  const summary: ExtractSummary = {
    count: data.samples.length,
    split: data.split,
    method: opts.method,
    topk: opts.topk,
    tau: opts.method === "gradient" ? opts.tau : null,
    grid,
    v_top_width: teacher.config.decoder.hidden_size,
    mean_steps: stepCount / Math.max(1, data.samples.length),
    grounding_mass: massSum / Math.max(1, stepCount),
    grounding_mass_uniform: uniformSum / Math.max(1, stepCount),
    grounding_mass_by_family: Object.fromEntries([...byFamily.keys()].sort().map((f) => [f, byFamily.get(f)!.mass / byFamily.get(f)!.steps])),
    teacher_accuracy: summarise(data.split, preds).accuracy,
  };
  writer.finish();
  writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}

/** |d NLL(step k's words) / d image embeddings| averaged over the feature axis: [b * n] per step. */
function gradientMaps(teacher: Vlm, data: LoadedSplit, chunk: readonly ReadoutRow[], tok: Tokenizer): Float32Array[] {
  const vocab = tok.size;
  const b = chunk.length;
  const t = Math.max(...chunk.map((r) => r.ids.length));
  const idsFlat = new Int32Array(b * t).fill(tok.id("<pad>"));
  chunk.forEach((r, i) => idsFlat.set(r.ids, i * t));
  const ids = tf.tensor2d(idsFlat, [b, t], "int32");
  const patches = patchBatch(chunk.map((r) => data.images[r.index]), data.info.size, data.info.patch);
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
  tf.dispose([image, ids, patches]);
  return out;
}
