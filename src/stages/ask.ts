import { initEngine, scoped, tf } from "../engine/index.js";
import { withDefaults } from "./defaults.js";
import { UserError } from "../errors.js";
import { encodePng } from "../data/png.js";
import { readSizedImage } from "../data/images.js";
import { probeBias } from "../eval/probes.js";
import { loadWeightsInto, readModelFolder } from "../model/checkpoint.js";
import { numPatches } from "../model/config.js";
import { generateGreedy } from "../model/generate.js";
import { imageRowsAttention } from "../model/readout.js";
import { parseAnswer, promptIds } from "../model/sequence.js";
import { buildVlm, decoderForward, embedWithImage, patchify, projectVision, visionForward } from "../model/vlm.js";
import { heatmapPanel, tile } from "../report/heatmap.js";
import { topkIndices } from "../signals/maps.js";
import { writeFileAtomic } from "../util/atomic.js";
import { input, outputFile, withOutputs, type IoSpec } from "../util/io-guard.js";
import { z } from "zod";
import { flag, named, positiveInt, text, validateOptions } from "./options-schema.js";

export const ASK_DEFAULTS = { top: 5, maxNewTokens: 32 } as const;

export interface AskOptions {
  /** The question, in the benchmark's words (e.g. "what color is the circle ?"). */
  question: string;
  model: string;
  /** PNG of the model's size (no silent resizing). */
  image: string;
  /** Patches listed per latent step. */
  top?: number;
  /** Write the image with each latent step's attention over it. */
  heatmap?: string;
  maskLatents?: boolean;
  noImageForAnswer?: boolean;
  /** Replace an existing --heatmap file. */
  force?: boolean;
}

/** What `ask` reads and writes (the output guard's declaration; the CLI shares it). */
export const ASK_IO: IoSpec = { model: input(), image: input(), heatmap: outputFile() };

/** The options of `ask` and their ranges (the CLI's parsers read them from here). */
export const askOptionsSchema = named(
  z
    .object({
      question: z.string(),
      model: text(),
      image: text(),
      top: positiveInt().optional(),
      heatmap: text().optional(),
      force: flag().optional(),
      maskLatents: flag().optional(),
      noImageForAnswer: flag().optional(),
    })
    .strict(),
  "ask option",
);

export interface AskResult {
  question: string;
  answer: string | null;
  generated: string;
  latent_steps: { latent: string; top_patches: { patch: number; row: number; col: number; weight: number }[] }[];
}

/** Answers one question about one image, with where each latent thought looks. */
export async function ask(opts: AskOptions): Promise<AskResult> {
  validateOptions(askOptionsSchema, opts);
  const o = withDefaults(ASK_DEFAULTS, opts);
  if (!o.question.trim()) throw new UserError("the question is empty");
  return withOutputs(ASK_IO, o, () => askWith(o));
}

async function askWith(o: AskOptions & typeof ASK_DEFAULTS): Promise<AskResult> {
  await initEngine();
  const folder = readModelFolder(o.model);
  const cfg = folder.config;
  const img = readSizedImage(o.image, cfg.vision.image_size, { shownAs: `--image ${o.image}`, whose: "the model's image size: resize it first" });
  const vlm = buildVlm(cfg, 0);
  let maps: Float32Array[];
  let text: string;
  const n = numPatches(cfg.vision);
  const grid = Math.round(Math.sqrt(n));
  const K = cfg.latent?.num_latents ?? 0;
  try {
    loadWeightsInto(vlm.store, folder.weights);
    const prompt = promptIds(folder.tokenizer, n, o.question, K);
    const patches = tf.tensor3d(patchify(img.rgb, cfg.vision.image_size, cfg.vision.patch_size), [1, n, cfg.vision.patch_size ** 2 * 3]);
    try {
      const bias = probeBias(prompt.length, K, n, { maskLatents: o.maskLatents, noImageForAnswer: o.noImageForAnswer });
      const generated = generateGreedy(vlm, patches, [prompt], { maxNewTokens: o.maxNewTokens, eos: folder.tokenizer.id("<eos>"), biasFor: bias })[0];
      text = folder.tokenizer.decode(generated);
      maps = scoped(() => {
        if (!K) return [] as Float32Array[];
        const ids = tf.tensor2d([prompt], [1, prompt.length], "int32");
        const out = decoderForward(vlm, embedWithImage(vlm, ids, projectVision(vlm, visionForward(vlm, patches))), { returnProbs: true });
        const rows = imageRowsAttention(out.probs!, prompt.length - K, K, n).dataSync() as Float32Array;
        return Array.from({ length: K }, (_, k) => Float32Array.from(rows.subarray(k * n, (k + 1) * n)));
      });
    } finally {
      patches.dispose();
    }
  } finally {
    vlm.dispose();
  }
  const latentSteps = maps.map((m, k) => ({
    latent: `<lvr${k + 1}>`,
    top_patches: topkIndices(m, o.top).map((p) => ({ patch: p, row: Math.floor(p / grid), col: p % grid, weight: +m[p].toFixed(4) })),
  }));
  if (o.heatmap) {
    const panels = [heatmapPanel(img.rgb, cfg.vision.image_size, grid, null), ...maps.map((m) => heatmapPanel(img.rgb, cfg.vision.image_size, grid, m))];
    const t = tile(panels, panels.length);
    writeFileAtomic(o.heatmap, encodePng(t.rgb, t.width, t.height));
  }
  return { question: o.question, answer: parseAnswer(text), generated: text.replace(/\s*<eos>\s*$/, ""), latent_steps: latentSteps };
}
