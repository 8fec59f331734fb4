import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { LoadedSplit } from "../data/dataset.js";
import type { Tokenizer } from "../data/tokenizer.js";
import { numPatches } from "../model/config.js";
import type { Vlm } from "../model/vlm.js";
import { layersUsed, type LayerSpec } from "../model/readout.js";
import { UserError } from "../errors.js";
import { predictWithReadout, summarise } from "../eval/evaluate.js";
import { writeSafetensors } from "../io/safetensors.js";
import { progress } from "../util/progress.js";
import { METADATA_FILE, type SignalResult, type SignalsLayout } from "./layout.js";
import { massOn, minMax, stepPatches, topkIndices } from "./maps.js";
import { officialWriter } from "./official-writer.js";
import type { SignalsWriter, SignalsWriterOptions } from "./writer.js";

export type { ExtractedSample, SignalsWriter, SignalsWriterOptions } from "./writer.js";
import { forcedReadout, meanRows, stepQueryRows, type QuerySpan, type VtopLayer } from "./forced.js";
import { gradientStepMaps, type GradientRecipe } from "./gradient.js";
import { readoutRows, spanAttention, stepSpans } from "../eval/gaze.js";
import { breathe } from "../util/interrupt.js";

import type { ExtractionSettings, ExtractSummary, SignalMethod } from "./extract-summary.js";

export type { ExtractionSettings, ExtractSummary, SignalMethod } from "./extract-summary.js";

export interface ExtractOptions {
  method: SignalMethod;
  topk: number;
  tau: number;
  /** Decoder layers the attention maps average (default all). */
  layers?: LayerSpec;
  /** Query rows of a step's attention map (default: the step's own tokens). */
  queries?: QuerySpan;
  /** How gradient maps are made (default lavit). */
  gradientRecipe?: GradientRecipe;
  /** Where V_top is read (default: after the final norm). */
  vtopLayer?: VtopLayer;
  /** Keep only the samples the teacher answers correctly (the public pipeline's filter). */
  onlyCorrect?: boolean;
  batchSize?: number;
  quiet?: boolean;
  /** Where the folder will finally live, when it is built elsewhere first (paths are relative to it). */
  finalDir?: string;
  /** lavit's layout (safetensors, relative paths) or the official one (.pth, absolute paths). */
  layout?: SignalsLayout;
  /** V_top dtype in the official layout: bf16 as the official builder stores it, or fp32 (exact). */
  vtopDtype?: "bf16" | "fp32";
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
      writeFileSync(
        join(o.outDir, METADATA_FILE),
        JSON.stringify({ results, teacher_hidden_size: o.teacherHiddenSize, grid: o.grid, method: o.method }, null, 1) + "\n",
      );
    },
  };
}

/** The settings extracted signals carry when summary.json predates them: lavit's own defaults then. */
export const LAVIT_EXTRACTION: Omit<ExtractionSettings, "method" | "topk" | "tau" | "layers_used"> = {
  layers: "all",
  queries: "step",
  gradient_recipe: "lavit",
  vtop_layer: "final",
  only_correct: false,
};

/**
 * Runs the teacher on every sample (greedy rationale + answer), then reads its white-box
 * signals on its own output: per rationale step, a map over image tokens (attention from the
 * positions that produced the step's words, averaged over layers and heads, min-max
 * normalised; or the gradient saliency variant), and V_top, the last-layer hidden states at the
 * image positions. Writes the LaViT layout into `outDir` (which the caller makes atomic).
 */
export async function extractSignals(teacher: Vlm, tok: Tokenizer, data: LoadedSplit, outDir: string, opts: ExtractOptions): Promise<ExtractSummary> {
  const n = numPatches(teacher.config.vision);
  const grid = Math.round(Math.sqrt(n));
  const layerSpec = opts.layers ?? "all";
  const queries = opts.queries ?? "step";
  const vtopLayer = opts.vtopLayer ?? "final";
  const recipe = opts.gradientRecipe ?? "lavit";
  const attention = opts.method === "attention";
  const layers = layersUsed(layerSpec, teacher.config.decoder.num_layers);
  if (!layers) throw new UserError(`--layers ${layerSpec}: the teacher has ${teacher.config.decoder.num_layers} decoder layers`);
  // Generation reads all layers over each step's own tokens and V_top after the norm; anything else needs a forced pass.
  const forced = vtopLayer !== "final" || (attention && (layers.length !== teacher.config.decoder.num_layers || queries !== "step"));
  const { predictions: preds, tokenAttention, imageHidden } = await predictWithReadout(teacher, tok, data, { quiet: opts.quiet }, attention && !forced);
  const kept = preds.flatMap((p, i) => (!opts.onlyCorrect || p.correct ? [i] : []));
  if (!kept.length)
    throw new UserError(`--only-correct: the teacher answers none of the ${preds.length} samples of ${data.split} correctly, so no signals are left`);
  const dim = teacher.config.decoder.hidden_size;
  const writerOpts = { outDir, finalDir: opts.finalDir ?? outDir, method: opts.method, tau: opts.tau, split: data.split, grid, teacherHiddenSize: dim };
  const writer = opts.layout === "official" ? officialWriter({ ...writerOpts, vtopDtype: opts.vtopDtype ?? "bf16" }) : lavitWriter(writerOpts);
  let massSum = 0;
  let uniformSum = 0;
  let stepCount = 0;
  let groundedSteps = 0;
  const byFamily = new Map<string, { mass: number; steps: number }>();
  const bar = progress(`extract ${data.split}`, kept.length, { quiet: opts.quiet });
  const write = (index: number, maps: readonly Float32Array[], vTop: Float32Array) => {
    const sample = data.samples[index];
    const { words, spans } = stepSpans(preds[index].generated);
    const steps = maps.map((p, k) => {
      const gt = stepPatches(sample, k);
      stepCount++;
      // A step whose region is unknown (an imported sample without boxes) has no grounding mass.
      if (gt.length) {
        const mass = massOn(p, gt);
        massSum += mass;
        uniformSum += gt.length / n;
        groundedSteps++;
        if (sample.family !== undefined) {
          const fam = byFamily.get(sample.family) ?? { mass: 0, steps: 0 };
          fam.mass += mass;
          fam.steps++;
          byFamily.set(sample.family, fam);
        }
      }
      return {
        p_t: Array.from(p, (x) => Math.round(x * 1e6) / 1e6),
        p_topk_idx: topkIndices(p, opts.topk),
        method: opts.method,
        text: words.slice(spans[k].start, spans[k].end).join(" "),
      };
    });
    writer.add({
      index,
      sample,
      steps,
      vTop,
      rows: n,
      dim,
      groundTruth: preds[index].generated.replace(/\s*<eos>\s*$/, ""),
      imageFile: resolve(data.dir, data.split, sample.image),
    });
    bar.tick();
  };
  const allRows = readoutRows(
    tok,
    data,
    preds.map((p) => p.generated),
    n,
  );
  const rows = kept.map((i) => allRows[i]);
  const batchSize = opts.batchSize ?? 16;
  for (let s = 0; s < rows.length; s += batchSize) {
    const chunk = rows.slice(s, s + batchSize);
    const read = forced ? forcedReadout(teacher, data, chunk, { layers: attention ? layers : null, vtopLayer, pad: tok.id("<pad>") }) : null;
    const gradMaps = attention ? null : gradientStepMaps(teacher, data, chunk, tok, recipe, opts.tau);
    chunk.forEach((r, i) => {
      let maps: Float32Array[];
      if (gradMaps) maps = gradMaps[i];
      else if (read) maps = r.spans.map((_, k) => minMax(meanRows(read.attention![i], stepQueryRows(r, k, queries, n), n)));
      else maps = r.spans.map((span) => minMax(spanAttention(tokenAttention[r.index], span, n)));
      write(r.index, maps, read ? read.vTop[i] : imageHidden[r.index]);
    });
    await breathe();
  }
  bar.stop();
  const summary: ExtractSummary = {
    count: kept.length,
    samples_total: data.samples.length,
    split: data.split,
    method: opts.method,
    topk: opts.topk,
    tau: attention ? null : opts.tau,
    layers: attention ? layerSpec : null,
    layers_used: attention ? layers : null,
    queries: attention ? queries : null,
    gradient_recipe: attention ? null : recipe,
    vtop_layer: vtopLayer,
    only_correct: !!opts.onlyCorrect,
    grid,
    v_top_width: teacher.config.decoder.hidden_size,
    mean_steps: stepCount / Math.max(1, kept.length),
    grounding_mass: groundedSteps ? massSum / groundedSteps : null,
    grounding_mass_uniform: groundedSteps ? uniformSum / groundedSteps : null,
    grounding_mass_by_family: Object.fromEntries([...byFamily.keys()].sort().map((f) => [f, byFamily.get(f)!.mass / byFamily.get(f)!.steps])),
    teacher_accuracy: summarise(data.split, preds).accuracy,
  };
  writer.finish();
  writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}
